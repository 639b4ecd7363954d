"""Integer LayerNorm as a FINN hardware layer: ``HyqLayerNorm`` and ``HyqLayerNorm_rtl``.

``InferIntLayerNorm`` turns an ``IntLayerNorm`` node that reads integers (its dequantizing
scale absorbed, :class:`AbsorbScaleIntoLayerNorm`) into ``HyqLayerNorm`` -> ``Mul(2^-F)``:
the layer streams the signed normalised codes, the Mul restores the node's float output.
The affine part (gamma, beta) is not in the layer: it is the per-channel Mul and Add in
front of the next quantizer, which streamlining absorbs into that quantizer's thresholds
together with the 2^-F. FINN's ``AbsorbMulIntoMultiThreshold`` takes a per-channel
multiplier only when it is positive; streamlining factors a negative gamma into its
magnitude (absorbed) and a per-channel Mul by +-1, which :class:`AbsorbSignIntoLayerNorm`
takes into the layer (its ``negate`` flags: the RTL negates those channels, exact in the
symmetric output range), so no Mul is left.

- Python execution: :func:`hyq.integer.layernorm.layernorm_with_params` with the node's
  recorded constants (the one integer reference).
- Token: one row of C channels, streamed C / PE beats; the RTL buffers it while it sums.
- Cycles: tokens x :func:`hyq.tools.layernorm.cycles_per_token` (measured equal by the tests).
- LUT/DSP/BRAM: :mod:`hyq.costs.layernorm_cost`, fitted to Yosys runs of the same RTL.
"""

from __future__ import annotations

import numpy as np
from onnx import helper
from qonnx.core.datatype import DataType
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.custom_op.registry import getCustomOp
from qonnx.transformation.base import Transformation

from hyq.dataflow.finn_env import finn_steps as _finn_steps

_finn_steps()
from finn.custom_op.fpgadataflow.hwcustomop import HWCustomOp  # noqa: E402

from hyq.costs import layernorm_cost as _cost  # noqa: E402
from hyq.dataflow.ops.last_axis import LastAxisFolded  # noqa: E402
from hyq.dataflow.ops.registry import declare  # noqa: E402
from hyq.dataflow.ops.rtl import HyqRTLBackend  # noqa: E402
from hyq.dataflow.transforms import AbsorbScaleIntoAttribute  # noqa: E402
from hyq.export.ops.layernorm import INT_ATTRS, params_of  # noqa: E402
from hyq.integer.layernorm import LayerNormParams, layernorm_with_params  # noqa: E402
from hyq.tools import layernorm as _eda  # noqa: E402


class HyqLayerNorm(LastAxisFolded, HWCustomOp):
    """Integer LayerNorm over the last axis (tokens of C channels), PE channels per beat."""

    LAST_AXIS = "the channel count"

    def get_nodeattr_types(self):
        attrs = {name: ("i", True, 0) for name in INT_ATTRS}
        attrs.update({
            "input_scale": ("f", True, 1.0),
            "ifm_dim": ("ints", True, []),
            "PE": ("i", False, 1),
            "input_data_type": ("s", True, ""),
            "negate": ("ints", False, []),  # per-channel 0/1: output -o (a negative gamma's sign)
        })
        attrs.update(super().get_nodeattr_types())
        return attrs

    def params(self) -> LayerNormParams:
        return params_of(self.get_nodeattr)

    def negate(self) -> list[int] | None:
        """Per-channel negate flags, or None when no channel is negated."""
        flags = [int(f) for f in self.get_nodeattr("negate")]
        return flags if any(flags) else None

    def channels(self) -> int:
        return int(self.get_normal_input_shape()[-1])

    def n_tokens(self) -> int:
        return int(np.prod(self.get_normal_input_shape()[:-1]))

    # ---- shapes and types: LastAxisFolded (PE channels a beat) ----
    def get_output_datatype(self, ind=0):
        return DataType[f"INT{self.get_nodeattr('out_bits')}"]

    def verify_node(self):
        info = []
        try:
            p = self.params()
            info.append(f"HyqLayerNorm over {p.channels} channels, PE {self.get_nodeattr('PE')}")
            if p.channels != self.channels():
                info.append(f"HyqLayerNorm: {p.channels} channels recorded, the input has {self.channels()}")
            if self.get_nodeattr("negate") and len(self.get_nodeattr("negate")) != p.channels:
                info.append(f"HyqLayerNorm: negate has {len(self.get_nodeattr('negate'))} flags, not {p.channels}")
            self.get_folded_input_shape()
        except Exception as exc:  # noqa: BLE001 - verify_node reports, it does not raise
            info.append(f"HyqLayerNorm attributes invalid: {exc}")
        return info

    # ---- execution, performance ----
    def execute_node(self, context, graph):
        node = self.onnx_node
        p = self.params()
        x = np.rint(np.asarray(context[node.input[0]], dtype=np.float64) / p.scale).astype(np.int64)
        x = x.reshape(self.get_normal_input_shape())
        context[node.output[0]] = layernorm_with_params(x, p, negate=self.negate()).astype(np.float32)

    def get_exp_cycles(self):
        return self.n_tokens() * _eda.cycles_per_token(self.params(), self.get_nodeattr("PE"))

    def _lane_bits(self) -> int:
        return self.get_input_datatype().bitwidth()

    def lut_estimation(self, fpgapart=None):
        pe = self.get_nodeattr("PE")
        return _cost.lut_estimate(self.params(), pe, self._lane_bits()) + \
            (_cost.negate_luts(self.params(), pe) if self.negate() else 0)

    def dsp_estimation(self, fpgapart=None):
        return _cost.dsp_estimate(self.params(), self.get_nodeattr("PE"), self._lane_bits())

    def bram_estimation(self, fpgapart=None):
        return _cost.bram_estimate(self.params(), self.get_nodeattr("PE"), self._lane_bits())

    def get_op_and_param_counts(self):
        return {"op_layernorm": self.n_tokens() * self.channels()}


