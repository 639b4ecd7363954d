"""hyq's RTL stand-in for FINN's ``StreamingConcat_hls``: ``HyqStreamingConcat`` / ``HyqStreamingConcat_rtl``.

FINN's StreamingConcat concatenates several streams along the channel (last) axis, pixel
by pixel; finn-plus implements it only in HLS on non-Versal parts, so
``step_hyq_rtl_layers`` swaps in this layer (:mod:`hyq.dataflow.ops.registry`).

- Generic op: FINN's ``StreamingConcat`` unchanged (shapes, data types, Python execution).
- RTL (``hw/rtl/hyq_stream_concat.v``): per pixel, ChannelsPerStream[i] / SIMD beats from
  input i in turn, through one output register; the generated wrapper sign- or
  zero-extends every lane of each input to the output data type FINN infers (e.g.
  UINT4 + INT4 -> INT5). One beat per cycle: cycles = FINN's estimate (output beats).
- Resources: an NI:1 multiplexer and register of the output width, plus two small
  counters (:func:`lut_estimate`, checked against Yosys by the tests); no BRAM.
"""

from __future__ import annotations

import math
import shutil
from pathlib import Path

from hyq.dataflow.finn_env import finn_steps as _finn_steps

_finn_steps()
from finn.custom_op.fpgadataflow.concat import StreamingConcat  # noqa: E402
from finn.custom_op.fpgadataflow.rtlbackend import RTLBackend  # noqa: E402

from hyq.dataflow.ops.registry import register  # noqa: E402
from hyq.dataflow.ops.shuffle import _packed  # noqa: E402

RTL_DIR = Path(__file__).resolve().parents[3] / "hw" / "rtl"
CORE = RTL_DIR / "hyq_stream_concat.v"

#: LUT model, a non-negative least-squares fit to Yosys 0.23 synth_xilinx of 6
#: configurations (2 to 5 inputs, 4 to 20 output bits): within 18 %. The NI:1 data
#: multiplexer takes a LUT6 per output bit up to 4 inputs (and-or with the selector), more
#: beyond; the rest is the fold counter, selector and handshake.
LUT_CONST, LUT_PER_MUX_BIT, LUT_PER_FOLD_BIT = 10.25, 1.41, 0.23


def lut_estimate(out_bits: int, n_inputs: int, max_fold: int) -> int:
    """LUTs of the concat for ``out_bits``-wide beats, ``n_inputs`` inputs, folds up to ``max_fold``."""
    mux_luts = 1 if n_inputs <= 4 else math.ceil(n_inputs / 4)
    fw = max(1, math.ceil(math.log2(max_fold))) if max_fold > 1 else 1
    return int(round(LUT_CONST + LUT_PER_MUX_BIT * out_bits * mux_luts + LUT_PER_FOLD_BIT * fw))


class HyqStreamingConcat(StreamingConcat):
    """FINN's StreamingConcat, unchanged: the generic op of :class:`HyqStreamingConcat_rtl`."""


