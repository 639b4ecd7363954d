// hyq_lookup: a table activation. Each of PE lanes maps an IN_BITS input code to the
// OUT_BITS output code TABLE[code - min code]; one beat per cycle, one register stage
// (the ROM's synchronous read), full throughput under backpressure.
// TABLE packs entry i in bits [i*OUT_BITS +: OUT_BITS]; entry 0 is the smallest code
// (-2^(IN_BITS-1) when IN_SIGNED, else 0). USE_BRAM selects block RAM, else a ROM in LUTs (what Vivado calls distributed ROM).
// Every lane has its own ROM copy (a BRAM's second port is not shared between lanes).
module hyq_lookup #(
    parameter PE = 1,
    parameter IN_BITS = 8,
    parameter IN_SIGNED = 1,
    parameter OUT_BITS = 8,
    parameter USE_BRAM = 0,
    parameter [(1 << IN_BITS) * OUT_BITS - 1:0] TABLE = 0
) (
    input  wire ap_clk,
    input  wire ap_rst_n,
    input  wire [PE * IN_BITS - 1:0] s_axis_tdata,
    input  wire s_axis_tvalid,
    output wire s_axis_tready,
    output wire [PE * OUT_BITS - 1:0] m_axis_tdata,
    output wire m_axis_tvalid,
    input  wire m_axis_tready
);
    localparam DEPTH = 1 << IN_BITS;
    localparam [IN_BITS - 1:0] FLIP = IN_SIGNED ? (1 << (IN_BITS - 1)) : 0;

    reg m_valid;
    wire en = !m_valid || m_axis_tready;
    assign s_axis_tready = en;
    assign m_axis_tvalid = m_valid;

    always @(posedge ap_clk) begin
        if (!ap_rst_n) m_valid <= 1'b0;
        else if (en) m_valid <= s_axis_tvalid;
    end

    genvar p;
    generate
        for (p = 0; p < PE; p = p + 1) begin : lane
            // code - min code: for a two's complement code, its sign bit inverted
            wire [IN_BITS - 1:0] addr = s_axis_tdata[p * IN_BITS +: IN_BITS] ^ FLIP;
            reg [OUT_BITS - 1:0] q;
            integer i;
            if (USE_BRAM) begin : bram
                (* ram_style = "block", rom_style = "block" *) reg [OUT_BITS - 1:0] rom [0:DEPTH - 1];
                initial for (i = 0; i < DEPTH; i = i + 1) rom[i] = TABLE[i * OUT_BITS +: OUT_BITS];
                always @(posedge ap_clk) if (en) q <= rom[addr];
            end else begin : luts
                (* rom_style = "logic" *) reg [OUT_BITS - 1:0] rom [0:DEPTH - 1];
                initial for (i = 0; i < DEPTH; i = i + 1) rom[i] = TABLE[i * OUT_BITS +: OUT_BITS];
                always @(posedge ap_clk) if (en) q <= rom[addr];
            end
            assign m_axis_tdata[p * OUT_BITS +: OUT_BITS] = q;
        end
    endgenerate
endmodule
