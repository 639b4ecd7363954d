// hyq_eltwise_add: lane-wise a + b (or a - b) of two AXI streams of PE integers each.
//
// A beat leaves both inputs together (a join): an input is ready when the other input is
// valid and the output register is free or being emptied. Each lane extends its operands
// (sign or zero, per input) to O_BITS and adds or subtracts them in O_BITS; the caller
// chooses O_BITS wide enough for every result. Lane i occupies bits [i*BITS +: BITS] of
// each stream (FINN's packing: element 0 in the least significant bits).
module hyq_eltwise_add #(
    parameter integer PE       = 1,
    parameter integer A_BITS   = 8,
    parameter integer A_SIGNED = 1,
    parameter integer B_BITS   = 8,
    parameter integer B_SIGNED = 1,
    parameter integer O_BITS   = 9,
    parameter integer SUB      = 0   // 1: a - b
) (
    input  wire                 ap_clk,
    input  wire                 ap_rst_n,
    input  wire [PE*A_BITS-1:0] a_tdata,
    input  wire                 a_tvalid,
    output wire                 a_tready,
    input  wire [PE*B_BITS-1:0] b_tdata,
    input  wire                 b_tvalid,
    output wire                 b_tready,
    output reg  [PE*O_BITS-1:0] m_tdata,
    output reg                  m_tvalid,
    input  wire                 m_tready
);
    wire free = !m_tvalid || m_tready;
    wire take = a_tvalid && b_tvalid && free;
    assign a_tready = b_tvalid && free;
    assign b_tready = a_tvalid && free;

    wire [PE*O_BITS-1:0] result;
    genvar i;
    generate
        for (i = 0; i < PE; i = i + 1) begin : lane
            wire [A_BITS-1:0] a = a_tdata[i*A_BITS +: A_BITS];
            wire [B_BITS-1:0] b = b_tdata[i*B_BITS +: B_BITS];
            // one extra bit makes either kind of operand a signed number; assigning it to
            // the signed O_BITS wire sign-extends it
            wire signed [A_BITS:0] a1 = {A_SIGNED != 0 && a[A_BITS-1], a};
            wire signed [B_BITS:0] b1 = {B_SIGNED != 0 && b[B_BITS-1], b};
            wire signed [O_BITS-1:0] ax = a1;
            wire signed [O_BITS-1:0] bx = b1;
            wire [O_BITS-1:0] r = (SUB != 0) ? ax - bx : ax + bx;
            assign result[i*O_BITS +: O_BITS] = r;
        end
    endgenerate

    always @(posedge ap_clk) begin
        if (!ap_rst_n)
            m_tvalid <= 1'b0;
        else if (take)
            m_tvalid <= 1'b1;
        else if (m_tready)
            m_tvalid <= 1'b0;
    end

    always @(posedge ap_clk) begin
        if (take)
            m_tdata <= result;
    end
endmodule
