"""Integer requantization in hardware: ``HyqRequant`` / ``HyqRequant_rtl``, and the rewrite
that puts it in place of a threshold table where that is proven exact and cheaper.

- Generic op ``HyqRequant``: FINN's Thresholding layout (NumChannels, PE, numSteps,
  ActVal, data types, folding) with inputs ``(x, M, B)`` instead of ``(x, thresholds)``
  and a ``shift`` attribute; Python execution is :func:`hyq.integer.requant.requant`, the
  one reference. ``M`` (unsigned) and ``B`` (signed) are int64 initializers (exact at any
  width the proof gives) annotated with their real widths, which the storage report counts;
  a table rounded half to even at exact ties has a fourth input, the tie remainders ``W``
  (``tieDataType``; :mod:`hyq.integer.requant`).
- RTL ``hw/rtl/hyq_requant.v``: PE lanes, a constant ROM of (M, B) per lane, the product
  in DSPs, add, shift, clip; two register stages, one beat per cycle, AXI-stream
  backpressure.
- :class:`ThresholdsToRequant`: a Thresholding layer becomes HyqRequant only where
  :func:`~hyq.integer.requant.requant_from_thresholds` proves the two equal on the whole
  input range, and (mode ``auto``) where it costs less (:func:`layer_cost`).
"""

from __future__ import annotations

import hashlib
import math

import numpy as np
from onnx import helper
from qonnx.core.datatype import DataType
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.custom_op.registry import getCustomOp
from qonnx.transformation.base import Transformation

from hyq.costs import multiplier
from hyq.dataflow.bitwidth import minimize_weight_width
from hyq.dataflow.finn_env import finn_steps as _finn_steps
from hyq.integer.requant import RequantParams, requant, requant_from_thresholds

_finn_steps()
from finn.custom_op.fpgadataflow.thresholding import Thresholding  # noqa: E402

from hyq.dataflow.ops.registry import RTL_DOMAIN, declare  # noqa: E402
from hyq.dataflow.ops.rtl import HyqRTLBackend  # noqa: E402

MODES = ("auto", "always", "never")
#: resources compared per layer (fractions of the part's capacity, summed)
COST_RESOURCES = ("LUT", "BRAM_18K", "URAM", "DSP")


#: a HyqRequant layer is named after the Thresholding layer it replaces (``Thresholding_rtl_2``
#: -> ``HyqRequant_rtl_2``); folding files name the latter, which step_apply_folding_config sees
THRESHOLDS_PREFIX, REQUANT_PREFIX = "Thresholding", "HyqRequant"


#: M and B are stored as int64 initializers (float32 would hold them exactly only up to 2^24);
#: the proof already bounds ``x * M + B`` to int64 (:data:`hyq.integer.requant.INT64_BITS`)
PARAM_DTYPE = np.int64


def folding_name(layer: str) -> str:
    """The name a folding file gives ``layer``: a HyqRequant layer is configured under the
    Thresholding layer it replaces (the replacement happens after FINN applies the file)."""
    return THRESHOLDS_PREFIX + layer[len(REQUANT_PREFIX):] if layer.startswith(REQUANT_PREFIX) else layer


def dsp_per_product(a_bits: int, b_bits: int, part: str | None) -> int:
    """DSP slices of one signed ``a_bits`` x ``b_bits`` product on ``part``
    (:func:`hyq.costs.multiplier.dsp_tiles`)."""
    return multiplier.dsp_tiles(a_bits, b_bits, multiplier.family(part))


def sum_bits(idt: DataType, m_bits: int, b_bits: int) -> int:
    """Signed width holding ``x * M + B`` for every ``x`` of ``idt``, ``0 <= M < 2^m_bits`` and
    ``B`` of INT``b_bits``: the circuit's adder width, known from the types alone."""
    m = (1 << m_bits) - 1
    lo = min(int(idt.min()) * m, 0) - (1 << (b_bits - 1))
    hi = max(int(idt.max()) * m, 0) + (1 << (b_bits - 1)) - 1
    return max(hi.bit_length(), (-lo - 1).bit_length()) + 1


