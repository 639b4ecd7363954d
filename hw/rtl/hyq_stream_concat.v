// Channel concatenation of NI AXI streams, per pixel, for FINN's StreamingConcat layer.
//
// For every pixel, FOLD_LAST[i] + 1 beats are taken from input i, for i = 0 .. NI-1 in
// turn, and passed on unchanged. All inputs arrive here already DW bits wide (the wrapper
// sign- or zero-extends each lane to the output data type); input i occupies
// s_axis_tdata[i*DW +: DW]. One registered output stage, one beat per cycle, held while the
// sink stalls; only the input being read sees TREADY.
module hyq_stream_concat #(
    parameter integer DW = 8,
    parameter integer NI = 2,
    parameter [32*NI-1:0] FOLD_LAST = 0
) (
    input  wire            ap_clk,
    input  wire            ap_rst_n,
    input  wire [NI*DW-1:0] s_axis_tdata,
    input  wire [NI-1:0]   s_axis_tvalid,
    output wire [NI-1:0]   s_axis_tready,
    output reg  [DW-1:0]   m_axis_tdata,
    output reg             m_axis_tvalid,
    input  wire            m_axis_tready
);
    localparam integer SW = (NI < 2) ? 1 : $clog2(NI);

    function integer max_fold;
        input integer dummy;
        integer k;
        begin
            max_fold = 0;
            for (k = 0; k < NI; k = k + 1)
                if (FOLD_LAST[32*k +: 32] > max_fold) max_fold = FOLD_LAST[32*k +: 32];
        end
    endfunction
    localparam integer FMAX = max_fold(0);
    localparam integer FW = (FMAX < 2) ? 1 : $clog2(FMAX + 1);

    reg [SW-1:0] sel;        // input being read
    reg [FW-1:0] fcnt;       // beat of that input within the pixel

    // last beat index and data of the selected input (and-or multiplexers, constant slices)
    reg [FW-1:0] fold_last;
    reg [DW-1:0] in_data;
    integer i;
    always @(*) begin
        fold_last = {FW{1'b0}};
        in_data = {DW{1'b0}};
        for (i = 0; i < NI; i = i + 1)
            if (sel == i) begin
                fold_last = FOLD_LAST[32*i +: FW];
                in_data = s_axis_tdata[i*DW +: DW];
            end
    end

    wire advance = ~m_axis_tvalid | m_axis_tready;
    wire in_valid = s_axis_tvalid[sel];
    wire take = advance & in_valid;
    genvar g;
    generate
        for (g = 0; g < NI; g = g + 1) begin : rdy
            assign s_axis_tready[g] = advance & (sel == g);
        end
    endgenerate

    always @(posedge ap_clk) begin
        if (!ap_rst_n) begin
            sel <= 0;
            fcnt <= 0;
            m_axis_tvalid <= 1'b0;
        end else begin
            if (advance) m_axis_tvalid <= in_valid;
            if (take) begin
                if (fcnt == fold_last) begin
                    fcnt <= 0;
                    sel <= (sel == NI - 1) ? {SW{1'b0}} : sel + 1'b1;
                end else begin
                    fcnt <= fcnt + 1'b1;
                end
            end
        end
    end

    always @(posedge ap_clk) begin
        if (take) m_axis_tdata <= in_data;
    end
endmodule
