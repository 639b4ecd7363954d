// Tensor reorder buffer ("outer shuffle") for FINN's OuterShuffle layer.
//
// One beat is one SIMD group of W bits, moved whole. A tensor of N beats is written in
// input order into one of two banks (ping-pong) while the other bank is read in the
// permuted order, so consecutive tensors stream at one beat per cycle (II = N).
//
// Read address generation: ND nested counters, dimension 0 innermost. Counter d runs
// 0..CNT_LAST[d]; when it is the innermost counter that does not wrap, the read address
// (which includes the bank offset) advances by ADDR_INC[d] (two's complement, 32 bits;
// the increments are computed in Python from the input strides of the permuted
// dimensions). When all counters wrap the tensor is done and the address jumps to the
// other bank's base.
//
// AXI-stream on both sides; the registered memory output with read enable is the output
// register, held while the sink stalls. BLOCK_RAM selects the memory style (1: block RAM,
// 0: distributed RAM).
module hyq_outer_shuffle #(
    parameter integer W = 8,
    parameter integer N = 16,
    parameter integer ND = 1,
    parameter [32*ND-1:0] CNT_LAST = 0,
    parameter [32*ND-1:0] ADDR_INC = 1,
    parameter integer BLOCK_RAM = 0
) (
    input  wire         ap_clk,
    input  wire         ap_rst_n,
    input  wire [W-1:0] s_axis_tdata,
    input  wire         s_axis_tvalid,
    output wire         s_axis_tready,
    output wire [W-1:0] m_axis_tdata,
    output reg          m_axis_tvalid,
    input  wire         m_axis_tready
);
    localparam integer DEPTH = 2 * N;
    localparam integer AW = (DEPTH <= 2) ? 1 : $clog2(DEPTH);
    localparam [AW-1:0] BANK1 = N;

    // ---- bank state ----
    reg [1:0] full;          // bank b holds a complete tensor not yet read
    reg       wb, rb;        // bank being written / read
    reg [AW-1:0] waddr;      // 0 .. 2N-1, bank 0 below N
    reg [AW-1:0] raddr;

    // ---- write side ----
    assign s_axis_tready = ~full[wb];
    wire wr = s_axis_tvalid & ~full[wb];
    wire wr_last = wr & (waddr == N - 1 || waddr == DEPTH - 1);

    // ---- read side: counters ----
    wire advance = ~m_axis_tvalid | m_axis_tready;
    wire rd = advance & full[rb];
    wire [ND-1:0] at_last;   // counter d at its last value
    reg  [ND-1:0] step;      // counter d advances: all inner counters wrap (and a read)
    reg           rd_last;   // all counters wrap: the tensor's last beat is read
    reg  [AW-1:0] inc;       // increment of the innermost counter that does not wrap
    reg           c;
    integer k;
    always @(*) begin
        c = rd;
        inc = {AW{1'b0}};
        for (k = 0; k < ND; k = k + 1) begin
            step[k] = c;
            if (c & ~at_last[k]) inc = ADDR_INC[32*k +: AW];
            c = c & at_last[k];
        end
        rd_last = c;
    end
    genvar d;
    generate
        for (d = 0; d < ND; d = d + 1) begin : dim
            localparam [31:0] L = CNT_LAST[32*d +: 32];
            localparam integer CW = (L < 2) ? 1 : $clog2(L + 1);
            reg [CW-1:0] cnt;
            assign at_last[d] = (cnt == L[CW-1:0]);
            always @(posedge ap_clk) begin
                if (!ap_rst_n) cnt <= 0;
                else if (step[d]) cnt <= at_last[d] ? {CW{1'b0}} : cnt + 1'b1;
            end
        end
    endgenerate

    always @(posedge ap_clk) begin
        if (!ap_rst_n) begin
            full <= 2'b00;
            wb <= 1'b0;
            rb <= 1'b0;
            waddr <= 0;
            raddr <= 0;
            m_axis_tvalid <= 1'b0;
        end else begin
            if (wr) begin
                waddr <= (waddr == DEPTH - 1) ? {AW{1'b0}} : waddr + 1'b1;
                if (wr_last) wb <= ~wb;
            end
            if (rd) begin
                if (rd_last) begin
                    rb <= ~rb;
                    raddr <= rb ? {AW{1'b0}} : BANK1;
                end else begin
                    raddr <= raddr + inc;
                end
            end
            // the banks written and read in one cycle differ (one is full, the other not)
            if (wr_last) full[wb] <= 1'b1;
            if (rd_last) full[rb] <= 1'b0;
            if (advance) m_axis_tvalid <= full[rb];
        end
    end

    // ---- memory: one write port, one registered read port with enable ----
    reg [W-1:0] rdata;
    generate
        if (BLOCK_RAM) begin : bram
            (* ram_style = "block" *) reg [W-1:0] mem [0:DEPTH-1];
            always @(posedge ap_clk) begin
                if (wr) mem[waddr] <= s_axis_tdata;
                if (rd) rdata <= mem[raddr];
            end
        end else begin : lutram
            (* ram_style = "distributed" *) reg [W-1:0] mem [0:DEPTH-1];
            always @(posedge ap_clk) begin
                if (wr) mem[waddr] <= s_axis_tdata;
                if (rd) rdata <= mem[raddr];
            end
        end
    endgenerate
    assign m_axis_tdata = rdata;
endmodule
