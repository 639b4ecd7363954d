"""qonnx Transformations that bring hyq's exported hybrid models into shapes finn-plus maps.

One small class per rewrite, each leaving the graph's execution unchanged (tests check it
with qonnx's executor).
"""

from __future__ import annotations

import numpy as np
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.custom_op.registry import getCustomOp
from qonnx.transformation.base import Transformation

INT_SOFTMAX = "IntSoftmax"


def _scalar(model: ModelWrapper, name: str) -> float | None:
    v = model.get_initializer(name)
    return float(v.reshape(-1)[0]) if v is not None and v.size == 1 else None


class AbsorbScaleIntoIntSoftmax(Transformation):
    """``Mul(x, S) -> IntSoftmax(input_scale=S)`` becomes ``IntSoftmax(input_scale=1)`` on x.

    After streamlining, the integer softmax input is an integer tensor x times its
    dequantization scale S, the scale the node records. The node recovers integers as
    ``rint(input / S)``, which are x itself, so it can read x with input scale 1 and the
    float multiply disappears. The node's integer constants do not depend on the recorded
    scale. Other multipliers (not S) are left alone.
    """

    def apply(self, model: ModelWrapper) -> tuple[ModelWrapper, bool]:
        for node in model.graph.node:
            if node.op_type != INT_SOFTMAX:
                continue
            mul = model.find_producer(node.input[0])
            if mul is None or mul.op_type != "Mul" or len(model.find_consumers(mul.output[0])) != 1:
                continue
            c = _scalar(model, mul.input[1])
            if c is None or c <= 0:
                continue
            inst = getCustomOp(node)
            if not np.isclose(float(inst.get_nodeattr("input_scale")), c, rtol=1e-6, atol=0.0):
                continue
            inst.set_nodeattr("input_scale", 1.0)
            node.input[0] = mul.input[0]
            model.graph.node.remove(mul)
            return model, True
        return model, False
