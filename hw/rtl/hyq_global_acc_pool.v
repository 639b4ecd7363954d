// hyq_global_acc_pool: per-channel sum over NPIX pixels of a stream of PE-lane beats.
//
// Input order (FINN's folded layout): for each pixel, NF beats of PE channels (fold f
// carries channels f*PE .. f*PE+PE-1). For every image, one output beat per fold holding
// the PE sums (ACC_BITS each, wrapping; the caller chooses ACC_BITS wide enough).
//
// Two stages. Accepting a beat of fold f issues a synchronous read of the accumulator
// word f (NF words of PE*ACC_BITS bits, distributed or block RAM by USE_BRAM). In the
// next cycle the word plus the beat (0 plus the beat at the first pixel) is written back,
// or, at the last pixel, goes to the output register instead, so the output of one image
// overlaps the input of its last pixel and a new image can follow without a gap. With
// NF >= 2 a word is read at least two accepts after it was written; with NF == 1 the
// accumulator is a register.
module hyq_global_acc_pool #(
    parameter integer PE        = 1,
    parameter integer IN_BITS   = 8,
    parameter integer IN_SIGNED = 0,
    parameter integer ACC_BITS  = 12,
    parameter integer NF        = 1,   // channel folds (channels / PE)
    parameter integer NPIX      = 1,   // pixels per image
    parameter integer USE_BRAM  = 0
) (
    input  wire                   ap_clk,
    input  wire                   ap_rst_n,
    input  wire [PE*IN_BITS-1:0]  s_tdata,
    input  wire                   s_tvalid,
    output wire                   s_tready,
    output reg  [PE*ACC_BITS-1:0] m_tdata,
    output reg                    m_tvalid,
    input  wire                   m_tready
);
    localparam integer FB = NF > 1 ? $clog2(NF) : 1;
    localparam integer PB = NPIX > 1 ? $clog2(NPIX) : 1;
    localparam integer W  = PE * ACC_BITS;

    // position of the next input beat
    reg [FB-1:0] fold;
    reg [PB-1:0] pix;
    // stage 2: the accepted beat
    reg              v2;
    reg [FB-1:0]     fold2;
    reg              first2, last2;
    reg [PE*IN_BITS-1:0] x2;
    wire [W-1:0]     acc2;   // the accumulator word read for it
    wire [W-1:0]     sum2;

    wire free = !m_tvalid || m_tready;
    wire adv2 = !last2 || free;          // stage 2 finishes this cycle
    assign s_tready = !v2 || adv2;
    wire take = s_tvalid && s_tready;
    wire wr = v2 && !last2;              // write back (not at the last pixel)

    genvar i;
    generate
        for (i = 0; i < PE; i = i + 1) begin : lane
            wire [IN_BITS-1:0] x = x2[i*IN_BITS +: IN_BITS];
            wire signed [IN_BITS:0] x1 = {IN_SIGNED != 0 && x[IN_BITS-1], x};
            wire signed [ACC_BITS-1:0] xe = x1;
            wire [ACC_BITS-1:0] a = first2 ? {ACC_BITS{1'b0}} : acc2[i*ACC_BITS +: ACC_BITS];
            wire [ACC_BITS-1:0] s = a + xe;
            assign sum2[i*ACC_BITS +: ACC_BITS] = s;
        end
        if (NF == 1) begin : reg_acc
            reg [W-1:0] acc;
            always @(posedge ap_clk) if (wr) acc <= sum2;
            assign acc2 = acc;
        end else if (USE_BRAM != 0) begin : bram_acc
            (* ram_style = "block" *) reg [W-1:0] mem [0:NF-1];
            reg [W-1:0] q;
            always @(posedge ap_clk) begin
                if (wr) mem[fold2] <= sum2;
                if (take) q <= mem[fold];
            end
            assign acc2 = q;
        end else begin : lut_acc
            (* ram_style = "distributed" *) reg [W-1:0] mem [0:NF-1];
            reg [W-1:0] q;
            always @(posedge ap_clk) begin
                if (wr) mem[fold2] <= sum2;
                if (take) q <= mem[fold];
            end
            assign acc2 = q;
        end
    endgenerate

    always @(posedge ap_clk) begin
        if (!ap_rst_n) begin
            fold <= {FB{1'b0}};
            pix <= {PB{1'b0}};
            v2 <= 1'b0;
            m_tvalid <= 1'b0;
        end else begin
            if (take) begin
                if (fold == NF - 1) begin
                    fold <= {FB{1'b0}};
                    pix <= (pix == NPIX - 1) ? {PB{1'b0}} : pix + 1'b1;
                end else begin
                    fold <= fold + 1'b1;
                end
                v2 <= 1'b1;
            end else if (adv2) begin
                v2 <= 1'b0;
            end
            if (v2 && last2 && free)
                m_tvalid <= 1'b1;
            else if (m_tready)
                m_tvalid <= 1'b0;
        end
    end

    always @(posedge ap_clk) begin
        if (take) begin
            fold2 <= fold;
            first2 <= pix == 0;
            last2 <= pix == NPIX - 1;
            x2 <= s_tdata;
        end
        if (v2 && last2 && free)
            m_tdata <= sum2;
    end
endmodule
