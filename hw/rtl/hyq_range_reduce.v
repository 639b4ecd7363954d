// Range reduction of the integer exp: for u = -v >= 0 (v the clamped, max-subtracted input),
// q = min(floor(u / X0), N_STEPS) and rem = u - q * X0 (0 once the clamp at N_STEPS * X0
// applies), so that r = -rem = v - x0 * q with x0 = -X0. The division by the constant X0 is
// either a chain of Q_MAX threshold compares (u >= k * X0, then u - q * X0) or a QW-step
// restoring division (compare with X0 << i, subtract); STYLE 0 picks the one that
// synthesised smaller in Yosys for xc7 (the chain while Q_MAX * UW stays small).
module hyq_range_reduce #(
    parameter UW = 9,        // width of u
    parameter X0 = 70,       // -x0 > 0
    parameter N_STEPS = 30,  // clamp: at most N_STEPS reduction steps
    parameter Q_MAX = 3,     // largest q reachable for u < 2^UW (min(N_STEPS, u_max / X0))
    parameter QW = 2,
    parameter RW = 7,
    parameter STYLE = 0,     // 0 auto, 1 compare chain, 2 restoring division
    parameter CHAIN_LIMIT = 360
) (
    input  wire [UW-1:0] u,
    output reg  [QW-1:0] q,
    output reg  [RW-1:0] rem
);
    localparam BW = UW + QW + 1;
    localparam USE_CHAIN = (STYLE == 1) || (STYLE == 0 && Q_MAX * UW <= CHAIN_LIMIT);
    integer k;
    generate
        if (USE_CHAIN) begin : chain
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
        end else begin : restoring
            localparam [BW-1:0] CLAMP = N_STEPS * X0;
            reg [BW-1:0] acc;
            always @* begin
                acc = {{(BW-UW){1'b0}}, u};
                if (Q_MAX == N_STEPS && acc >= CLAMP)
                    acc = CLAMP;
                q = {QW{1'b0}};
                for (k = QW - 1; k >= 0; k = k - 1) begin
                    if (acc >= (X0 << k)) begin
                        acc = acc - (X0 << k);
                        q[k] = 1'b1;
                    end
                end
                rem = acc[RW-1:0];
            end
        end
    endgenerate
endmodule
