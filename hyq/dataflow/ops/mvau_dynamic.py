"""``HyqMVAU_rtl``: hyq's RTL stand-in for FINN's ``MVAU_hls`` with a streamed matrix
(``mem_mode="dynamic"``, ``noActivation=1``, integer types), as in attention's Q.K^T and A.V.

Both operands are streams (FINN's folded orders, :meth:`MVAU.get_folded_input_shape`):

- ``in0`` (activations): ``numInputVectors + [MW/SIMD, SIMD]``, SIMD values per beat;
- ``in1`` (the matrix): ``numInputVectors[:2] + [MW, MH/PE, PE]``, i.e. ``prod(vecs[:2])``
  matrices per sample, each row-major (row k of MW, then MH/PE beats of PE values); each
  matrix serves the ``prod(vecs[2:])`` consecutive vectors of its block (for hybrid-tiny's
  ``[1, 8, 16]``: 8 heads, 16 tokens each);
- ``out0``: ``numInputVectors + [MH/PE, PE]``, the sums (``outputDataType`` = accumulator).

``hw/rtl/hyq_mvau_dynamic.v`` receives a whole matrix into a double buffer (SIMD banks of
PE weights per word, ``hw/rtl/hyq_row_buffer.v``) while the previous one is in use, then
computes PE x SIMD products per cycle for every vector of the block. ``in0`` and ``in1``
are accepted independently; a vector block is consumed only once its matrix has fully
arrived, so the path into ``in0`` must buffer what its producer emits until then (see the
RTL header). Steady state per matrix: ``max(NVEC*NF*SF, MW*NF)`` cycles
(:meth:`HyqMVAU_rtl.get_exp_cycles`); for SIMD <= NVEC that is FINN's estimate.

The generic op :class:`HyqMVAU` is FINN's ``MVAU``; its Python execution only reshapes the
matrix tensor to the shape the stream carries (``vecs[:2] + [MW, MH]``) first: FINN's
``InnerShuffle`` leaves its output in its transpose's internal shape (e.g. ``(1, 4, 2, 16,
16)`` for a ``(1, 8, 16, 16)`` tensor), which ``MVAU.execute_node``'s ``np.matmul`` cannot
broadcast against the ``(1, 8, 16, 16)`` activations.
"""

from __future__ import annotations

import math

import numpy as np
from qonnx.core.datatype import DataType

from hyq.dataflow.finn_env import finn_steps as _finn_steps

_finn_steps()
from finn.custom_op.fpgadataflow.matrixvectoractivation import MVAU  # noqa: E402

from hyq.dataflow.ops.registry import declare  # noqa: E402
from hyq.dataflow.ops.rtl import HyqRTLBackend  # noqa: E402
from hyq.costs import multiplier  # noqa: E402
from hyq.costs.memory import row_buffer  # noqa: E402
from hyq.errors import HyqError  # noqa: E402

TOP = "hyq_mvau_dynamic"
#: depth of the output FIFO in the RTL (covers the 3-cycle issue-to-output latency at full rate)
OUT_DEPTH = 8
#: LUTs of the RTL's control (counters, address adders, FIFO pointers), from Yosys runs (xc7)
CONTROL_LUTS = 140


def _int_type(name: str) -> bool:
    dt = DataType[name]
    return dt.is_integer() and dt.name not in ("BIPOLAR", "TERNARY") and dt.bitwidth() <= 32


def possible(inst, part: str) -> bool:
    """The RTL covers dynamic (two-stream) MVAUs without activation, with integer operands and
    numInputVectors of 3 dimensions (the attention layout: FINN's Python execution broadcasts
    the ``vecs[:2]`` matrices over ``vecs[2]`` only then; with fewer dimensions FINN's folded
    in1 shape and its ``np.matmul`` disagree on how many vectors share a matrix)."""
    try:
        pe, simd = inst.get_nodeattr("PE"), inst.get_nodeattr("SIMD")
        mw, mh = inst.get_nodeattr("MW"), inst.get_nodeattr("MH")
        return (inst.get_nodeattr("mem_mode") == "dynamic" and inst.get_nodeattr("noActivation") == 1
                and not inst.get_nodeattr("binaryXnorMode") and inst.get_nodeattr("TH") == 1
                and len(inst.get_nodeattr("numInputVectors")) == 3
                and pe >= 1 and simd >= 1 and mw % simd == 0 and mh % pe == 0
                and all(_int_type(inst.get_nodeattr(a)) for a in ("inputDataType", "weightDataType",
                                                                  "outputDataType")))
    except Exception:  # noqa: BLE001 - an op this layer does not understand stays FINN's
        return False


