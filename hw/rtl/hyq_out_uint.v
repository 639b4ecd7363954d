// Linear output stage (hyq.integer.softmax step 8a): out = min((e * recip + 2^(D-1)) >> D,
// 2^OUT_BITS - 1) with D = RECIP_SHIFT - OUT_BITS, recip = 2^RECIP_SHIFT // sum of the row.
// e arrives in mantissa form, e = zm << (LSH - qa) (see the exp units), so the multiplier is
// only ZMW x RECIP_BITS wide: with W = floor(zm * recip / 2^(D - 1 - LSH + qa)), which is
// floor(e * recip / 2^(D-1)) exactly, out = min((W + 1) >> 1, 2^OUT_BITS - 1). Since
// e * recip <= 2^RECIP_SHIFT, W <= 2^(OUT_BITS+1): OUT_BITS + 2 bits of the product suffice.
// keep_hierarchy: flattened into the core, Yosys/ABC maps this cone (multiplier, shift, round)
// some 70 LUTs larger for LinMax (measured, benchmarks/softmax_hw.py); kept, it is mapped alone.
(* keep_hierarchy *)
module hyq_out_uint #(
    parameter ZMW = 16,          // width of the mantissa zm
    parameter QAW = 4,           // width of qa
    parameter LSH = 8,           // the exp unit's left shift N_STEPS - EXP_SHIFT (>= 0)
    parameter RECIP_BITS = 18,
    parameter RECIP_SHIFT = 32,
    parameter OUT_BITS = 8
) (
    input  wire [ZMW-1:0]        zm,
    input  wire [QAW-1:0]        qa,
    input  wire [RECIP_BITS-1:0] recip,
    output wire [OUT_BITS-1:0]   out
);
    localparam D = RECIP_SHIFT - OUT_BITS;
    localparam SH0 = D - 1 - LSH;                 // >= 0: LSH < EXP_BITS <= D
    localparam PW = ZMW + RECIP_BITS;

    wire [PW-1:0] prod = zm * recip;
    wire [PW-1:0] win = (prod >> SH0) >> qa;
    wire [OUT_BITS+1:0] w = win[OUT_BITS+1:0];
    wire [OUT_BITS+1:0] r = (w + 1'b1) >> 1;
    assign out = r[OUT_BITS] ? {OUT_BITS{1'b1}} : r[OUT_BITS-1:0];
endmodule
