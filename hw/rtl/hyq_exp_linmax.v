// HyQ LinMax integer exp of d = x - max(x) <= 0 (hyq.integer.softmax, steps 2-6):
// range reduction by x0 = -X0, then the straight line z = r + b (an adder, no multiplier),
// then e = floor(z * 2^(N_STEPS - q - EXP_SHIFT)).
module hyq_exp_linmax #(
    parameter IN_BITS = 8,
    parameter X0 = 70,
    parameter B = 135,
    parameter C = 0,          // unused; uniform parameter list across exp units
    parameter N_STEPS = 30,
    parameter EXP_SHIFT = 22,
    parameter EXP_BITS = 16
) (
    input  wire signed [IN_BITS:0] d,
    output wire [EXP_BITS-1:0]     e,
    output wire [EXP_BITS-1:0]     zm,   // e >> (N_STEPS - EXP_SHIFT - q if > 0): z, narrowed
    output wire [7:0]              qa    // the part of q the left shift absorbs: min(q, LSH)
);
    localparam UW = IN_BITS;                         // u = -d in [0, 2^IN_BITS - 1]
    localparam U_MAX = (1 << IN_BITS) - 1;
    localparam Q_MAX = (U_MAX / X0 < N_STEPS) ? U_MAX / X0 : N_STEPS;
    localparam QW = (Q_MAX > 0) ? $clog2(Q_MAX + 1) : 1;
    localparam RW = (X0 > 1) ? $clog2(X0) : 1;
    localparam ZW = $clog2(B + 1);                   // z in [1, b]
    localparam LSH = (N_STEPS > EXP_SHIFT) ? N_STEPS - EXP_SHIFT : 0;
    localparam RSH = (EXP_SHIFT > N_STEPS) ? EXP_SHIFT - N_STEPS : 0;

    wire [IN_BITS:0] nd = -d;
    wire [QW-1:0] q;
    wire [RW-1:0] rem;
    hyq_range_reduce #(.UW(UW), .X0(X0), .N_STEPS(N_STEPS), .Q_MAX(Q_MAX), .QW(QW), .RW(RW))
        rr (.u(nd[UW-1:0]), .q(q), .rem(rem));

    wire [ZW-1:0] z = B - rem;                       // r + b with r = -rem
    wire [ZW+LSH-1:0] zx = z;                        // zero-extended
    wire [ZW+LSH-1:0] zs = (zx << LSH) >> RSH;         // z * 2^(N_STEPS - EXP_SHIFT)
    wire [ZW+LSH-1:0] ez = zs >> q;
    assign e = ez[EXP_BITS-1:0];
    // Mantissa form for the output stage: e = zm << (LSH - qa), so e * recip is the
    // narrow product zm * recip shifted (hyq_out_uint). zm <= e fits EXP_BITS bits.
    wire [QW-1:0] qa_w = (q > LSH) ? LSH : q;
    wire [ZW-1:0] zr = z >> RSH;
    wire [ZW-1:0] zmw = zr >> (q - qa_w);
    assign zm = zmw;
    assign qa = qa_w;
endmodule
