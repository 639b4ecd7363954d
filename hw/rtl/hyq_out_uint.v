// Linear output stage (hyq.integer.softmax step 8a): out = min((e * recip + 2^(D-1)) >> D,
// 2^OUT_BITS - 1) with D = RECIP_SHIFT - OUT_BITS, recip = 2^RECIP_SHIFT // sum of the row.
module hyq_out_uint #(
    parameter EXP_BITS = 16,
    parameter RECIP_BITS = 18,
    parameter RECIP_SHIFT = 32,
    parameter OUT_BITS = 8
) (
    input  wire [EXP_BITS-1:0]   e,
    input  wire [RECIP_BITS-1:0] recip,
    output wire [OUT_BITS-1:0]   out
);
    localparam D = RECIP_SHIFT - OUT_BITS;
    localparam PW = EXP_BITS + RECIP_BITS + 1;
    localparam [PW-1:0] HALF = {{(PW-1){1'b0}}, 1'b1} << (D - 1);
    localparam [PW-1:0] TOP = {{(PW-1){1'b0}}, 1'b1} << OUT_BITS;

    wire [PW-1:0] prod = e * recip;
    wire [PW-1:0] scaled = (prod + HALF) >> D;
    assign out = (scaled >= TOP) ? {OUT_BITS{1'b1}} : scaled[OUT_BITS-1:0];
endmodule
