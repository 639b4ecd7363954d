// Sequential restoring divider for the per-row normaliser: quot = floor(NUM / den) with the
// constant dividend NUM = 2^NUM_POW, one quotient bit per cycle
// (NUM_POW + 1 cycles after start). den must be non-zero.
module hyq_recip #(
    parameter DEN_BITS = 24,
    parameter NUM_POW = 32,
    parameter QUOT_BITS = 33
) (
    input  wire                clk,
    input  wire                rst_n,
    input  wire                start,
    input  wire [DEN_BITS-1:0] den,
    output reg                 busy,
    output reg                 done,
    output reg [QUOT_BITS-1:0] quot
);
    localparam NB = NUM_POW + 1;            // dividend width
    localparam CW = $clog2(NB + 1);
    localparam [NB-1:0] ONE = 1;
    localparam [NB-1:0] NUM = ONE << NUM_POW;

    reg [NB-1:0]       num_sh;              // dividend bits still to bring down (MSB first)
    reg [DEN_BITS:0]   rem;
    reg [NB-1:0]       q;
    reg [DEN_BITS-1:0] d;
    reg [CW-1:0]       cnt;
    wire [DEN_BITS:0]  trial = {rem[DEN_BITS-1:0], num_sh[NB-1]};
    wire               ge = trial >= {1'b0, d};

    always @(posedge clk) begin
        if (!rst_n) begin
            busy <= 1'b0;
            done <= 1'b0;
        end else begin
            done <= 1'b0;
            if (start && !busy) begin
                busy   <= 1'b1;
                num_sh <= NUM;
                rem    <= 0;
                q      <= 0;
                d      <= den;
                cnt    <= NB[CW-1:0];
            end else if (busy) begin
                rem    <= ge ? trial - {1'b0, d} : trial;
                q      <= {q[NB-2:0], ge};
                num_sh <= num_sh << 1;
                cnt    <= cnt - 1'b1;
                if (cnt == 1) begin
                    busy <= 1'b0;
                    done <= 1'b1;
                    quot <= {q[NB-2:0], ge};
                end
            end
        end
    end
endmodule
