// I-BERT softmax (second-order polynomial exp: one multiplier), streaming: AXI-stream rows of N
// elements, PE per beat. Parameters are hyq.integer.softmax.SoftmaxParams fields (X0 = -x0,
// B = b, C = c, N_STEPS = n, EXP_SHIFT = s, EXP_BITS, RECIP_SHIFT = M, IN_SHIFT = k); hyq.eda.softmax
// computes them. Defaults: scale 0.01, 8-bit signed input, N = 16, PE = 1, 8-bit uint out.
module hyq_softmax_ibert #(
    parameter IN_BITS = 8,
    parameter IN_SIGNED = 1,
    parameter N = 16,
    parameter PE = 1,
    parameter OUT_BITS = 8,
    parameter OUT_LOG2 = 0,
    parameter X0 = 70,
    parameter B = 270,
    parameter C = 27920,
    parameter N_STEPS = 30,
    parameter EXP_SHIFT = 29,
    parameter EXP_BITS = 16,
    parameter RECIP_SHIFT = 32,
    parameter IN_SHIFT = 0
) (
    input  wire                   ap_clk,
    input  wire                   ap_rst_n,
    input  wire [PE*IN_BITS-1:0]  s_axis_tdata,
    input  wire                   s_axis_tvalid,
    output wire                   s_axis_tready,
    output wire [PE*OUT_BITS-1:0] m_axis_tdata,
    output wire                   m_axis_tvalid,
    input  wire                   m_axis_tready
);
    hyq_softmax_core #(.METHOD(1), .IN_BITS(IN_BITS), .IN_SIGNED(IN_SIGNED), .N(N), .PE(PE),
        .OUT_BITS(OUT_BITS), .OUT_LOG2(OUT_LOG2), .X0(X0), .B(B), .C(C), .N_STEPS(N_STEPS),
        .EXP_SHIFT(EXP_SHIFT), .EXP_BITS(EXP_BITS), .RECIP_SHIFT(RECIP_SHIFT),
        .IN_SHIFT(IN_SHIFT)) core (
        .ap_clk(ap_clk), .ap_rst_n(ap_rst_n),
        .s_axis_tdata(s_axis_tdata), .s_axis_tvalid(s_axis_tvalid), .s_axis_tready(s_axis_tready),
        .m_axis_tdata(m_axis_tdata), .m_axis_tvalid(m_axis_tvalid), .m_axis_tready(m_axis_tready));
endmodule
