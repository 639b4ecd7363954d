"""Shapes and stream widths of an elementwise layer whose last axis is folded.

HyqLookup, HyqSoftmax and HyqLayerNorm stream a tensor of shape ``ifm_dim`` with its last axis split into
beats of ``FOLD_ATTR`` values (PE or SIMD); the output has the input's shape. This mixin,
put before ``HWCustomOp`` in the bases, answers FINN's shape, datatype and stream-width
questions for them; a layer names its fold attribute and defines ``get_output_datatype``.
"""

from __future__ import annotations

import numpy as np
from qonnx.core.datatype import DataType


class LastAxisFolded:
    """FINN shape/width methods of a layer streaming ``ifm_dim`` with its last axis folded."""

    #: the node attribute that folds the last axis
    FOLD_ATTR = "PE"
    #: how the error message names the last axis
    LAST_AXIS = "the last axis"

    def fold(self) -> int:
        return self.get_nodeattr(self.FOLD_ATTR)

    def get_normal_input_shape(self, ind=0):
        return tuple(self.get_nodeattr("ifm_dim"))

    def get_normal_output_shape(self, ind=0):
        return self.get_normal_input_shape()

    def get_folded_input_shape(self, ind=0):
        shape = list(self.get_normal_input_shape())
        k = self.fold()
        if shape[-1] % k:
            raise ValueError(f"{self.onnx_node.name}: {self.FOLD_ATTR}={k} must divide {self.LAST_AXIS} {shape[-1]}")
        return tuple(shape[:-1] + [shape[-1] // k, k])

    def get_folded_output_shape(self, ind=0):
        return self.get_folded_input_shape()

    def get_input_datatype(self, ind=0):
        return DataType[self.get_nodeattr("input_data_type")]

    def get_instream_width(self, ind=0):
        return self.get_input_datatype().bitwidth() * self.fold()

    def get_outstream_width(self, ind=0):
        return self.get_output_datatype().bitwidth() * self.fold()

    def get_number_output_values(self):
        return int(np.prod(self.get_folded_output_shape()[:-1]))

    def infer_node_datatype(self, model):
        node = self.onnx_node
        self.set_nodeattr("input_data_type", model.get_tensor_datatype(node.input[0]).name)
        model.set_tensor_datatype(node.output[0], self.get_output_datatype())
