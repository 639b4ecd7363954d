"""What hyq's QONNX nodes share: one dequantized float input, one float32 output of its
shape, an integer computation between them from constants recorded as attributes.

A node names its computation (:meth:`FloatPointwise.compute`) and what ``verify_node``
reports about its attributes (:meth:`FloatPointwise.describe`); shape inference,
datatype inference, execution and the verification frame are here once.
"""

from __future__ import annotations

import numpy as np
from onnx import helper
from qonnx.core.datatype import DataType
from qonnx.custom_op.base import CustomOp


class FloatPointwise(CustomOp):
    """A single-input, single-output node whose output has its input's shape, in float32."""

    def compute(self, x: np.ndarray) -> np.ndarray:
        """The float32 output for the float64 input ``x``."""
        raise NotImplementedError

    def describe(self) -> list[str]:
        """``verify_node``'s lines about the attributes; raises when they are unusable."""
        raise NotImplementedError

    def make_shape_compatible_op(self, model):
        node = self.onnx_node
        return helper.make_node("Identity", [node.input[0]], [node.output[0]])

    def infer_node_datatype(self, model):
        model.set_tensor_datatype(self.onnx_node.output[0], DataType["FLOAT32"])

    def execute_node(self, context, graph):
        node = self.onnx_node
        context[node.output[0]] = self.compute(np.asarray(context[node.input[0]], dtype=np.float64))

    def verify_node(self):
        op = self.onnx_node.op_type
        try:
            info = list(self.describe())
        except Exception as exc:  # noqa: BLE001 - verify_node reports, it does not raise
            info = [f"{op} attributes invalid: {exc}"]
        if len(self.onnx_node.input) != 1 or len(self.onnx_node.output) != 1:
            info.append(f"{op} needs exactly one input and one output")
        return info
