"""The IntLayerNorm QONNX node: integer LayerNorm executed by the hyq.integer reference.

The node reads the float (dequantized) input, recovers its integers with the recorded
``input_scale``, and runs :func:`hyq.integer.layernorm.layernorm_with_params` over the last
axis with the constants recorded as attributes (not recomputed), so the graph carries all
hardware needs. Its output is the normalised value on the grid 2^-out_frac, in float32;
the affine (gamma, beta) follows as ordinary Mul and Add nodes.
"""

from __future__ import annotations

import numpy as np

from hyq.export.ops.base import FloatPointwise
from hyq.integer.layernorm import LayerNormParams, layernorm_with_params

INT_ATTRS = ("channels", "in_bits", "in_signed", "eps_int", "out_bits", "out_frac", "sqrt_shift", "recip_shift")


def params_of(get) -> LayerNormParams:
    """LayerNormParams from a node's attribute getter (shared by the QONNX and FINN ops)."""
    v = {name: int(get(name)) for name in INT_ATTRS}
    v["in_signed"] = bool(v["in_signed"])
    return LayerNormParams(scale=float(get("input_scale")), **v)


class IntLayerNorm(FloatPointwise):
    """Integer LayerNorm (no affine) over the last axis; see :mod:`hyq.integer.layernorm`."""

    def get_nodeattr_types(self):
        attrs = {name: ("i", True, 0) for name in INT_ATTRS}
        attrs["input_scale"] = ("f", True, 0.0)
        return attrs

    def params(self) -> LayerNormParams:
        return params_of(self.get_nodeattr)

    def compute(self, x):
        p = self.params()
        out = layernorm_with_params(np.rint(x / p.scale).astype(np.int64), p)
        return (out.astype(np.float64) * p.out_scale).astype(np.float32)

    def describe(self):
        p = self.params()
        return [f"IntLayerNorm over {p.channels} channels, {p.in_bits} -> {p.out_bits} bits"]