def requant_luts(pe: int, nf: int, rom_bits: int, out_bits: int, sum_bits: int, m_bits: int,
                 part: str | None = None) -> int:
    """LUTs of hyq_requant, fitted to Yosys runs of it (xc7 and xcup, five configurations in
    tests/dataflow/test_requant_layer.py, each within 10 %).

    Per lane: the (M, B) ROM of ``rom_bits`` a word (none at one fold; a few LUTs at up to 4
    folds, where ABC shares the few distinct 2-input functions; one LUT6 per bit up to 64
    words; one per bit and 64 words beyond, with MUXF7/8), the clip and offset (two LUTs
    per output bit plus one); on UltraScale+ also the bias add, which Yosys leaves outside
    the DSP48E2 (``sum_bits - 2`` LUTs; half that for a one-bit multiplier, a select). Plus
    the fold counter (two per bit) and the handshake.
    """
    if nf == 1:
        rom = 0
    elif nf <= 4:
        rom = math.ceil(rom_bits / 8)
    else:
        rom = rom_bits * math.ceil(nf / 64)
    lane = rom + 2 * out_bits + 1
    if multiplier.DSP_PORTS[multiplier.family(part)][0] == 27:  # DSP48E2 / DSP58
        lane += (sum_bits - 2) if m_bits > 1 else math.ceil(sum_bits / 2)
    fb = math.ceil(math.log2(nf)) if nf > 1 else 0
    return pe * lane + 2 * fb + 4


class HyqRequant(Thresholding):
    """Per-channel ``clip(floor((x M + B) / 2^shift), 0, numSteps) + ActVal``: the generic op.

    Inputs: x, M (C,), B (C,) and, with ties to even, W (C,). ``weightDataType`` is M's type (FINN's Thresholding requires
    the attribute), ``biasDataType`` B's.
    """

    def get_nodeattr_types(self):
        attrs = super().get_nodeattr_types()
        attrs["shift"] = ("i", True, 0)
        attrs["biasDataType"] = ("s", True, "")
        attrs["tieDataType"] = ("s", False, "")  # W's type, where input 3 (ties to even) exists
        return attrs

    def get_input_datatype(self, ind=0):
        if ind == 2:
            return DataType[self.get_nodeattr("biasDataType")]
        return super().get_input_datatype(ind)

    def get_instream_width(self, ind=0):
        return super().get_instream_width(0) if ind == 0 else 0

    def minimize_weight_bit_width(self, model, datatype_only=False):
        """M and B are stored at the widths the proof gave them: nothing to minimise."""
        return self.get_input_datatype(1)

    def folds(self) -> int:
        return self.get_nodeattr("NumChannels") // self.get_nodeattr("PE")

    def sum_bits(self) -> int:
        return sum_bits(self.get_input_datatype(0), self.get_input_datatype(1).bitwidth(),
                        self.get_input_datatype(2).bitwidth())

    def execute_node(self, context, graph):
        node = self.onnx_node
        x = np.rint(np.asarray(context[node.input[0]], dtype=np.float64)).astype(np.int64)
        M = np.asarray(context[node.input[1]]).astype(np.int64).reshape(-1)
        B = np.asarray(context[node.input[2]]).astype(np.int64).reshape(-1)
        W = np.asarray(context[node.input[3]]).astype(np.int64).reshape(-1) if len(node.input) > 3 else None
        y = requant(x, M, B, int(self.get_nodeattr("shift")), int(self.get_nodeattr("numSteps")),
                    int(self.get_nodeattr("ActVal")), W)
        context[node.output[0]] = y.astype(np.float32)

    def tie_bits(self) -> int:
        """Width of the tie remainders W (input 3), 0 without ties."""
        node = self.onnx_node
        return DataType[self.get_nodeattr("tieDataType")].bitwidth() if len(node.input) > 3 else 0

    def get_exp_cycles(self):
        return int(np.prod(self.get_folded_output_shape()[:-1]))

    def lut_estimation(self, fpgapart=None):
        mb, bb, wb = self.get_input_datatype(1).bitwidth(), self.get_input_datatype(2).bitwidth(), self.tie_bits()
        ob = self.get_output_datatype().bitwidth()
        luts = requant_luts(self.get_nodeattr("PE"), self.folds(), mb + bb + wb, ob, self.sum_bits(), mb, fpgapart)
        # ties: a remainder comparator (a carry chain, two bits a LUT) and the decrement, per lane
        return luts + (self.get_nodeattr("PE") * (math.ceil(wb / 2) + ob + 1) if wb else 0)

    def dsp_estimation(self, fpgapart=None):
        idt = self.get_input_datatype(0)
        a = idt.bitwidth() + (0 if idt.signed() else 1)
        return self.get_nodeattr("PE") * dsp_per_product(a, self.get_input_datatype(1).bitwidth() + 1, fpgapart)

    def bram_estimation(self, fpgapart=None):
        return 0

    def uram_estimation(self, fpgapart=None):
        return 0

    def get_op_and_param_counts(self):
        return {"op_requant": int(np.prod(self.get_normal_input_shape())),
                "param_requant": 2 * int(self.get_nodeattr("NumChannels"))}


