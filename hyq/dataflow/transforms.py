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


def _is_identity_thresholds(thresholds: np.ndarray, dt) -> bool:
    """True when thresholds map every value of unsigned ``dt`` onto itself (x >= 1, x >= 2, ...)."""
    if dt.signed() or not dt.is_integer():
        return False
    n = 2 ** dt.bitwidth() - 1
    if thresholds.shape[-1] != n:
        return False
    # on integers, x >= t counts the same as x >= ceil(t): 0.5, 1.5, ... behave like 1, 2, ...
    return bool(np.array_equal(np.ceil(thresholds), np.broadcast_to(np.arange(1, n + 1), thresholds.shape)))


class RemoveIdentityMultiThreshold(Transformation):
    """Drop a MultiThreshold that maps each code of its unsigned integer input onto itself.

    The integer softmax layer already emits k-bit codes; the exported quantizer of the
    attention weights becomes, after its scale is absorbed, thresholds 1, 2, ..., 2^k - 1
    on those codes: an identity that would cost a threshold table in hardware.
    """

    def apply(self, model: ModelWrapper) -> tuple[ModelWrapper, bool]:
        for node in model.graph.node:
            if node.op_type != "MultiThreshold":
                continue
            inst = getCustomOp(node)
            thresholds = model.get_initializer(node.input[1])
            if (thresholds is None or inst.get_nodeattr("out_scale") != 1.0 or inst.get_nodeattr("out_bias") != 0
                    or model.get_tensor_datatype(node.output[0]) != model.get_tensor_datatype(node.input[0])
                    or not _is_identity_thresholds(thresholds, model.get_tensor_datatype(node.input[0]))):
                continue
            if model.find_producer(node.input[0]) is None or node.output[0] in [o.name for o in model.graph.output]:
                continue
            for consumer in model.find_consumers(node.output[0]):
                consumer.input[:] = [node.input[0] if i == node.output[0] else i for i in consumer.input]
            model.graph.node.remove(node)
            return model, True
        return model, False


class UseHyqRTL(Transformation):
    """FINN ``_hls`` layers -> hyq's RTL stand-ins (:mod:`hyq.dataflow.ops.registry`).

    Each node whose op type has a registered replacement, and for which the replacement's
    ``possible(inst, part)`` holds, becomes that ``_rtl`` op in FINN's rtl domain. Its
    attributes carry over (folding, data types, shapes), except HLS-backend ones the RTL
    layer does not declare.
    """

    def __init__(self, part: str):
        super().__init__()
        self.part = part

    def apply(self, model: ModelWrapper) -> tuple[ModelWrapper, bool]:
        from hyq.dataflow.ops.registry import REPLACEMENTS, RTL_DOMAIN

        changed = False
        for node in model.graph.node:
            rep = REPLACEMENTS.get(node.op_type)
            if rep is None or (rep.possible is not None and not rep.possible(getCustomOp(node), self.part)):
                continue
            node.op_type, node.domain = rep.rtl.__name__, RTL_DOMAIN
            known = set(getCustomOp(node).get_nodeattr_types())
            keep = [a for a in node.attribute if a.name in known or a.name == "backend"]
            del node.attribute[:]
            node.attribute.extend(keep)
            changed = True
        return model, changed
