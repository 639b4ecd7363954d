"""RTL stand-ins for FINN's stream forks and residual adds: ``HyqDuplicateStreams_rtl`` and
``HyqElementwiseAdd_rtl`` / ``HyqElementwiseSub_rtl``.

finn-plus implements ``DuplicateStreams`` and an elementwise add/sub of two streamed
integer tensors only in HLS on non-Versal parts; ``step_hyq_rtl_layers`` swaps these
layers in (:mod:`hyq.dataflow.ops.registry`) so residual blocks become Verilog that
Verilator and Yosys read.

- Generic ops: ``HyqDuplicateStreams`` / ``HyqElementwiseAdd`` / ``HyqElementwiseSub`` are
  FINN's generic ops unchanged (shapes, folding, data types, Python execution).
- RTL: ``hw/rtl/hyq_dup_streams.v`` (one register stage with a pending bit per output, so
  consumers stall independently) and ``hw/rtl/hyq_eltwise_add.v`` (a join of both inputs,
  PE lane adders, one output register); both move one beat per cycle, so FINN's
  ``get_exp_cycles`` (beats per sample) holds.
- Code generation: :class:`hyq.dataflow.ops.rtl.HyqRTLBackend`.
- Estimates: analytical models of those circuits, checked against Yosys in
  tests/dataflow/test_stream_layers.py.
"""

from __future__ import annotations

import numpy as np

from hyq.dataflow.finn_env import finn_steps as _finn_steps

_finn_steps()
from finn.custom_op.fpgadataflow.duplicatestreams import DuplicateStreams  # noqa: E402
from finn.custom_op.fpgadataflow.elementwise_binary import ElementwiseAdd, ElementwiseSub  # noqa: E402

from hyq.dataflow.ops.registry import declare  # noqa: E402
from hyq.dataflow.ops.rtl import HyqRTLBackend, pad  # noqa: E402


# ---- DuplicateStreams -------------------------------------------------------------------


def dup_luts(n_out: int) -> int:
    """LUTs of hyq_dup_streams with ``n_out`` outputs; the data width costs flip-flops only.

    Per output a LUT updates its pending bit and one more goes into the input's TREADY (an
    AND over the outputs), plus the data register's enable. Yosys (xc7) measures 4, 11,
    21, 16 LUTs for 2, 3, 6, 8 outputs: ABC's mapping of the small control is uneven, the
    model follows its trend.
    """
    return 2 * n_out + 1


class HyqDuplicateStreams(DuplicateStreams):
    """FINN's DuplicateStreams, unchanged: the generic op of ``HyqDuplicateStreams_rtl``."""


class HyqDuplicateStreams_rtl(HyqRTLBackend, HyqDuplicateStreams):  # noqa: N801 - FINN's naming
    """DuplicateStreams implemented by hw/rtl/hyq_dup_streams.v."""

    CORES = ("hyq_dup_streams.v",)

    def wrapper_body(self) -> str:
        n = self.get_num_output_streams()
        w = self.get_instream_width()
        lines = [f"    wire [{w - 1}:0] d;", f"    wire [{n - 1}:0] v, r;",
                 f"    hyq_dup_streams #(.W({w}), .N({n})) core (",
                 "        .ap_clk(ap_clk), .ap_rst_n(ap_rst_n),",
                 f"        .s_tdata(in0_V_TDATA[{w - 1}:0]), .s_tvalid(in0_V_TVALID), .s_tready(in0_V_TREADY),",
                 "        .m_tdata(d), .m_tvalid(v), .m_tready(r));"]
        for j in range(n):
            lines += [f"    assign out{j}_V_TDATA = {pad(w, self.get_outstream_width_padded(j), 'd')};",
                      f"    assign out{j}_V_TVALID = v[{j}];", f"    assign r[{j}] = out{j}_V_TREADY;"]
        return "\n".join(lines) + "\n"

    def lut_estimation(self, fpgapart=None):
        return dup_luts(self.get_num_output_streams())


# ---- ElementwiseAdd / ElementwiseSub of two streams --------------------------------------


def eltwise_luts(pe: int, out_bits: int) -> int:
    """LUTs of hyq_eltwise_add: one LUT per output bit and lane feeding the carry chain,
    plus the join's handshake (both TREADYs, the output's TVALID and the register enable)."""
    return pe * out_bits + 3


def eltwise_possible(inst, part: str | None = None) -> bool:
    """Both operands streamed integer tensors of one shape, and the output type holds every
    result (the RTL computes in the output's width)."""
    try:
        if inst.get_nodeattr("lhs_style") != "input" or inst.get_nodeattr("rhs_style") != "input":
            return False
        if inst.get_nodeattr("mlo_max_iter"):
            return False
        lhs, rhs, out = inst.lhs_dtype, inst.rhs_dtype, inst.out_dtype
        if not (lhs.is_integer() and rhs.is_integer() and out.is_integer()):
            return False
        if not (list(inst.lhs_shape) == list(inst.rhs_shape) == list(inst.out_shape)):
            return False
        if int(inst.out_shape[-1]) % int(inst.pe):
            return False
        op = np.subtract if _is_sub(inst) else np.add
        corners = [op(a, b) for a in (lhs.min(), lhs.max()) for b in (rhs.min(), rhs.max())]
        return all(out.allowed(c) for c in corners)
    except Exception:  # noqa: BLE001 - an op this cannot read stays FINN's layer
        return False