class HyqRequant_rtl(HyqRTLBackend, HyqRequant):  # noqa: N801 - FINN's naming
    """HyqRequant implemented by hw/rtl/hyq_requant.v; (M, B) are read from the model at codegen."""

    CORES = ("hyq_requant.v",)
    lut_estimation = HyqRequant.lut_estimation
    dsp_estimation = HyqRequant.dsp_estimation
    bram_estimation = HyqRequant.bram_estimation

    def generate_hdl(self, model, fpgapart, clk):
        node = self.onnx_node
        self._mb = (model.get_initializer(node.input[1]), model.get_initializer(node.input[2]),
                    model.get_initializer(node.input[3]) if len(node.input) > 3 else None)
        super().generate_hdl(model, fpgapart, clk)

    def verilog_params(self, M=None, B=None, W=None) -> dict:
        """The core's parameters; ``M``, ``B`` (and ``W``) default to those read at codegen."""
        if M is None:
            M, B, W = self._mb
        pe, nf = self.get_nodeattr("PE"), self.folds()
        mb, bb = self.get_input_datatype(1).bitwidth(), self.get_input_datatype(2).bitwidth()
        muls = sum((int(v) & ((1 << mb) - 1)) << (c * mb) for c, v in enumerate(np.asarray(M).reshape(-1)))
        biases = sum((int(v) & ((1 << bb) - 1)) << (c * bb) for c, v in enumerate(np.asarray(B).reshape(-1)))
        idt, odt = self.get_input_datatype(0), self.get_output_datatype()
        ties = {}
        if W is not None:
            wb = self.tie_bits()
            w = sum((int(v) & ((1 << wb) - 1)) << (c * wb) for c, v in enumerate(np.asarray(W).reshape(-1)))
            ties = {"TIE_BITS": wb, "TIES": f"{pe * nf * wb}'h{w:0{(pe * nf * wb + 3) // 4}x}"}
        return {**ties, "PE": pe, "NF": nf, "IN_BITS": idt.bitwidth(), "IN_SIGNED": int(idt.signed()),
                "M_BITS": mb, "B_BITS": bb, "SUM_BITS": self.sum_bits(), "SHIFT": int(self.get_nodeattr("shift")),
                "N": int(self.get_nodeattr("numSteps")), "OFFSET": int(self.get_nodeattr("ActVal")),
                "OUT_BITS": odt.bitwidth(),
                "MULS": f"{pe * nf * mb}'h{muls:0{(pe * nf * mb + 3) // 4}x}",
                "BIASES": f"{pe * nf * bb}'h{biases:0{(pe * nf * bb + 3) // 4}x}"}

    def wrapper_body(self) -> str:
        return self.axis_core("hyq_requant", self.verilog_params(), self.get_instream_width(),
                              self.get_outstream_width())


