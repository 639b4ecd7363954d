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

from hyq.dataflow.finn_env import finn_steps as _finn_steps

_finn_steps()
from finn.custom_op.fpgadataflow.concat import StreamingConcat  # noqa: E402

from hyq.dataflow.ops.registry import declare  # noqa: E402
from hyq.dataflow.ops.rtl import HyqRTLBackend  # noqa: E402
from hyq.dataflow.ops.shuffle import _packed  # noqa: E402

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


class HyqStreamingConcat_rtl(HyqRTLBackend, HyqStreamingConcat):  # noqa: N801 - FINN's naming of specialisations
    """StreamingConcat by hw/rtl/hyq_stream_concat.v."""

    CORES = ("hyq_stream_concat.v",)

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

    # ---- code generation ----
    def wrapper_notes(self) -> str:
        dts = [self.get_input_datatype(i).name for i in range(self.get_n_inputs())]
        return f"// inputs {dts} -> {self.get_output_datatype().name}, SIMD {self.get_nodeattr('SIMD')}\n"

    def wrapper_body(self) -> str:
        """Every lane of each input sign- or zero-extended to the output type, then the core."""
        simd = self.get_nodeattr("SIMD")
        ob = self.get_output_datatype().bitwidth()
        dw = ob * simd
        ni = self.get_n_inputs()
        ext = []
        for i in range(ni):
            dt = self.get_input_datatype(i)
            ib = dt.bitwidth()
            for lane in range(simd):
                lo = lane * ib
                src = f"in{i}_V_TDATA[{lo + ib - 1}:{lo}]"
                if ob > ib:
                    fill = f"in{i}_V_TDATA[{lo + ib - 1}]" if dt.signed() else "1'b0"
                    src = f"{{{{{ob - ib}{{{fill}}}}}, {src}}}"
                ext.append(f"    assign in_data[{i * dw + lane * ob + ob - 1}:{i * dw + lane * ob}] = {src};")
        valid = ", ".join(f"in{i}_V_TVALID" for i in reversed(range(ni)))
        ready = ", ".join(f"in{i}_V_TREADY" for i in reversed(range(ni)))
        return f"""    wire [{ni * dw - 1}:0] in_data;
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
""" + self.out0_assign(dw)


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


declare(HyqStreamingConcat, HyqStreamingConcat_rtl, replaces="StreamingConcat_hls", possible=_possible)

__all__ = ["HyqStreamingConcat", "HyqStreamingConcat_rtl", "lut_estimate"]