def _is_sub(inst) -> bool:
    return isinstance(inst, ElementwiseSub)


def _eltwise_rtl(generic: type, name: str) -> type:
    """``<generic>_rtl``: hw/rtl/hyq_eltwise_add.v for two streamed integer operands of one
    shape. The methods sit in the class itself, ahead of FINN's generic op in the MRO."""

    class EltwiseRTL(HyqRTLBackend, generic):
        CORES = ("hyq_eltwise_add.v",)

        def get_nodeattr_types(self):
            attrs = super().get_nodeattr_types()
            # both operands are streams: there is no parameter memory, and no memstream
            # for the simulation harness to look for
            attrs.pop("mem_mode", None)
            return attrs

        def get_instream_width(self, ind=0):
            return self.get_input_datatype(ind).bitwidth() * int(self.pe)

        def get_exp_cycles(self):
            return int(np.prod(self.get_folded_output_shape()[:-1]))

        def verilog_params(self) -> dict[str, int]:
            lhs, rhs = self.lhs_dtype, self.rhs_dtype
            return {"PE": int(self.pe), "A_BITS": lhs.bitwidth(), "A_SIGNED": int(lhs.signed()),
                    "B_BITS": rhs.bitwidth(), "B_SIGNED": int(rhs.signed()),
                    "O_BITS": self.out_dtype.bitwidth(), "SUB": int(_is_sub(self))}

        def wrapper_body(self) -> str:
            p = self.verilog_params()
            aw, bw, ow = p["PE"] * p["A_BITS"], p["PE"] * p["B_BITS"], p["PE"] * p["O_BITS"]
            params = ", ".join(f".{k}({v})" for k, v in p.items())
            return (f"    wire [{ow - 1}:0] d;\n"
                    f"    hyq_eltwise_add #({params}) core (\n"
                    "        .ap_clk(ap_clk), .ap_rst_n(ap_rst_n),\n"
                    f"        .a_tdata(in0_V_TDATA[{aw - 1}:0]), .a_tvalid(in0_V_TVALID), .a_tready(in0_V_TREADY),\n"
                    f"        .b_tdata(in1_V_TDATA[{bw - 1}:0]), .b_tvalid(in1_V_TVALID), .b_tready(in1_V_TREADY),\n"
                    "        .m_tdata(d), .m_tvalid(out0_V_TVALID), .m_tready(out0_V_TREADY));\n"
                    + self.out0_assign(ow, "d"))

        def lut_estimation(self, fpgapart=None):
            return eltwise_luts(int(self.pe), self.out_dtype.bitwidth())

        def get_op_and_param_counts(self):
            return {f"op_{'sub' if _is_sub(self) else 'add'}": int(np.prod(self.out_shape))}

    EltwiseRTL.__name__ = EltwiseRTL.__qualname__ = name
    EltwiseRTL.__module__ = __name__
    EltwiseRTL.__doc__ = (f"Integer stream {'-' if issubclass(generic, ElementwiseSub) else '+'} stream "
                          "implemented by hw/rtl/hyq_eltwise_add.v.")
    return EltwiseRTL


class HyqElementwiseAdd(ElementwiseAdd):
    """FINN's ElementwiseAdd, unchanged: the generic op of ``HyqElementwiseAdd_rtl``."""


class HyqElementwiseSub(ElementwiseSub):
    """FINN's ElementwiseSub, unchanged: the generic op of ``HyqElementwiseSub_rtl``."""


HyqElementwiseAdd_rtl = _eltwise_rtl(HyqElementwiseAdd, "HyqElementwiseAdd_rtl")
HyqElementwiseSub_rtl = _eltwise_rtl(HyqElementwiseSub, "HyqElementwiseSub_rtl")


def _always(inst, part) -> bool:
    return True


declare(HyqDuplicateStreams, HyqDuplicateStreams_rtl, replaces="DuplicateStreams_hls", possible=_always)
declare(HyqElementwiseAdd, HyqElementwiseAdd_rtl, replaces="ElementwiseAdd_hls", possible=eltwise_possible)
declare(HyqElementwiseSub, HyqElementwiseSub_rtl, replaces="ElementwiseSub_hls", possible=eltwise_possible)

__all__ = ["HyqDuplicateStreams", "HyqDuplicateStreams_rtl", "HyqElementwiseAdd", "HyqElementwiseAdd_rtl",
           "HyqElementwiseSub", "HyqElementwiseSub_rtl", "dup_luts", "eltwise_luts",
           "eltwise_possible"]
