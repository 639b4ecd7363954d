"""The IntSoftmax QONNX node: integer softmax executed by the hyq.integer reference.

The node reads the float (dequantized) input, recovers its integers with the recorded
``input_scale``, and runs :func:`hyq.integer.softmax_with_params` with the constants
recorded as attributes (not recomputed), so the graph carries everything hardware needs.
Its output is dequantized (uint codes times 2^-k, log2 codes decoded); the exporter puts a
QONNX Quant node after it that states that output grid.
"""

from __future__ import annotations

import numpy as np

from hyq.export.ops.base import FloatPointwise
from hyq.integer import softmax_schema
from hyq.integer.softmax import SoftmaxParams, decode_log2, softmax_with_params


class IntSoftmax(FloatPointwise):
    """Integer-only softmax (LinMax, I-BERT, Shiftmax; uint or log2 output) along ``axis``."""

    def get_nodeattr_types(self):
        return {**softmax_schema.attribute_types(), "axis": ("i", False, -1)}

    def params(self) -> SoftmaxParams:
        """The recorded integer constants as the reference's parameter object."""
        return softmax_schema.params(self.get_nodeattr)

    def compute(self, x):
        p = self.params()
        out = softmax_with_params(np.rint(x / p.scale).astype(np.int64), p, self.get_nodeattr("axis"))
        if p.out_format == "log2":
            out = decode_log2(out, p.out_bits)
        return (out.astype(np.float64) * p.out_scale).astype(np.float32)

    def describe(self):
        p = self.params()
        return [f"IntSoftmax {p.method}/{p.out_format}, {p.out_bits} bits, input scale {p.scale}"]