class HyqLayerNorm_rtl(HyqRTLBackend, HyqLayerNorm):  # noqa: N801 - FINN's naming
    """HyqLayerNorm implemented by hw/rtl/hyq_layernorm.v."""

    CORES = ("hyq_layernorm.v",)
    # the generic op's fitted estimates, ahead of HyqRTLBackend's zeros
    bram_estimation = HyqLayerNorm.bram_estimation
    dsp_estimation = HyqLayerNorm.dsp_estimation

    def verilog_params(self) -> dict:
        dt = self.get_input_datatype()
        vp = _eda.verilog_params(self.params(), self.get_nodeattr("PE"), dt.bitwidth(), dt.signed(), self.negate())
        if "NEGATE" in vp:  # a sized literal: C bits may exceed Verilog's 32-bit integer
            vp["NEGATE"] = f"{self.channels()}'h{vp['NEGATE']:x}"
        return vp

    def wrapper_body(self) -> str:
        return self.axis_core("hyq_layernorm", self.verilog_params(), self.get_instream_width(),
                              self.get_outstream_width())


class AbsorbScaleIntoLayerNorm(AbsorbScaleIntoAttribute):
    """``Mul(x, S) -> IntLayerNorm(input_scale=S)`` -> ``IntLayerNorm(input_scale=1)`` on x."""

    op_type = "IntLayerNorm"
    attr = "input_scale"


class InferIntLayerNorm(Transformation):
    """``IntLayerNorm`` on integers (input scale 1) -> ``HyqLayerNorm`` -> ``Mul(2^-F)``."""

    def apply(self, model: ModelWrapper):
        for node in model.graph.node:
            if node.op_type != "IntLayerNorm":
                continue
            inst = getCustomOp(node)
            p = inst.params()
            dt = model.get_tensor_datatype(node.input[0])
            shape = model.get_tensor_shape(node.input[0])
            lo, hi = p.in_range
            if (float(inst.get_nodeattr("input_scale")) != 1.0 or not dt.is_integer()
                    or dt.min() < lo or dt.max() > hi or shape[-1] != p.channels):
                continue
            codes, scale = model.make_new_valueinfo_name(), model.make_new_valueinfo_name()
            hw = helper.make_node(
                "HyqLayerNorm", [node.input[0]], [codes], domain="finn.custom_op.fpgadataflow",
                backend="fpgadataflow", name=f"HyqLayerNorm_{node.name}", input_scale=1.0, ifm_dim=list(shape),
                PE=1, input_data_type=dt.name, **{k: int(inst.get_nodeattr(k)) for k in INT_ATTRS})
            mul = helper.make_node("Mul", [codes, scale], [node.output[0]], name=f"Mul_{node.name}")
            model.set_initializer(scale, np.asarray(p.out_scale, dtype=np.float32))
            idx = list(model.graph.node).index(node)
            model.graph.node.remove(node)
            model.graph.node.insert(idx, mul)
            model.graph.node.insert(idx, hw)
            model.set_tensor_shape(codes, shape)
            model.set_tensor_datatype(codes, DataType[f"INT{p.out_bits}"])
            return model, True
        return model, False


class AbsorbSignIntoLayerNorm(Transformation):
    """``HyqLayerNorm -> Mul(+-1 per channel)`` -> ``HyqLayerNorm(negate)``.

    What streamlining leaves of a negative gamma (FINN's FactorOutMulSignMagnitude: the
    magnitude goes into the thresholds, the sign stays a Mul). The layer's output range is
    symmetric, so negating a channel inside it is exact and the output type is unchanged.
    """

    def apply(self, model: ModelWrapper):
        for node in model.graph.node:
            if node.op_type != "HyqLayerNorm":
                continue
            consumers = model.find_consumers(node.output[0]) or []
            if len(consumers) != 1 or consumers[0].op_type != "Mul" or node.output[0] in \
                    [o.name for o in model.graph.output]:
                continue
            mul = consumers[0]
            other = mul.input[1] if mul.input[0] == node.output[0] else mul.input[0]
            sign = model.get_initializer(other)
            inst = getCustomOp(node)
            c = inst.channels()
            if sign is None or sign.size not in (1, c) or (sign.size == c and sign.shape[-1] != c) \
                    or not np.all(np.isin(sign, (-1.0, 1.0))):
                continue
            flags = np.resize(np.asarray(sign).reshape(-1) < 0, c)
            old = np.asarray(inst.get_nodeattr("negate") or [0] * c, dtype=bool)
            inst.set_nodeattr("negate", [int(f) for f in old ^ flags])
            dt = model.get_tensor_datatype(node.output[0])
            node.output[0] = mul.output[0]
            model.graph.node.remove(mul)
            model.set_tensor_datatype(node.output[0], dt)
            return model, True
        return model, False


declare(HyqLayerNorm, HyqLayerNorm_rtl)

__all__ = ["AbsorbScaleIntoLayerNorm", "AbsorbSignIntoLayerNorm", "HyqLayerNorm", "HyqLayerNorm_rtl",
           "InferIntLayerNorm"]
