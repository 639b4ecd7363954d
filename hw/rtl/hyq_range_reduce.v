// Range reduction of the integer exp: for u = -v >= 0 (v the clamped, max-subtracted input),
// q = min(floor(u / X0), N_STEPS) and rem = u - q * X0 (0 once the clamp at N_STEPS * X0
// applies), so that r = -rem = v - x0 * q with x0 = -X0. The constant division is a chain
// of Q_MAX threshold compares (u >= k * X0), which is small exactly when X0 is large.
module hyq_range_reduce #(
    parameter UW = 9,        // width of u
    parameter X0 = 70,       // -x0 > 0
    parameter N_STEPS = 30,  // clamp: at most N_STEPS reduction steps
    parameter Q_MAX = 3,     // largest q reachable for u < 2^UW (min(N_STEPS, u_max / X0))
    parameter QW = 2,
    parameter RW = 7
) (
    input  wire [UW-1:0] u,
    output reg  [QW-1:0] q,
    output reg  [RW-1:0] rem
);
    localparam BW = UW + QW + 1;
    integer k;
    reg [BW-1:0] base;
    always @* begin
        q = {QW{1'b0}};
        base = {BW{1'b0}};
        for (k = 1; k <= Q_MAX; k = k + 1) begin
            if ({{(BW-UW){1'b0}}, u} >= k * X0) begin
                q = k[QW-1:0];
                base = k * X0;
            end
        end
        if (Q_MAX == N_STEPS && q == N_STEPS)
            rem = {RW{1'b0}};
        else
            rem = u - base[UW-1:0];
    end
endmodule