def n_matrices(inst) -> int:
    """Matrices streamed into in1 per sample (FINN's folded in1 shape: numInputVectors[:2])."""
    return int(np.prod(list(inst.get_nodeattr("numInputVectors"))[:2]))


def vectors_per_matrix(inst) -> int:
    return int(np.prod(list(inst.get_nodeattr("numInputVectors"))[2:]))


class HyqMVAU(MVAU):
    """FINN's MVAU (generic op of the RTL stand-in); Python execution as FINN's, see module doc."""

    def execute_node(self, context, graph):
        node = self.onnx_node
        if self.get_nodeattr("mem_mode") != "dynamic":
            return MVAU.execute_node(self, context, graph)
        w = np.asarray(context[node.input[1]])
        shape = list(self.get_nodeattr("numInputVectors"))[:2] + [self.get_nodeattr("MW"), self.get_nodeattr("MH")]
        ctx = dict(context)
        if w.size == int(np.prod(shape)):
            ctx[node.input[1]] = w.reshape(shape)
        MVAU.execute_node(self, ctx, graph)
        context[node.output[0]] = ctx[node.output[0]]


class HyqMVAU_rtl(HyqRTLBackend, HyqMVAU):  # noqa: N801 - FINN's naming of specialisations
    """HyqMVAU implemented by hw/rtl/hyq_mvau_dynamic.v (mem_mode "dynamic" only)."""

    CORES = ("hyq_row_buffer.v", "hyq_mvau_dynamic.v")

    # ---- parameters of the RTL ----
    def verilog_params(self) -> dict[str, int]:
        if not possible(self, ""):
            raise HyqError(f"{self.onnx_node.name}: HyqMVAU_rtl needs mem_mode dynamic, noActivation 1, integer "
                           "types, SIMD | MW, PE | MH and numInputVectors of 3 dimensions")
        idt, wdt, odt = (DataType[self.get_nodeattr(a)] for a in ("inputDataType", "weightDataType", "outputDataType"))
        return {"PE": self.get_nodeattr("PE"), "SIMD": self.get_nodeattr("SIMD"),
                "MW": self.get_nodeattr("MW"), "MH": self.get_nodeattr("MH"),
                "NVEC": vectors_per_matrix(self), "IN_BITS": idt.bitwidth(), "W_BITS": wdt.bitwidth(),
                "OUT_BITS": odt.bitwidth(), "IN_SIGNED": int(idt.signed()), "W_SIGNED": int(wdt.signed()),
                "OUT_DEPTH": OUT_DEPTH}

    # ---- performance and resources ----
    def get_exp_cycles(self):
        """Steady-state cycles per sample: per matrix, NVEC vectors of NF x SF steps, or the
        next matrix's MW x NF beats on in1 if that takes longer (SIMD > NVEC)."""
        pe, simd = self.get_nodeattr("PE"), self.get_nodeattr("SIMD")
        nf, sf = self.get_nodeattr("MH") // pe, self.get_nodeattr("MW") // simd
        per_matrix = max(vectors_per_matrix(self) * nf * sf, self.get_nodeattr("MW") * nf)
        return int(n_matrices(self) * per_matrix)

    def _memories(self) -> list[tuple[int, int, int]]:
        """(count, depth, width) of the RTL's sync-read memories: matrix banks, vector buffer."""
        v = self.verilog_params()
        sf, nf = v["MW"] // v["SIMD"], v["MH"] // v["PE"]
        mems = [(v["SIMD"], 2 * sf * nf, v["PE"] * v["W_BITS"])]
        if nf > 1:
            mems.append((1, sf, v["SIMD"] * v["IN_BITS"]))
        return mems

    def _multiplier(self, fpgapart=None) -> tuple[int, int]:
        """(LUT, DSP) of one multiplier (:mod:`hyq.costs.multiplier`) on ``fpgapart``'s family."""
        v = self.verilog_params()
        # a signed operand's sign extension is redundant (Yosys' wreduce drops it), an
        # unsigned one keeps its 0 bit
        return multiplier.cost(v["IN_BITS"] + 1 - v["IN_SIGNED"], v["W_BITS"] + 1 - v["W_SIGNED"],
                               multiplier.family(fpgapart))

    def dsp_estimation(self, fpgapart=None):
        """PE x SIMD multipliers; each on DSP slices when Yosys would put it there (>= 9-bit product)."""
        return self.get_nodeattr("PE") * self.get_nodeattr("SIMD") * self._multiplier(fpgapart)[1]

    def bram_estimation(self, fpgapart=None):
        """The matrix banks (and vector buffer) in 18 Kbit BRAMs where Yosys prefers them to LUTRAM."""
        return sum(n * row_buffer(d, w)[1] for n, d, w in self._memories())

    def bram_efficiency_estimation(self, fpgapart=None):
        bram = self.bram_estimation()
        if bram == 0:
            return 1.0
        bits = 2 * self.get_nodeattr("MW") * self.get_nodeattr("MH") * self.get_input_datatype(1).bitwidth()
        return bits / (bram * 18 * 1024)

    def lut_estimation(self, fpgapart=None):
        """LUTs (logic + LUTRAM, as Yosys' xc7 mapping counts them): distributed RAM of the
        memories kept out of BRAM and of the output FIFO (RAM32M, 6 bits per 4 LUTs), the
        accumulator input select per bit, the activation select per bit, and control
        (counters, address adders, FIFO pointers: ~140 LUTs, measured); with DSPs the
        multipliers and the adder chain sit in the DSP48s, otherwise in LUTs."""
        v = self.verilog_params()
        pe, simd = v["PE"], v["SIMD"]
        acc_w = max(v["IN_BITS"] + v["W_BITS"] + 2, v["OUT_BITS"]) + 1
        lut = sum(n * row_buffer(d, w)[0] for n, d, w in self._memories())
        lut += 4 * math.ceil(pe * v["OUT_BITS"] / 6)
        lut += pe * acc_w + simd * v["IN_BITS"] + CONTROL_LUTS
        mul_lut, mul_dsp = self._multiplier(fpgapart)
        if mul_dsp == 0:
            lut += pe * simd * (mul_lut + acc_w)
        return int(lut)

    def get_op_and_param_counts(self):
        macs = int(np.prod(self.get_nodeattr("numInputVectors"))) * self.get_nodeattr("MW") * self.get_nodeattr("MH")
        return {f"op_mac_{self.get_nodeattr('inputDataType')}_{self.get_nodeattr('weightDataType')}": macs}

    # ---- code generation: in0_V, in1_V and out0_V, no FINN dynamic loader around it ----
    def wrapper_body(self) -> str:
        iw0, iw1, ow = self.get_instream_width(0), self.get_instream_width(1), self.get_outstream_width()
        params = ",\n".join(f"        .{k}({v})" for k, v in self.verilog_params().items())
        return f"""    wire [{ow - 1}:0] out_data;
    {TOP} #(
{params}
    ) core (
        .ap_clk(ap_clk), .ap_rst_n(ap_rst_n),
        .in0_tdata(in0_V_TDATA[{iw0 - 1}:0]), .in0_tvalid(in0_V_TVALID), .in0_tready(in0_V_TREADY),
        .in1_tdata(in1_V_TDATA[{iw1 - 1}:0]), .in1_tvalid(in1_V_TVALID), .in1_tready(in1_V_TREADY),
        .out_tdata(out_data), .out_tvalid(out0_V_TVALID), .out_tready(out0_V_TREADY));
""" + self.out0_assign(ow)


declare(HyqMVAU, HyqMVAU_rtl, replaces="MVAU_hls", possible=possible)

__all__ = ["HyqMVAU", "HyqMVAU_rtl", "possible"]