declare(HyqRequant, HyqRequant_rtl)


#: proofs already made in this process, keyed by the table's bytes, input range and offset:
#: ``hyq build --fit`` rewrites the same tables once per candidate folding, and the proof
#: (exhaustive over the input range) depends on none of the folding
_PROOFS: dict[tuple, tuple[RequantParams | None, str]] = {}
_PROOFS_MAX = 4096


def prove(t: np.ndarray, in_range: tuple[int, int], offset: int) -> tuple[RequantParams | None, str]:
    """:func:`~hyq.integer.requant.requant_from_thresholds`, remembered per table (see ``_PROOFS``)."""
    t = np.ascontiguousarray(t, dtype=np.float64)
    key = (hashlib.sha256(t.tobytes()).hexdigest(), t.shape, int(in_range[0]), int(in_range[1]), int(offset))
    if key not in _PROOFS:
        if len(_PROOFS) >= _PROOFS_MAX:
            _PROOFS.clear()
        _PROOFS[key] = requant_from_thresholds(t, in_range, offset)
    return _PROOFS[key]


def _int_type(bits: int, signed: bool) -> DataType:
    return DataType[f"{'INT' if signed else 'UINT'}{max(bits, 2 if signed else 1)}"]


def layer_cost(est: dict, cap: dict | None, bits: int) -> tuple[float, int]:
    """(sum of resource fractions of the part, storage bits): smaller is cheaper; without
    capacities, LUT-equivalents (a BRAM_18K as 18 Kibit / 64 bits of LUTRAM, a DSP as 100 LUTs)."""
    if cap:
        frac = sum(float(est.get(r, 0)) / cap[r] for r in COST_RESOURCES if cap.get(r))
    else:
        frac = float(est.get("LUT", 0)) + 288 * float(est.get("BRAM_18K", 0)) + 100 * float(est.get("DSP", 0))
    return frac, int(bits)


