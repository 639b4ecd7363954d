// hyq_requant: per-channel integer requantization, the circuit of hyq.integer.requant.requant.
//
//   q = x * M[c] + B[c];  r = q >>> SHIFT
//   r = r - 1 where q's low SHIFT bits < W[c] and r + OFFSET is odd   (ties to even; TIE_BITS > 0 only)
//   y = clip(r, 0, N) + OFFSET
//
// PE lanes; input order is FINN's folded layout (beat f of a pixel carries channels
// f*PE .. f*PE+PE-1, f = 0 .. NF-1). M (unsigned, M_BITS) and B (signed, B_BITS) of channel
// c sit at bits [c*M_BITS +: M_BITS] of MULS and [c*B_BITS +: B_BITS] of BIASES: per lane
// a constant ROM of NF words read by the fold counter. x * M + B is computed in SUM_BITS
// (the caller guarantees it holds every value over the input range), shifted
// arithmetically, clipped to [0, N] and offset into the OUT_BITS output code. With
// TIE_BITS > 0, W (unsigned, TIE_BITS) of channel c sits at [c*TIE_BITS +: TIE_BITS] of TIES.
//
// Two register stages that advance together whenever the output register is free (or
// being read): stage 1 holds x, M and B (a DSP's A/B/C registers), stage 2 the clipped
// code. One beat per cycle under no backpressure; TREADY of the input is that enable.
module hyq_requant #(
    parameter integer PE        = 1,
    parameter integer NF        = 1,   // channel folds (channels / PE)
    parameter integer IN_BITS   = 8,
    parameter integer IN_SIGNED = 1,
    parameter integer M_BITS    = 8,
    parameter integer B_BITS    = 8,
    parameter integer SUM_BITS  = 17,
    parameter integer SHIFT     = 8,
    parameter integer N         = 255,
    parameter integer OFFSET    = 0,
    parameter integer OUT_BITS  = 8,
    parameter [PE*NF*M_BITS-1:0] MULS   = 0,
    parameter [PE*NF*B_BITS-1:0] BIASES = 0,
    parameter integer TIE_BITS  = 0,   // 0: no tie term
    parameter [PE*NF*(TIE_BITS > 0 ? TIE_BITS : 1)-1:0] TIES = 0
) (
    input  wire                   ap_clk,
    input  wire                   ap_rst_n,
    input  wire [PE*IN_BITS-1:0]  s_axis_tdata,
    input  wire                   s_axis_tvalid,
    output wire                   s_axis_tready,
    output reg  [PE*OUT_BITS-1:0] m_axis_tdata,
    output wire                   m_axis_tvalid,
    input  wire                   m_axis_tready
);
    localparam integer FB = NF > 1 ? $clog2(NF) : 1;
    localparam integer RW = SUM_BITS > SHIFT ? SUM_BITS - SHIFT : 1;
    localparam integer WB = TIE_BITS > 0 ? TIE_BITS : 1;
    localparam [0:0] OFF_ODD = OFFSET & 1;

    reg v1, v2;
    wire en = !v2 || m_axis_tready;
    assign s_axis_tready = en;
    assign m_axis_tvalid = v2;
    wire take = s_axis_tvalid && en;

    reg [FB-1:0] fold;
    always @(posedge ap_clk) begin
        if (!ap_rst_n) begin
            fold <= {FB{1'b0}};
            v1 <= 1'b0;
            v2 <= 1'b0;
        end else if (en) begin
            v1 <= s_axis_tvalid;
            v2 <= v1;
            if (s_axis_tvalid)
                fold <= (NF == 1 || fold == NF - 1) ? {FB{1'b0}} : fold + 1'b1;
        end
    end

    genvar i;
    generate
        for (i = 0; i < PE; i = i + 1) begin : lane
            reg [IN_BITS-1:0] x1;
            reg [M_BITS-1:0]  m1;
            reg [B_BITS-1:0]  b1;
            reg [WB-1:0]      w1;
            // this lane's (M, B, W) for every fold: a constant ROM in LUTs ("logic": Yosys maps it to LUT6/MUXF, not LUTRAM)
            (* rom_style = "logic" *) reg [M_BITS+B_BITS+WB-1:0] rom [0:NF-1];
            integer f;
            initial
                for (f = 0; f < NF; f = f + 1)
                    rom[f] = {MULS[(f*PE+i)*M_BITS +: M_BITS], BIASES[(f*PE+i)*B_BITS +: B_BITS],
                              TIE_BITS > 0 ? TIES[(f*PE+i)*WB +: WB] : {WB{1'b0}}};
            always @(posedge ap_clk) begin
                if (take) begin
                    x1 <= s_axis_tdata[i*IN_BITS +: IN_BITS];
                    {m1, b1, w1} <= rom[NF == 1 ? 0 : fold];
                end
            end
            wire signed [IN_BITS:0] xs = {IN_SIGNED != 0 && x1[IN_BITS-1], x1};
            wire signed [M_BITS:0]  ms = {1'b0, m1};
            wire signed [B_BITS-1:0] bs = b1;
            wire signed [SUM_BITS-1:0] q = xs * ms + bs;
            wire signed [RW-1:0] r0 = q >>> SHIFT;
            wire signed [RW:0] r;  // one bit wider: r0 - 1 never wraps
            if (TIE_BITS > 0 && SHIFT > 0) begin : tie
                wire t = ({1'b0, q[SHIFT-1:0]} < w1) && (r0[0] ^ OFF_ODD);
                assign r = t ? r0 - 1 : r0;
            end else begin : no_tie
                assign r = r0;
            end
            wire [OUT_BITS-1:0] y = (r < 0) ? 0 : (r > N) ? N : r;
            always @(posedge ap_clk)
                if (en) m_axis_tdata[i*OUT_BITS +: OUT_BITS] <= y + OFFSET;
        end
    endgenerate
endmodule
