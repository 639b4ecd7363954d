// Sequential non-restoring divider for the per-row normaliser: quot = floor(2^NUM_POW / den),
// one quotient bit per cycle, for a den known to be >= 2^DEN_MIN_POW (the row sum is at
// least e_max >= 2^(EXP_BITS-1)). The dividend's only 1 is its top bit, so the first
// DEN_MIN_POW quotient bits are 0 and the partial remainder is 2^(DEN_MIN_POW-1) after them:
// the divider starts there and runs the remaining QUOT_BITS = NUM_POW + 1 - DEN_MIN_POW steps.
// Non-restoring: one add/subtract per step (R = 2R - den if R >= 0 else 2R + den); the
// quotient bit is R >= 0 afterwards, the same bit a restoring divider produces.
// Frugal form: the add/subtract is one carry chain whose carry-in is the subtract bit (an
// extra low bit 1 + sub carries it in), the remainder's start value is a synchronous
// set/reset of its flip-flops, and the step count is a marker bit shifted up the quotient
// register (no counter): the quotient starts as ...001 and the marker leaves the top when
// all QUOT_BITS bits are in. quot holds its value from done until the next start.
// den must be >= 2^DEN_MIN_POW.
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
    output wire [QUOT_BITS-1:0] quot
);
    localparam RW = DEN_BITS + 2;           // |R| < den, 2R needs one more bit, plus the sign
    localparam [RW-1:0] R0 = {{(RW-1){1'b0}}, 1'b1} << (DEN_MIN_POW - 1);

    reg [RW-1:0] rem;
    reg [QUOT_BITS:0] qs;                   // quotient bits below a marker 1
    wire sub = ~rem[RW-1];                  // 2R + (den ^ -sub) + sub, one carry chain
    wire [RW:0] sum1 = {rem[RW-2:0], 1'b0, 1'b1} + {{2'b00, den} ^ {RW{sub}}, sub};
    wire [RW-1:0] next = sum1[RW:1];
    wire load = start && !busy;
    assign quot = qs[QUOT_BITS-1:0];

    always @(posedge clk) begin
        if (!rst_n) begin
            busy <= 1'b0;
            done <= 1'b0;
        end else begin
            done <= busy && qs[QUOT_BITS-1];
            if (load) busy <= 1'b1;
            else if (qs[QUOT_BITS-1]) busy <= 1'b0;
        end
        if (load) begin
            rem <= R0;
            qs <= {{QUOT_BITS{1'b0}}, 1'b1};
        end else if (busy) begin
            rem <= next;
            qs <= {qs[QUOT_BITS-1:0], ~next[RW-1]};
        end
    end
endmodule