class ThresholdsToRequant(Transformation):
    """Thresholding layers -> HyqRequant_rtl where proven exact and (``auto``) cheaper.

    ``mode``: ``never`` changes nothing; ``always`` replaces every table the proof accepts;
    ``auto`` replaces it where :func:`layer_cost` of the requantization is lower. Tables
    the proof refuses keep their thresholds in every mode. :attr:`decisions` records one
    entry per Thresholding layer: the choice, the reason and both costs.
    """

    def __init__(self, mode: str, part: str):
        super().__init__()
        if mode not in MODES:
            raise ValueError(f"requant mode must be one of {MODES}, not {mode!r}")
        self.mode, self.part = mode, part
        self.decisions: list[dict] = []

    def apply(self, model: ModelWrapper) -> tuple[ModelWrapper, bool]:
        from hyq.dataflow import parts

        if self.mode == "never":
            return model, False
        cap = parts.capacity(self.part)
        for node in list(model.graph.node):
            if not node.op_type.startswith("Thresholding"):
                continue
            self.decisions.append(self._one(model, node, cap))
        return model, False

    def _one(self, model: ModelWrapper, node, cap) -> dict:
        inst = getCustomOp(node)
        idt, odt = inst.get_input_datatype(0), inst.get_output_datatype()
        t = model.get_initializer(node.input[1])
        rec = {"layer": node.name, "channels": int(inst.get_nodeattr("NumChannels")),
               "steps": int(inst.get_nodeattr("numSteps")), "input": idt.name, "choice": "thresholds"}
        if t is None or not idt.is_integer() or not odt.is_integer() or odt == DataType["BIPOLAR"]:
            rec["reason"] = "not an integer threshold table with constant thresholds"
            return rec
        if t.shape[0] == 1 and inst.get_nodeattr("NumChannels") > 1:
            t = np.tile(t, (inst.get_nodeattr("NumChannels"), 1))
        p, why = prove(t, (int(idt.min()), int(idt.max())), int(inst.get_nodeattr("ActVal")))
        if p is None:
            rec["reason"] = f"refused: {why}"
            return rec
        minimize_weight_width(inst, model)  # the table at the width the build would store
        t_bits = int(t.size) * inst.get_input_datatype(1).bitwidth()
        t_est = inst.node_res_estimation(self.part)
        hw, m_name, b_name = self._requant_node(model, node, inst, p)
        r_inst = getCustomOp(hw)
        r_bits = int(p.M.size) * (r_inst.get_input_datatype(1).bitwidth() + r_inst.get_input_datatype(2).bitwidth() +
                                  r_inst.tie_bits())
        r_est = r_inst.node_res_estimation(self.part)
        keys = ("LUT", "BRAM_18K", "URAM", "DSP")
        rec.update(shift=p.shift, m_bits=p.m_bits, b_bits=p.b_bits, w_bits=p.w_bits, threshold_bits=t_bits, requant_bits=r_bits,
                   thresholds_cost={k: float(t_est.get(k, 0)) for k in keys},
                   requant_cost={k: float(r_est.get(k, 0)) for k in keys})
        cheaper = layer_cost(r_est, cap, r_bits) < layer_cost(t_est, cap, t_bits)
        if self.mode == "always" or cheaper:
            idx = list(model.graph.node).index(node)
            model.graph.node.remove(node)
            model.graph.node.insert(idx, hw)
            if not model.find_consumers(node.input[1]):
                model.del_initializer(node.input[1])
            rec.update(choice="requant", layer=hw.name, reason=why +
                       ("" if cheaper else "; forced (requant: always) though not cheaper"))
        else:
            for n in hw.input[1:]:
                model.del_initializer(n)
            rec["reason"] = "proven, but the threshold table costs less"
        return rec

    @staticmethod
    def _requant_node(model: ModelWrapper, node, inst, p: RequantParams):
        m_dt = _int_type(p.m_bits, False)
        b_dt = _int_type(p.b_bits, True)
        m_name, b_name = model.make_new_valueinfo_name(), model.make_new_valueinfo_name()
        model.set_initializer(m_name, p.M.astype(PARAM_DTYPE))
        model.set_initializer(b_name, p.B.astype(PARAM_DTYPE))
        model.set_tensor_datatype(m_name, m_dt)
        model.set_tensor_datatype(b_name, b_dt)
        inputs, ties = [node.input[0], m_name, b_name], {}
        if p.W is not None:  # ties to even: W as input 3
            w_name, w_dt = model.make_new_valueinfo_name(), _int_type(p.w_bits, False)
            model.set_initializer(w_name, p.W.astype(PARAM_DTYPE))
            model.set_tensor_datatype(w_name, w_dt)
            inputs.append(w_name)
            ties["tieDataType"] = w_dt.name
        hw = helper.make_node(
            "HyqRequant_rtl", inputs, list(node.output), domain=RTL_DOMAIN, **ties,
            backend="fpgadataflow", name=node.name.replace(THRESHOLDS_PREFIX, REQUANT_PREFIX, 1),
            NumChannels=inst.get_nodeattr("NumChannels"), PE=inst.get_nodeattr("PE"),
            numSteps=int(p.n), ActVal=int(p.offset), shift=int(p.shift),
            inputDataType=inst.get_input_datatype(0).name, weightDataType=m_dt.name, biasDataType=b_dt.name,
            outputDataType=inst.get_output_datatype().name,
            numInputVectors=list(inst.get_nodeattr("numInputVectors")))
        return hw, m_name, b_name


__all__ = ["HyqRequant", "HyqRequant_rtl", "MODES", "ThresholdsToRequant", "dsp_per_product",
           "layer_cost", "requant_luts", "sum_bits"]
