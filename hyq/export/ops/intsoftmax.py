"""The IntSoftmax QONNX node: integer softmax executed by the hyq.integer reference.

The node reads the float (dequantized) input, recovers its integers with the recorded
``input_scale``, and runs :func:`hyq.integer.softmax_with_params` with the constants
recorded as attributes (not recomputed), so the graph carries everything hardware needs.
Its output is dequantized (uint codes times 2^-k, log2 codes decoded); the exporter puts a
QONNX Quant node after it that states that output grid.
"""

from __future__ import annotations

import numpy as np
from onnx import TensorProto, helper
from qonnx.core.datatype import DataType
from qonnx.custom_op.base import CustomOp

from hyq.integer import softmax_schema
from hyq.integer.softmax import SoftmaxParams, decode_log2, softmax_with_params



class IntSoftmax(CustomOp):
    """Integer-only softmax (LinMax, I-BERT, Shiftmax; uint or log2 output) along ``axis``."""

    def get_nodeattr_types(self):
        return {**softmax_schema.attribute_types(), "axis": ("i", False, -1)}

    def params(self) -> SoftmaxParams:
        """The recorded integer constants as the reference's parameter object."""
        return softmax_schema.params(self.get_nodeattr)

    def make_shape_compatible_op(self, model):
        node = self.onnx_node
        return helper.make_node("Identity", [node.input[0]], [node.output[0]])

    def infer_node_datatype(self, model):
        model.set_tensor_datatype(self.onnx_node.output[0], DataType["FLOAT32"])

    def execute_node(self, context, graph):
        node = self.onnx_node
        p = self.params()
        x = np.asarray(context[node.input[0]], dtype=np.float64)
        x_int = np.rint(x / p.scale).astype(np.int64)
        out = softmax_with_params(x_int, p, self.get_nodeattr("axis"))
        if p.out_format == "log2":
            out = decode_log2(out, p.out_bits)
        context[node.output[0]] = (out.astype(np.float64) * p.out_scale).astype(np.float32)

    def verify_node(self):
        info = []
        try:
            p = self.params()
            info.append(f"IntSoftmax {p.method}/{p.out_format}, {p.out_bits} bits, input scale {p.scale}")
        except Exception as exc:  # noqa: BLE001 - verify_node reports, it does not raise
            info.append(f"IntSoftmax attributes incomplete: {exc}")
        if len(self.onnx_node.input) != 1 or len(self.onnx_node.output) != 1:
            info.append("IntSoftmax needs exactly one input and one output")
        return info
