"""Integer LayerNorm as a FINN hardware layer: ``HyqLayerNorm`` and ``HyqLayerNorm_rtl``.

``InferIntLayerNorm`` turns an ``IntLayerNorm`` node that reads integers (its dequantizing
scale absorbed, :class:`AbsorbScaleIntoLayerNorm`) into ``HyqLayerNorm`` -> ``Mul(2^-F)``:
the layer streams the signed normalised codes, the Mul restores the node's float output.
The affine part (gamma, beta) is not in the layer: it is the per-channel Mul and Add in
front of the next quantizer, which streamlining absorbs into that quantizer's thresholds
together with the 2^-F (FINN's ``AbsorbMulIntoMultiThreshold`` takes a per-channel
multiplier only when it is positive: a negative gamma stays a Mul, see the report).

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
        })
        attrs.update(super().get_nodeattr_types())
        return attrs

    def params(self) -> LayerNormParams:
        return params_of(self.get_nodeattr)

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
        context[node.output[0]] = layernorm_with_params(x, p).astype(np.float32)

    def get_exp_cycles(self):
        return self.n_tokens() * _eda.cycles_per_token(self.params(), self.get_nodeattr("PE"))

    def _lane_bits(self) -> int:
        return self.get_input_datatype().bitwidth()

    def lut_estimation(self, fpgapart=None):
        return _cost.lut_estimate(self.params(), self.get_nodeattr("PE"), self._lane_bits())

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
        return _eda.verilog_params(self.params(), self.get_nodeattr("PE"), dt.bitwidth(), dt.signed())

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


declare(HyqLayerNorm, HyqLayerNorm_rtl)

__all__ = ["AbsorbScaleIntoLayerNorm", "HyqLayerNorm", "HyqLayerNorm_rtl", "InferIntLayerNorm"]
