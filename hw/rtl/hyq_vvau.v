// Depthwise vector-vector multiply-accumulate (hyq's RTL for FINN's VVAU, noActivation=1).
//
// Stream order (FINN's VVAU): per output pixel, NF = Channels/PE channel groups one after
// the other; per group SF = K*K/SIMD input beats. Beat t = n*SF + s holds the kernel
// positions s*SIMD + i (i < SIMD) of the channels n*PE + p (p < PE); lane i*PE + p sits at
// bits [(i*PE+p)*IBITS +: IBITS]. The weight ROM has NF*SF words, word t holding the
// weights of beat t in the same lane order (WBITS each). After the SF beats of a group the
// PE sums leave as one output beat, lane p at bits [p*OBITS +: OBITS].
//
// One beat per cycle: stage 1 registers the beat together with its ROM word (a registered
// read, so the ROM may map to block RAM); stage 2 adds the SIMD products of each PE to its
// accumulator and, on the group's last beat, loads the output register. The whole pipeline
// stalls while the output register holds a beat the sink has not taken.
module hyq_vvau #(
    parameter PE = 1,
    parameter SIMD = 1,
    parameter NF = 1,             // Channels / PE
    parameter SF = 9,             // K*K / SIMD
    parameter IBITS = 8,
    parameter WBITS = 8,
    parameter ISIGNED = 0,
    parameter WSIGNED = 1,
    parameter ACCW = 20,          // accumulator width (signed, holds every partial sum)
    parameter OBITS = 19,         // output lane width (the accumulator's low bits)
    parameter WFILE = "weights.dat"
) (
    input  wire                        ap_clk,
    input  wire                        ap_rst_n,
    input  wire [PE*SIMD*IBITS-1:0]    s_axis_tdata,
    input  wire                        s_axis_tvalid,
    output wire                        s_axis_tready,
    output wire [PE*OBITS-1:0]         m_axis_tdata,
    output wire                        m_axis_tvalid,
    input  wire                        m_axis_tready
);
    localparam LANES = PE * SIMD;
    localparam DEPTH = NF * SF;
    localparam AW = DEPTH > 1 ? $clog2(DEPTH) : 1;
    localparam SW = SF > 1 ? $clog2(SF) : 1;

    // ---- weight ROM ----
    reg [LANES*WBITS-1:0] rom [0:DEPTH-1];
    initial $readmemh(WFILE, rom);

    // ---- handshake: everything moves when the output register is free or being taken ----
    reg  ovalid;
    wire adv  = !ovalid || m_axis_tready;
    wire take = s_axis_tvalid && adv;
    assign s_axis_tready = adv;
    assign m_axis_tvalid = ovalid;

    // ---- stage 1: beat, its weights, position in the group ----
    reg [AW-1:0] addr;
    reg [SW-1:0] sidx;
    reg [LANES*IBITS-1:0] x1;
    reg [LANES*WBITS-1:0] w1;
    reg v1, first1, last1;

    always @(posedge ap_clk) begin
        if (take) w1 <= rom[addr];
    end

    always @(posedge ap_clk) begin
        if (!ap_rst_n) begin
            addr <= 0;
            sidx <= 0;
            v1 <= 1'b0;
            first1 <= 1'b0;
            last1 <= 1'b0;
            x1 <= 0;
        end else if (adv) begin
            v1 <= s_axis_tvalid;
            if (s_axis_tvalid) begin
                x1 <= s_axis_tdata;
                first1 <= (sidx == 0);
                last1 <= (sidx == SF - 1);
                sidx <= (sidx == SF - 1) ? 0 : sidx + 1;
                addr <= (addr == DEPTH - 1) ? 0 : addr + 1;
            end
        end
    end

    // ---- stage 2: per PE, SIMD products into the accumulator; output register ----
    always @(posedge ap_clk) begin
        if (!ap_rst_n) ovalid <= 1'b0;
        else if (adv) ovalid <= v1 && last1;
    end

    genvar p;
    generate
        for (p = 0; p < PE; p = p + 1) begin : lane
            reg signed [ACCW-1:0] dot;
            reg signed [IBITS:0] xa;
            reg signed [WBITS:0] wa;
            reg signed [ACCW-1:0] acc;
            reg [OBITS-1:0] odata;
            integer i;
            always @(*) begin
                dot = 0;
                for (i = 0; i < SIMD; i = i + 1) begin
                    xa = {ISIGNED ? x1[(i*PE+p)*IBITS + IBITS-1] : 1'b0, x1[(i*PE+p)*IBITS +: IBITS]};
                    wa = {WSIGNED ? w1[(i*PE+p)*WBITS + WBITS-1] : 1'b0, w1[(i*PE+p)*WBITS +: WBITS]};
                    dot = dot + xa * wa;
                end
            end
            wire signed [ACCW-1:0] sum = (first1 ? {ACCW{1'b0}} : acc) + dot;
            always @(posedge ap_clk) begin
                if (adv && v1) begin
                    acc <= sum;
                    if (last1) odata <= sum[OBITS-1:0];
                end
            end
            assign m_axis_tdata[p*OBITS +: OBITS] = odata;
        end
    endgenerate
endmodule
