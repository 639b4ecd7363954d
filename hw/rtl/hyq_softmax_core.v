// Streaming integer softmax over rows of N elements, PE elements per AXI-stream beat,
// bit-exact with hyq.integer.softmax.softmax_with_params. METHOD selects the exp unit
// (0 linmax, 1 ibert, 2 shiftmax); OUT_LOG2 selects the log2 code output (else uint).
//
// Per row, one phase after the other (no overlap between rows):
//   LOAD  N/PE beats into the row buffer, keeping the running max      (N/PE cycles)
//   SUM   read the row back, e = exp(x - max), sum += e                 (N/PE + 3 cycles)
//   DIV   recip = 2^RECIP_SHIFT // sum, non-restoring divider (uint only)
//         (RECIP_SHIFT - EXP_BITS + 4 cycles: sum >= 2^(EXP_BITS-1) skips leading zeros)
//   OUT   read the row again, recompute e, emit out(e, recip or sum)   (N/PE + 3 cycles)
// The read pipeline (buffer -> exp -> output register) advances only when the output
// register is empty or being taken, so m_axis backpressure stalls it without loss.
module hyq_softmax_core #(
    parameter METHOD = 0,
    parameter IN_BITS = 8,
    parameter IN_SIGNED = 1,
    parameter N = 16,
    parameter PE = 1,
    parameter OUT_BITS = 8,
    parameter OUT_LOG2 = 0,
    parameter X0 = 70,
    parameter B = 135,
    parameter C = 0,
    parameter N_STEPS = 30,
    parameter EXP_SHIFT = 22,
    parameter EXP_BITS = 16,
    parameter RECIP_SHIFT = 32,
    parameter IN_SHIFT = 0         // k: d = (x - max) << k, for a coarse input scale
) (
    input  wire                     ap_clk,
    input  wire                     ap_rst_n,
    input  wire [PE*IN_BITS-1:0]    s_axis_tdata,
    input  wire                     s_axis_tvalid,
    output wire                     s_axis_tready,
    output reg  [PE*OUT_BITS-1:0]   m_axis_tdata,
    output reg                      m_axis_tvalid,
    input  wire                     m_axis_tready
);
    localparam NW = N / PE;                                   // beats per row
    localparam AW = (NW > 1) ? $clog2(NW) : 1;
    localparam SUM_BITS = EXP_BITS + ((N > 1) ? $clog2(N) : 0) + 1;
    localparam RECIP_BITS = (OUT_LOG2 != 0) ? 1 : RECIP_SHIFT - EXP_BITS + 2;
    localparam XW = IN_BITS + 1;                              // lanes widened, signed
    localparam DB = IN_BITS + IN_SHIFT;                       // bits of |d| after the shift
    // mantissa form of e for the uint output stage: zm (ZMW bits) and qa (QAW bits)
    localparam LSH = (N_STEPS > EXP_SHIFT) ? N_STEPS - EXP_SHIFT : 0;
    localparam ZMAX = (METHOD == 0) ? B : (METHOD == 1) ? C : X0;
    localparam ZW0 = $clog2(ZMAX + 1);
    localparam ZMW = (ZW0 < EXP_BITS) ? ZW0 : EXP_BITS;
    // qa = min(q, LSH) <= QA_MAX: q's own bound (the exp units' Q_MAX) narrows the output shifter
    localparam integer DMIN = -((1 << DB) - 1);
    localparam integer U_MAX = (METHOD == 2) ? -(DMIN + (DMIN >>> 1) - (DMIN >>> 4)) : -DMIN;
    localparam Q_MAX = (U_MAX / X0 < N_STEPS) ? U_MAX / X0 : N_STEPS;
    localparam QA_MAX = (Q_MAX < LSH) ? Q_MAX : LSH;
    localparam QAW = (QA_MAX > 0) ? $clog2(QA_MAX + 1) : 1;
    localparam MW = ZMW + QAW;
    localparam [1:0] S_LOAD = 2'd0, S_SUM = 2'd1, S_DIV = 2'd2, S_OUT = 2'd3;

    reg [1:0] state;
    reg [AW-1:0] waddr, raddr;
    reg issued_all;
    reg v1, v2;
    reg signed [XW-1:0] row_max;
    reg [SUM_BITS-1:0] sum;
    reg sum_first;                                            // next beat starts the row's sum
    wire [RECIP_BITS-1:0] recip;                              // held by the divider
    wire [PE*IN_BITS-1:0] rdata;

    // ---- input side: lanes widened to signed XW bits, max over the beat ----
    function signed [XW-1:0] widen(input [IN_BITS-1:0] v);
        widen = {(IN_SIGNED != 0) & v[IN_BITS-1], v};
    endfunction

    reg signed [XW-1:0] beat_max;
    integer i;
    always @* begin
        beat_max = widen(s_axis_tdata[IN_BITS-1:0]);
        for (i = 1; i < PE; i = i + 1)
            if (widen(s_axis_tdata[i*IN_BITS +: IN_BITS]) > beat_max)
                beat_max = widen(s_axis_tdata[i*IN_BITS +: IN_BITS]);
    end

    assign s_axis_tready = (state == S_LOAD);
    wire in_fire = s_axis_tvalid && s_axis_tready;

    // ---- read pipeline: issue -> v1 (rdata) -> v2 (e) -> output register / sum ----
    wire adv = !m_axis_tvalid || m_axis_tready;
    wire reading = (state == S_SUM) || (state == S_OUT);
    wire issue = adv && reading && !issued_all;
    wire drained = issued_all && !v1 && !v2;

    hyq_row_buffer #(.WIDTH(PE*IN_BITS), .DEPTH(NW), .AW(AW)) buffer (
        .clk(ap_clk), .we(in_fire), .waddr(waddr), .wdata(s_axis_tdata),
        .re(issue), .raddr(raddr), .rdata(rdata));

    wire [PE*EXP_BITS-1:0] e_comb;
    wire [PE*OUT_BITS-1:0] o_comb;
    reg  [PE*EXP_BITS-1:0] e_reg;
    wire [PE*MW-1:0] m_comb;
    reg  [PE*MW-1:0] m_reg;
    genvar g;
    generate
        for (g = 0; g < PE; g = g + 1) begin : lane
            wire signed [XW-1:0] d0 = widen(rdata[g*IN_BITS +: IN_BITS]) - row_max;
            wire signed [DB:0] d = $signed(d0) <<< IN_SHIFT;   // exact: d0 fits XW bits
            wire [EXP_BITS-1:0] e_lane, zm_lane;
            wire [7:0] qa_lane;
            if (METHOD == 0) begin : linmax
                hyq_exp_linmax #(.IN_BITS(DB), .X0(X0), .B(B), .C(C), .N_STEPS(N_STEPS),
                    .EXP_SHIFT(EXP_SHIFT), .EXP_BITS(EXP_BITS)) u_exp (.d(d), .e(e_lane), .zm(zm_lane), .qa(qa_lane));
            end else if (METHOD == 1) begin : ibert
                hyq_exp_ibert #(.IN_BITS(DB), .X0(X0), .B(B), .C(C), .N_STEPS(N_STEPS),
                    .EXP_SHIFT(EXP_SHIFT), .EXP_BITS(EXP_BITS)) u_exp (.d(d), .e(e_lane), .zm(zm_lane), .qa(qa_lane));
            end else begin : shiftmax
                hyq_exp_shiftmax #(.IN_BITS(DB), .X0(X0), .B(B), .C(C), .N_STEPS(N_STEPS),
                    .EXP_SHIFT(EXP_SHIFT), .EXP_BITS(EXP_BITS)) u_exp (.d(d), .e(e_lane), .zm(zm_lane), .qa(qa_lane));
            end
            assign e_comb[g*EXP_BITS +: EXP_BITS] = e_lane;
            assign m_comb[g*MW +: MW] = {qa_lane[QAW-1:0], zm_lane[ZMW-1:0]};

            wire [OUT_BITS-1:0] o_lane;
            if (OUT_LOG2 != 0) begin : log2
                hyq_out_log2 #(.EXP_BITS(EXP_BITS), .SUM_BITS(SUM_BITS), .OUT_BITS(OUT_BITS))
                    u_out (.e(e_reg[g*EXP_BITS +: EXP_BITS]), .sum(sum), .code(o_lane));
            end else begin : uint
                hyq_out_uint #(.ZMW(ZMW), .QAW(QAW), .LSH(LSH), .RECIP_BITS(RECIP_BITS),
                    .RECIP_SHIFT(RECIP_SHIFT), .OUT_BITS(OUT_BITS))
                    u_out (.zm(m_reg[g*MW +: ZMW]), .qa(m_reg[g*MW + ZMW +: QAW]), .recip(recip),
                           .out(o_lane));
            end
            assign o_comb[g*OUT_BITS +: OUT_BITS] = o_lane;
        end
    endgenerate

    reg [SUM_BITS-1:0] beat_sum;
    integer k;
    always @* begin
        beat_sum = {SUM_BITS{1'b0}};
        for (k = 0; k < PE; k = k + 1)
            beat_sum = beat_sum + {{(SUM_BITS-EXP_BITS){1'b0}}, e_reg[k*EXP_BITS +: EXP_BITS]};
    end

    // ---- reciprocal of the row sum (uint output only) ----
    wire div_busy, div_done;
    wire [RECIP_BITS-1:0] div_quot;
    assign recip = div_quot;
    reg div_start;
    generate
        if (OUT_LOG2 == 0) begin : div
            hyq_recip #(.DEN_BITS(SUM_BITS), .NUM_POW(RECIP_SHIFT), .DEN_MIN_POW(EXP_BITS - 1),
                .QUOT_BITS(RECIP_BITS)) u_recip (
                .clk(ap_clk), .rst_n(ap_rst_n), .start(div_start), .den(sum),
                .busy(div_busy), .done(div_done), .quot(div_quot));
        end else begin : nodiv
            assign div_busy = 1'b0;
            assign div_done = 1'b0;
            assign div_quot = {RECIP_BITS{1'b0}};
        end
    endgenerate

    // ---- control ----
    always @(posedge ap_clk) begin
        if (!ap_rst_n) begin
            state <= S_LOAD;
            waddr <= {AW{1'b0}};
            raddr <= {AW{1'b0}};
            issued_all <= 1'b0;
            v1 <= 1'b0;
            v2 <= 1'b0;
            m_axis_tvalid <= 1'b0;
            div_start <= 1'b0;
        end else begin
            div_start <= 1'b0;
            if (adv) begin
                v1 <= issue;
                v2 <= v1;
                m_axis_tvalid <= v2 && (state == S_OUT);
                m_axis_tdata <= o_comb;
                if (v1 && (state == S_SUM || OUT_LOG2 != 0)) e_reg <= e_comb;
                if (v1 && state == S_OUT && OUT_LOG2 == 0) m_reg <= m_comb;
                if (v2 && state == S_SUM) begin
                    sum <= (sum & {SUM_BITS{~sum_first}}) + beat_sum;
                    sum_first <= 1'b0;
                end
            end
            if (issue) begin
                raddr <= raddr + 1'b1;
                if (raddr == NW - 1) issued_all <= 1'b1;
            end
            case (state)
                S_LOAD: if (in_fire) begin
                    row_max <= (waddr == 0 || beat_max > row_max) ? beat_max : row_max;
                    waddr <= (waddr == NW - 1) ? {AW{1'b0}} : waddr + 1'b1;
                    if (waddr == NW - 1) begin
                        state <= S_SUM;
                        raddr <= {AW{1'b0}};
                        issued_all <= 1'b0;
                        sum_first <= 1'b1;
                    end
                end
                S_SUM: if (drained) begin
                    raddr <= {AW{1'b0}};
                    issued_all <= 1'b0;
                    if (OUT_LOG2 != 0) begin
                        state <= S_OUT;
                    end else begin
                        state <= S_DIV;
                        div_start <= 1'b1;
                    end
                end
                S_DIV: if (div_done) state <= S_OUT;
                default: if (drained) state <= S_LOAD;   // S_OUT
            endcase
        end
    end
endmodule
