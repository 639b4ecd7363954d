// hyq_layernorm: integer LayerNorm of tokens of C channels, PE channels per beat, exactly
// hyq.integer.layernorm (see its docstring for the steps and widths).
//
// One token at a time, four phases:
//   LOAD  C/PE beats in: S1 += x, S2 += x*x per lane, the token is written to a buffer
//   ROOT  radicand = ((C*S2 - S1*S1) << 2E) + EPS, then its floor square root digit by
//         digit, one result bit per cycle (shift, subtract, compare only)
//   RECIP recip = 2^M // root by restoring division, one quotient bit per cycle (0 if root = 0)
//   EMIT  C/PE beats out: o = clamp((d * recip + 2^(H-1)) >>> H), d = C*x - S1, negated in
//         the channels NEGATE flags (a negative gamma's sign; exact, the range is symmetric)
// Cycles per token: 2*C/PE + 1 + ROOT_STEPS + (M + 1) (hyq.tools.layernorm.cycles_per_token);
// tokens do not overlap (the next LOAD starts once the last output beat is registered).
// Widths (W_*) come from LayerNormParams.widths() through hyq.tools.layernorm.verilog_params.
module hyq_layernorm #(
    parameter PE = 1,
    parameter C = 16,              // channels per token (a multiple of PE)
    parameter [C - 1:0] NEGATE = 0, // bit c: channel c's output is -o
    parameter IN_BITS = 8,
    parameter IN_SIGNED = 1,
    parameter OUT_BITS = 8,
    parameter SQRT_SHIFT = 0,      // E
    parameter RECIP_SHIFT = 24,    // M
    parameter OUT_SHIFT = 8,       // H = M - E - F
    parameter [63:0] EPS = 0,      // e, added to the shifted radicand
    parameter W_S1 = 16,           // signed
    parameter W_S2 = 24,           // signed (one more than the unsigned sum needs)
    parameter W_Q = 28,            // C*S2 and S1*S1 before the shift, signed
    parameter W_RAD = 32,          // radicand, unsigned
    parameter ROOT_STEPS = 16,     // ceil(W_RAD / 2): result bits of the root
    parameter W_RECIP = 16,        // unsigned
    parameter W_D = 16,            // signed
    parameter W_P = 33             // d * recip, signed
) (
    input  wire ap_clk,
    input  wire ap_rst_n,
    input  wire [PE * IN_BITS - 1:0] s_axis_tdata,
    input  wire s_axis_tvalid,
    output wire s_axis_tready,
    output wire [PE * OUT_BITS - 1:0] m_axis_tdata,
    output wire m_axis_tvalid,
    input  wire m_axis_tready
);
    localparam BEATS = C / PE;
    localparam W_X = IN_BITS + 1;                      // a lane, sign- or zero-extended
    localparam W_CNT = (BEATS > 1) ? $clog2(BEATS) : 1;
    localparam W_RT = ROOT_STEPS + 2;
    localparam W_ST = (RECIP_SHIFT + 2 > ROOT_STEPS + 1) ? $clog2(RECIP_SHIFT + 2) + 1 : $clog2(ROOT_STEPS + 1) + 1;
    localparam signed [OUT_BITS:0] OMAX = (1 << (OUT_BITS - 1)) - 1;
    localparam [W_ST - 1:0] M_ST = RECIP_SHIFT;
    localparam [1:0] LOAD = 2'd0, ROOT = 2'd1, RECIP = 2'd2, EMIT = 2'd3;

    reg [1:0] phase;
    reg [W_CNT - 1:0] cnt;
    reg [W_ST - 1:0] step;
    reg [PE * IN_BITS - 1:0] tokbuf [0:BEATS - 1];
    reg signed [W_S1 - 1:0] s1;
    reg signed [W_S2 - 1:0] s2;
    reg [W_RAD + 1:0] rem;                            // square-root remainder
    reg [W_RAD + 1:0] root;                           // holds bit-aligned root during the steps
    reg [W_RAD + 1:0] bitv;
    reg [W_RT:0] drem;                                 // division remainder
    reg [W_RECIP - 1:0] recip;
    reg m_valid;
    reg [PE * OUT_BITS - 1:0] m_data;

    // ---- lane arithmetic of one input beat ----
    function signed [W_X - 1:0] lane;
        input [PE * IN_BITS - 1:0] beat;
        input integer p;
        reg [IN_BITS - 1:0] v;
        begin
            v = beat[p * IN_BITS +: IN_BITS];
            lane = IN_SIGNED ? {v[IN_BITS - 1], v} : {1'b0, v};
        end
    endfunction

    reg signed [W_S1 - 1:0] beat_s1;
    reg signed [W_S2 - 1:0] beat_s2;
    integer i;
    always @(*) begin
        beat_s1 = 0;
        beat_s2 = 0;
        for (i = 0; i < PE; i = i + 1) begin
            beat_s1 = beat_s1 + lane(s_axis_tdata, i);
            beat_s2 = beat_s2 + lane(s_axis_tdata, i) * lane(s_axis_tdata, i);
        end
    end

    // ---- the radicand, once per token ----
    wire signed [W_Q - 1:0] cc = C;
    wire signed [W_Q - 1:0] q = cc * s2 - s1 * s1;
    wire [W_RAD + 1:0] q_u = q[W_Q - 1:0];             // q >= 0
    wire [W_RAD + 1:0] radicand = (q_u << (2 * SQRT_SHIFT)) + EPS;

    // ---- the output beat ----
    wire [PE * IN_BITS - 1:0] rd_beat = tokbuf[cnt];
    reg [PE * OUT_BITS - 1:0] out_beat;
    reg signed [W_D - 1:0] d;
    reg signed [W_P - 1:0] prod;
    reg signed [W_P - 1:0] o;
    integer k;
    always @(*) begin
        out_beat = 0;
        for (k = 0; k < PE; k = k + 1) begin
            d = $signed(cc[W_D - 1:0]) * lane(rd_beat, k) - s1;
            prod = d * $signed({1'b0, recip}) + ($signed({{(W_P - 1){1'b0}}, 1'b1}) <<< (OUT_SHIFT - 1));
            o = prod >>> OUT_SHIFT;
            if (o > OMAX) o = OMAX;
            if (o < -OMAX) o = -OMAX;
            if (NEGATE[cnt * PE + k]) o = -o;
            out_beat[k * OUT_BITS +: OUT_BITS] = o[OUT_BITS - 1:0];
        end
    end

    wire take = phase == LOAD && s_axis_tvalid;
    wire give = phase == EMIT && (!m_valid || m_axis_tready);
    assign s_axis_tready = phase == LOAD;
    assign m_axis_tvalid = m_valid;
    assign m_axis_tdata = m_data;

    wire [W_RAD + 1:0] trial = root + bitv;
    wire [W_RT:0] dshift = {drem[W_RT - 1:0], step == M_ST};

    always @(posedge ap_clk) begin
        if (take) tokbuf[cnt] <= s_axis_tdata;
        if (!ap_rst_n) begin
            phase <= LOAD;
            cnt <= 0;
            m_valid <= 1'b0;
            s1 <= 0;
            s2 <= 0;
        end else begin
            if (m_valid && m_axis_tready) m_valid <= 1'b0;
            case (phase)
                LOAD: if (s_axis_tvalid) begin
                    s1 <= s1 + beat_s1;
                    s2 <= s2 + beat_s2;
                    if (cnt == BEATS - 1) begin
                        cnt <= 0;
                        phase <= ROOT;
                        step <= 0;
                    end else cnt <= cnt + 1'b1;
                end
                ROOT: begin
                    if (step == 0) begin
                        rem <= radicand;
                        root <= 0;
                        bitv <= {{(W_RAD + 1){1'b0}}, 1'b1} << (2 * ROOT_STEPS - 2);
                        step <= 1;
                    end else begin
                        if (rem >= trial) begin
                            rem <= rem - trial;
                            root <= (root >> 1) + bitv;
                        end else root <= root >> 1;
                        bitv <= bitv >> 2;
                        if (step == ROOT_STEPS) begin
                            phase <= RECIP;
                            step <= M_ST;
                            drem <= 0;
                            recip <= 0;
                        end else step <= step + 1'b1;
                    end
                end
                RECIP: begin
                    // quotient bit `step` of 2^M // root; the numerator's one bit enters at step M
                    if (root != 0 && dshift >= root[W_RT:0]) begin
                        drem <= dshift - root[W_RT:0];
                        if (step < W_RECIP) recip[step] <= 1'b1;
                    end else drem <= dshift;
                    if (step == 0) phase <= EMIT;
                    else step <= step - 1'b1;
                end
                EMIT: if (give) begin
                    m_data <= out_beat;
                    m_valid <= 1'b1;
                    if (cnt == BEATS - 1) begin
                        cnt <= 0;
                        phase <= LOAD;
                        s1 <= 0;
                        s2 <= 0;
                    end else cnt <= cnt + 1'b1;
                end
            endcase
        end
    end
endmodule