class HyqStreamingConcat_rtl(HyqStreamingConcat, RTLBackend):  # noqa: N801 - FINN's naming of specialisations
    """StreamingConcat by hw/rtl/hyq_stream_concat.v."""

    def get_nodeattr_types(self):
        attrs = dict(RTLBackend.get_nodeattr_types(self))
        attrs.update(HyqStreamingConcat.get_nodeattr_types(self))
        return attrs

    def verify_node(self):
        info = []
        try:
            info.append(f"HyqStreamingConcat: folds {self.folds()}, output {self.get_output_datatype()}")
        except Exception as exc:  # noqa: BLE001 - verify_node reports, it does not raise
            info.append(f"HyqStreamingConcat attributes invalid: {exc}")
        return info

    def folds(self) -> list[int]:
        simd = self.get_nodeattr("SIMD")
        chans = [int(c) for c in self.get_nodeattr("ChannelsPerStream")]
        if simd < 1 or any(c % simd for c in chans):
            raise ValueError(f"SIMD {simd} must divide every ChannelsPerStream {chans}")
        return [c // simd for c in chans]

    def get_exp_cycles(self):
        return int(super().get_exp_cycles())

    def lut_estimation(self, fpgapart=None):
        return lut_estimate(self.get_outstream_width(), self.get_n_inputs(), max(self.folds()))

    def bram_estimation(self, fpgapart=None):
        return 0

    def uram_estimation(self, fpgapart=None):
        return 0

    def dsp_estimation(self, fpgapart=None):
        return 0

    # ---- code generation ----
    def wrapper_verilog(self, top: str) -> str:
        simd = self.get_nodeattr("SIMD")
        ob = self.get_output_datatype().bitwidth()
        dw = ob * simd
        ni = self.get_n_inputs()
        owp = self.get_outstream_width_padded()
        ports, ext = [], []
        for i in range(ni):
            iwp = self.get_instream_width_padded(i)
            dt = self.get_input_datatype(i)
            ib = dt.bitwidth()
            ports += [f"    input  wire [{iwp - 1}:0] in{i}_V_TDATA,", f"    input  wire in{i}_V_TVALID,",
                      f"    output wire in{i}_V_TREADY,"]
            for lane in range(simd):
                lo = lane * ib
                src = f"in{i}_V_TDATA[{lo + ib - 1}:{lo}]"
                if ob > ib:
                    fill = f"in{i}_V_TDATA[{lo + ib - 1}]" if dt.signed() else "1'b0"
                    src = f"{{{{{ob - ib}{{{fill}}}}}, {src}}}"
                ext.append(f"    assign in_data[{i * dw + lane * ob + ob - 1}:{i * dw + lane * ob}] = {src};")
        pad = owp - dw
        out = f"{{{{{pad}{{1'b0}}}}, out_data}}" if pad else "out_data"
        valid = ", ".join(f"in{i}_V_TVALID" for i in reversed(range(ni)))
        ready = ", ".join(f"in{i}_V_TREADY" for i in reversed(range(ni)))
        return f"""// Generated by hyq.dataflow.ops.concat for FINN node {self.onnx_node.name}
// inputs {[self.get_input_datatype(i).name for i in range(ni)]} -> {self.get_output_datatype().name}, SIMD {simd}
module {top} (
    input  wire ap_clk,
    input  wire ap_rst_n,
{chr(10).join(ports)}
    output wire [{owp - 1}:0] out0_V_TDATA,
    output wire out0_V_TVALID,
    input  wire out0_V_TREADY
);
    wire [{ni * dw - 1}:0] in_data;
{chr(10).join(ext)}
    wire [{dw - 1}:0] out_data;
    hyq_stream_concat #(
        .DW({dw}),
        .NI({ni}),
        .FOLD_LAST({_packed([f - 1 for f in self.folds()])})
    ) core (
        .ap_clk(ap_clk), .ap_rst_n(ap_rst_n),
        .s_axis_tdata(in_data), .s_axis_tvalid({{{valid}}}), .s_axis_tready({{{ready}}}),
        .m_axis_tdata(out_data), .m_axis_tvalid(out0_V_TVALID), .m_axis_tready(out0_V_TREADY));
    assign out0_V_TDATA = {out};
endmodule
"""

    def generate_hdl(self, model, fpgapart, clk):
        code_gen_dir = Path(self.get_nodeattr("code_gen_dir_ipgen"))
        code_gen_dir.mkdir(parents=True, exist_ok=True)
        top = self.get_verilog_top_module_name()
        self.set_nodeattr("gen_top_module", top)
        shutil.copy(CORE, code_gen_dir / CORE.name)
        (code_gen_dir / f"{top}.v").write_text(self.wrapper_verilog(top))
        self.set_nodeattr("ipgen_path", str(code_gen_dir))
        self.set_nodeattr("ip_path", str(code_gen_dir))

    def get_rtl_file_list(self, abspath=False):
        prefix = (self.get_nodeattr("code_gen_dir_ipgen") + "/") if abspath else ""
        return [prefix + CORE.name, prefix + self.get_nodeattr("gen_top_module") + ".v"]

    def code_generation_ipi(self):
        cmd = [f"add_files -norecurse {f}" for f in self.get_rtl_file_list(abspath=True)]
        cmd.append(f"create_bd_cell -type module -reference {self.get_nodeattr('gen_top_module')} "
                   f"{self.onnx_node.name}")
        return cmd

    def execute_node(self, context, graph):
        """Python execution (FINN's); RTL simulation goes through :mod:`hyq.eda.rtlsim`."""
        if self.get_nodeattr("exec_mode") == "rtlsim":
            raise NotImplementedError(f"{self.onnx_node.name}: simulate hyq RTL layers with hyq.eda.rtlsim "
                                      "(simulate_layers), not FINN's exec_mode=rtlsim")
        return HyqStreamingConcat.execute_node(self, context, graph)


def _possible(inst, part: str) -> bool:
    """Integer inputs (not bipolar: its stream encoding is not its value) and SIMD dividing every input."""
    try:
        dts = [inst.get_input_datatype(i) for i in range(inst.get_n_inputs())]
        simd = inst.get_nodeattr("SIMD")
        chans = inst.get_nodeattr("ChannelsPerStream")
    except (KeyError, ValueError):
        return False
    return (len(dts) == len(chans) >= 1 and simd >= 1 and all(c % simd == 0 for c in chans)
            and all(dt.is_integer() and dt.name != "BIPOLAR" for dt in dts))


register(HyqStreamingConcat, HyqStreamingConcat_rtl, replaces="StreamingConcat_hls", possible=_possible)

__all__ = ["HyqStreamingConcat", "HyqStreamingConcat_rtl", "lut_estimate"]
