// Sequential non-restoring divider for the per-row normaliser: quot = floor(2^NUM_POW / den),
// one quotient bit per cycle, for a den known to be >= 2^DEN_MIN_POW (the row sum is at
// least e_max >= 2^(EXP_BITS-1)). The dividend's only 1 is its top bit, so the first
// DEN_MIN_POW quotient bits are 0 and the partial remainder is 2^(DEN_MIN_POW-1) after them:
// the divider starts there and runs the remaining QUOT_BITS = NUM_POW + 1 - DEN_MIN_POW steps.
// Non-restoring: one add/subtract per step (R = 2R - den if R >= 0 else 2R + den); the
// quotient bit is R >= 0 afterwards, the same bit a restoring divider produces. quot holds
// its value from done until the next start. den must be >= 2^DEN_MIN_POW.
module hyq_recip #(
    parameter DEN_BITS = 24,
    parameter NUM_POW = 32,
    parameter DEN_MIN_POW = 15,
    parameter QUOT_BITS = NUM_POW + 1 - DEN_MIN_POW
) (
    input  wire                 clk,
    input  wire                 rst_n,
    input  wire                 start,
    input  wire [DEN_BITS-1:0]  den,
    output reg                  busy,
    output reg                  done,
    output reg  [QUOT_BITS-1:0] quot
);
    localparam RW = DEN_BITS + 2;           // |R| < den, 2R needs one more bit, plus the sign
    localparam CW = $clog2(QUOT_BITS + 1);
    localparam [RW-1:0] R0 = {{(RW-1){1'b0}}, 1'b1} << (DEN_MIN_POW - 1);

    reg signed [RW-1:0] rem;
    reg [CW-1:0] cnt;
    wire signed [RW-1:0] two_r = rem <<< 1;
    wire signed [RW-1:0] dx = {2'b00, den};
    wire sub = ~rem[RW-1];                  // one adder: 2R + (den ^ -sub) + sub
    wire signed [RW-1:0] next = two_r + (dx ^ {RW{sub}}) + {{(RW-1){1'b0}}, sub};

    always @(posedge clk) begin
        if (!rst_n) begin
            busy <= 1'b0;
            done <= 1'b0;
        end else begin
            done <= 1'b0;
            if (start && !busy) begin
                busy <= 1'b1;
                rem  <= R0;
                cnt  <= QUOT_BITS[CW-1:0];
            end else if (busy) begin
                rem  <= next;
                quot <= {quot[QUOT_BITS-2:0], ~next[RW-1]};
                cnt  <= cnt - 1'b1;
                if (cnt == 1) begin
                    busy <= 1'b0;
                    done <= 1'b1;
                end
            end
        end
    end
endmodule
