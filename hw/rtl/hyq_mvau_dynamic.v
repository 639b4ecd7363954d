// Matrix-vector unit with a streamed matrix: FINN's MVAU in mem_mode "dynamic" with
// noActivation (hyq's RTL stand-in for MVAU_hls, see hyq/dataflow/ops/mvau_dynamic.py).
//
// Streams (FINN's folded orders, lane i of a beat in bits [i*BITS +: BITS]):
//   in1 (matrix)  per matrix, for k < MW (row), for nf < NF: PE weights W[k][nf*PE + p]
//   in0 (vectors) per vector, for sf < SF: SIMD activations x[sf*SIMD + s]
//   out           per vector, for nf < NF: PE sums y[nf*PE + p] = sum_k x[k] * W[k][nf*PE + p]
// Every matrix is used by NVEC consecutive vectors; the unit does not need to know how
// many matrices make a sample.
//
// Structure: the matrix is written into SIMD banks (bank s holds the rows k with
// k % SIMD == s, PE weights per word, word (k / SIMD) * NF + nf), double-buffered, so the
// next matrix is received while the current one is used. Per vector the unit issues
// NF x SF steps (nf outer, sf inner), each reading one word of every bank (PE x SIMD
// weights) and SIMD activations: from in0 while nf == 0 (then kept in a vector buffer),
// from that buffer for nf > 0. Pipeline: read (1) -> PE x SIMD products added to the
// accumulators (2) -> output FIFO of OUT_DEPTH words. A step is issued only when the FIFO
// is sure to have room for its sum (credit counter), so out_tready never reaches the
// input handshakes combinationally and no data is lost under backpressure.
//
// Handshakes are independent: in1 is accepted whenever a matrix buffer is free, in0 only
// while the matrix its vectors use has been received completely. Upstream of a fork, the
// path into in0 must therefore hold what its producer emits before the matching matrix
// has fully arrived on in1 (at most one block of NVEC vectors when both come from one
// stream in matching order).
//
// Throughput: one step per cycle, so a matrix with its NVEC vectors takes
// max(NVEC * NF * SF, MW * NF) cycles in steady state (compute vs. receiving the next
// matrix at one beat of PE weights per cycle).
module hyq_mvau_dynamic #(
    parameter PE = 1,
    parameter SIMD = 1,
    parameter MW = 16,
    parameter MH = 16,
    parameter NVEC = 16,
    parameter IN_BITS = 8,
    parameter W_BITS = 8,
    parameter OUT_BITS = 20,
    parameter IN_SIGNED = 1,
    parameter W_SIGNED = 1,
    parameter OUT_DEPTH = 8
) (
    input  wire                     ap_clk,
    input  wire                     ap_rst_n,
    input  wire [SIMD*IN_BITS-1:0]  in0_tdata,
    input  wire                     in0_tvalid,
    output wire                     in0_tready,
    input  wire [PE*W_BITS-1:0]     in1_tdata,
    input  wire                     in1_tvalid,
    output wire                     in1_tready,
    output wire [PE*OUT_BITS-1:0]   out_tdata,
    output wire                     out_tvalid,
    input  wire                     out_tready
);
    localparam SF = MW / SIMD;
    localparam NF = MH / PE;
    localparam WD = SF * NF;                       // words of one matrix in one bank
    localparam AW = (2 * WD > 1) ? $clog2(2 * WD) : 1;
    localparam SFW = (SF > 1) ? $clog2(SF) : 1;
    localparam NFW = (NF > 1) ? $clog2(NF) : 1;
    localparam LW = (SIMD > 1) ? $clog2(SIMD) : 1;
    localparam VW = (NVEC > 1) ? $clog2(NVEC) : 1;
    localparam OW = (OUT_DEPTH > 1) ? $clog2(OUT_DEPTH) : 1;
    localparam PW = IN_BITS + W_BITS + 2;          // product of the sign-extended operands
    localparam ACC_W = ((PW > OUT_BITS) ? PW : OUT_BITS) + 1;
    localparam [AW-1:0] BUF1 = WD;                 // word offset of matrix buffer 1
    localparam [AW-1:0] NF_A = NF;

    // ---------------- matrix writer (in1) ----------------
    reg  [1:0]     full;
    reg            wbuf;
    reg  [LW-1:0]  w_lane;
    reg  [NFW-1:0] w_nf;
    reg  [AW-1:0]  w_base;                          // (k / SIMD) * NF
    wire w_last_nf = (w_nf == NF - 1);
    wire w_last_lane = (w_lane == SIMD - 1);
    wire w_last = w_last_nf && w_last_lane && (w_base == WD - NF);
    wire w_go = in1_tvalid && !full[wbuf];
    wire [AW-1:0] w_addr = (wbuf ? BUF1 : {AW{1'b0}}) + w_base + w_nf;
    assign in1_tready = !full[wbuf];

    // ---------------- issue (in0, matrix reads) ----------------
    reg            rbuf;
    reg  [NFW-1:0] nf;
    reg  [SFW-1:0] sf;
    reg  [VW-1:0]  vec;
    reg  [AW-1:0]  r_row;                           // sf * NF
    reg  [OW:0]    occ;                             // sums issued and not yet sent
    wire last_sf = (sf == SF - 1);
    wire last_nf = (nf == NF - 1);
    wire last_vec = (vec == NVEC - 1);
    wire first_nf = (nf == 0);
    wire credit = !last_sf || (occ < OUT_DEPTH);
    wire can = full[rbuf] && credit;
    wire go = can && (!first_nf || in0_tvalid);
    wire [AW-1:0] r_addr = (rbuf ? BUF1 : {AW{1'b0}}) + r_row + nf;
    assign in0_tready = can && first_nf;

    wire pop = out_tvalid && out_tready;

    always @(posedge ap_clk) begin
        if (!ap_rst_n) begin
            full <= 2'b00; wbuf <= 1'b0; w_lane <= 0; w_nf <= 0; w_base <= 0;
            rbuf <= 1'b0; nf <= 0; sf <= 0; vec <= 0; r_row <= 0; occ <= 0;
        end else begin
            if (w_go) begin
                if (w_last_nf) begin
                    w_nf <= 0;
                    if (w_last_lane) begin
                        w_lane <= 0;
                        w_base <= w_last ? {AW{1'b0}} : w_base + NF_A;
                    end else begin
                        w_lane <= w_lane + 1'b1;
                    end
                end else begin
                    w_nf <= w_nf + 1'b1;
                end
                if (w_last) begin
                    full[wbuf] <= 1'b1;
                    wbuf <= !wbuf;
                end
            end
            if (go) begin
                if (last_sf) begin
                    sf <= 0;
                    r_row <= 0;
                    if (last_nf) begin
                        nf <= 0;
                        if (last_vec) begin
                            vec <= 0;
                            full[rbuf] <= 1'b0;   // the last read of this matrix is issued now
                            rbuf <= !rbuf;
                        end else begin
                            vec <= vec + 1'b1;
                        end
                    end else begin
                        nf <= nf + 1'b1;
                    end
                end else begin
                    sf <= sf + 1'b1;
                    r_row <= r_row + NF_A;
                end
            end
            occ <= occ + (go && last_sf) - pop;
        end
    end

    // ---------------- stage 1: matrix words and activations ----------------
    wire [SIMD*PE*W_BITS-1:0] w1;
    genvar s, p;
    generate
        for (s = 0; s < SIMD; s = s + 1) begin : g_bank
            hyq_row_buffer #(.WIDTH(PE * W_BITS), .DEPTH(2 * WD), .AW(AW)) bank (
                .clk(ap_clk), .we(w_go && (w_lane == s)), .waddr(w_addr), .wdata(in1_tdata),
                .re(go), .raddr(r_addr), .rdata(w1[s*PE*W_BITS +: PE*W_BITS]));
        end
    endgenerate

    reg                    s1_valid, s1_first, s1_last, s1_strm;
    reg [SIMD*IN_BITS-1:0] s1_in;
    wire [SIMD*IN_BITS-1:0] vrd;
    generate
        if (NF > 1) begin : g_vbuf
            // the vector, kept for nf > 0
            reg [SIMD*IN_BITS-1:0] vbuf [0:SF-1];
            reg [SIMD*IN_BITS-1:0] vrd_r;
            always @(posedge ap_clk) begin
                if (go && first_nf) vbuf[sf] <= in0_tdata;
                if (go) vrd_r <= vbuf[sf];
            end
            assign vrd = vrd_r;
        end else begin : g_novbuf
            assign vrd = {SIMD*IN_BITS{1'b0}};
        end
    endgenerate
    always @(posedge ap_clk) begin
        if (!ap_rst_n) begin
            s1_valid <= 1'b0;
        end else begin
            s1_valid <= go;
        end
        if (go) begin
            s1_first <= (sf == 0);
            s1_last <= last_sf;
            s1_strm <= first_nf;
            if (first_nf) s1_in <= in0_tdata;
        end
    end
    wire [SIMD*IN_BITS-1:0] act1 = s1_strm ? s1_in : vrd;

    // ---------------- stage 2: PE x SIMD products, accumulated ----------------
    // (no register between multiplier and adder: Yosys 0.23's DSP packing of such a
    // register loses the datapath of PE/SIMD > 1 configurations)
    reg                    s2_valid, s2_last;
    wire [PE*OUT_BITS-1:0] sums;
    generate
        for (p = 0; p < PE; p = p + 1) begin : g_pe
            reg  [ACC_W-1:0] acc;
            wire [(SIMD+1)*ACC_W-1:0] chain;
            assign chain[ACC_W-1:0] = s1_first ? {ACC_W{1'b0}} : acc;
            for (s = 0; s < SIMD; s = s + 1) begin : g_simd
                wire [IN_BITS-1:0] a = act1[s*IN_BITS +: IN_BITS];
                wire [W_BITS-1:0]  w = w1[(s*PE + p)*W_BITS +: W_BITS];
                wire signed [IN_BITS:0] a_x = {IN_SIGNED ? a[IN_BITS-1] : 1'b0, a};
                wire signed [W_BITS:0]  w_x = {W_SIGNED ? w[W_BITS-1] : 1'b0, w};
                wire signed [PW-1:0] pr = a_x * w_x;
                assign chain[(s+1)*ACC_W +: ACC_W] = chain[s*ACC_W +: ACC_W]
                                                    + {{(ACC_W - PW){pr[PW-1]}}, pr};
            end
            always @(posedge ap_clk) begin
                if (s1_valid) acc <= chain[SIMD*ACC_W +: ACC_W];
            end
            assign sums[p*OUT_BITS +: OUT_BITS] = acc[OUT_BITS-1:0];
        end
    endgenerate
    always @(posedge ap_clk) begin
        if (!ap_rst_n) begin
            s2_valid <= 1'b0;
        end else begin
            s2_valid <= s1_valid;
        end
        if (s1_valid) s2_last <= s1_last;
    end

    // ---------------- output FIFO ----------------
    reg [PE*OUT_BITS-1:0] ofifo [0:OUT_DEPTH-1];
    reg [OW-1:0] o_wp, o_rp;
    reg [OW:0]   o_cnt;
    wire push = s2_valid && s2_last;
    always @(posedge ap_clk) begin
        if (push) ofifo[o_wp] <= sums;
        if (!ap_rst_n) begin
            o_wp <= 0; o_rp <= 0; o_cnt <= 0;
        end else begin
            if (push) o_wp <= (o_wp == OUT_DEPTH - 1) ? {OW{1'b0}} : o_wp + 1'b1;
            if (pop) o_rp <= (o_rp == OUT_DEPTH - 1) ? {OW{1'b0}} : o_rp + 1'b1;
            o_cnt <= o_cnt + push - pop;
        end
    end
    assign out_tvalid = (o_cnt != 0);
    assign out_tdata = ofifo[o_rp];
endmodule
