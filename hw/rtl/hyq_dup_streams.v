// hyq_dup_streams: one AXI stream in, N identical AXI streams out.
//
// One register stage. A beat is taken from the input into `data` and marked pending on
// every output; each output drops its pending bit when its consumer takes the beat, so
// consumers may stall independently without losing or repeating beats. The next input
// beat is accepted in the cycle in which every still-pending output is being taken
// (s_tready depends combinationally on m_tready; m_tvalid comes from registers only),
// which gives one beat per cycle when no consumer stalls.
module hyq_dup_streams #(
    parameter integer W = 8,   // bits per beat
    parameter integer N = 2    // number of output streams
) (
    input  wire             ap_clk,
    input  wire             ap_rst_n,
    input  wire [W-1:0]     s_tdata,
    input  wire             s_tvalid,
    output wire             s_tready,
    output wire [W-1:0]     m_tdata,   // the same data for every output
    output wire [N-1:0]     m_tvalid,
    input  wire [N-1:0]     m_tready
);
    reg [W-1:0] data;
    reg [N-1:0] pend;

    // every output either has nothing pending or takes its beat now
    assign s_tready = ~|(pend & ~m_tready);
    assign m_tdata  = data;
    assign m_tvalid = pend;

    always @(posedge ap_clk) begin
        if (!ap_rst_n) begin
            pend <= {N{1'b0}};
        end else if (s_tvalid && s_tready) begin
            pend <= {N{1'b1}};
        end else begin
            pend <= pend & ~m_tready;
        end
    end

    always @(posedge ap_clk) begin
        if (s_tvalid && s_tready)
            data <= s_tdata;
    end
endmodule
