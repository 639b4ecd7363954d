// Log2 output stage (hyq.integer.softmax step 8b): the FQ-ViT log-round code of
// u = round(sum / e) = (2 sum + e) // (2 e), without a divider. The code is monotone in u,
// code >= j  <=>  u >= T_j with T_1 = 2, T_j = 3 * 2^(j-2), and u >= T  <=>  2 sum + e >= 2 e T,
// so code = the largest j in 1..2^OUT_BITS - 1 whose threshold compare holds:
// j = 1: A >= 4e, j >= 2: A >= (3e) << (j - 1), A = 2 sum + e. The last code (all ones)
// is the zero code; e = 0 satisfies every compare and lands there, as in the reference.
module hyq_out_log2 #(
    parameter EXP_BITS = 16,
    parameter SUM_BITS = 20,
    parameter OUT_BITS = 4
) (
    input  wire [EXP_BITS-1:0] e,
    input  wire [SUM_BITS-1:0] sum,
    output reg  [OUT_BITS-1:0] code
);
    localparam ZC = (1 << OUT_BITS) - 1;                      // zero code
    localparam AW = SUM_BITS + 2;
    localparam TW = EXP_BITS + 2 + ZC;                        // widest threshold (3e << (ZC-1))
    localparam W = (AW > TW) ? AW : TW;

    wire [W-1:0] a = ({{(W-SUM_BITS){1'b0}}, sum} << 1) + {{(W-EXP_BITS){1'b0}}, e};
    wire [W-1:0] e1 = {{(W-EXP_BITS){1'b0}}, e};
    wire [W-1:0] e3 = e1 + (e1 << 1);
    integer j;
    always @* begin
        code = {OUT_BITS{1'b0}};
        if (a >= (e1 << 2)) code = 1;
        for (j = 2; j <= ZC; j = j + 1)
            if (a >= (e3 << (j - 1))) code = j[OUT_BITS-1:0];
    end
endmodule
