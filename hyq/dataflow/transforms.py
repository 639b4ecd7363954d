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


class AbsorbScaleIntoAttribute(Transformation):
    """``Mul(x, S) -> Op(attr=S)`` becomes ``Op(attr=1)`` on x, for an op that reads integers as
    ``rint(input / attr)``: the dequantizing multiply in front of it disappears.

    Subclasses name the op type and its scale attribute. A multiplier other than the recorded
    scale (or one shared with another consumer) is left alone.
    """

    op_type: str = ""
    attr: str = ""

    def apply(self, model: ModelWrapper) -> tuple[ModelWrapper, bool]:
        for node in model.graph.node:
            if node.op_type != self.op_type:
                continue
            mul = model.find_producer(node.input[0])
            if mul is None or mul.op_type != "Mul" or len(model.find_consumers(mul.output[0])) != 1:
                continue
            c = _scalar(model, mul.input[1])
            if c is None or c <= 0:
                continue
            inst = getCustomOp(node)
            if not np.isclose(float(inst.get_nodeattr(self.attr)), c, rtol=1e-6, atol=0.0):
                continue
            inst.set_nodeattr(self.attr, 1.0)
            node.input[0] = mul.input[0]
            model.graph.node.remove(mul)
            return model, True
        return model, False


class AbsorbScaleIntoIntSoftmax(AbsorbScaleIntoAttribute):
    """``Mul(x, S) -> IntSoftmax(input_scale=S)`` becomes ``IntSoftmax(input_scale=1)`` on x.

    After streamlining, the integer softmax input is an integer tensor x times its
    dequantization scale S, the scale the node records. The node recovers integers as
    ``rint(input / S)``, which are x itself, so it can read x with input scale 1 and the
    float multiply disappears. The node's integer constants do not depend on the recorded
    scale. Other multipliers (not S) are left alone.
    """

    op_type = INT_SOFTMAX
    attr = "input_scale"


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


def _divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


class FoldHyqLayers(Transformation):
    """Raise PE (or SIMD) of hyq's own HW layers until each meets ``target_cycles`` per frame.

    FINN's ``SetFolding`` knows only FINN's op types: hyq's softmax, shuffles, pooling,
    element-wise and stream layers (and the RTL stand-ins swapped in after it) keep PE 1.
    A value is taken only where it divides the channel count of every input and the
    stand-in's own constraint (its registry ``possible``) still holds; a layer that cannot
    reach the target keeps its largest valid value. hyq's MVAU/VVAU stand-ins inherit
    FINN's folding of the layer they replace and are left alone.
    """

    #: generic families FINN's SetFolding folds itself (the stand-ins inherit it)
    FOLDED_BY_FINN = ("MVAU", "VVAU")

    def __init__(self, target_cycles: int, part: str):
        super().__init__()
        self.target_cycles = int(target_cycles)
        self.part = part

    def apply(self, model: ModelWrapper) -> tuple[ModelWrapper, bool]:
        from hyq.dataflow.ops.registry import REPLACEMENTS, RTL_DOMAIN, family

        possible = {r.rtl.__name__: r.possible for r in REPLACEMENTS.values()}
        for node in model.graph.node:
            if node.domain != RTL_DOMAIN or not node.op_type.startswith("Hyq") \
                    or family(node.op_type) in self.FOLDED_BY_FINN:
                continue
            inst = getCustomOp(node)
            attrs = inst.get_nodeattr_types()
            attr = "PE" if "PE" in attrs else "SIMD" if "SIMD" in attrs else None
            if attr is None or inst.get_exp_cycles() <= self.target_cycles:
                continue
            channels = [int(inst.get_normal_input_shape(i)[-1]) for i in range(len(node.input))
                        if model.get_initializer(node.input[i]) is None]
            best = inst.get_nodeattr(attr)
            for v in _divisors(min(channels)):
                if v <= best or any(c % v for c in channels):
                    continue
                inst.set_nodeattr(attr, v)
                ok = possible.get(node.op_type) is None or possible[node.op_type](inst, self.part)
                if not ok:
                    continue
                best = v
                if inst.get_exp_cycles() <= self.target_cycles:
                    break
            inst.set_nodeattr(attr, best)
        return model, False


class MoveTransposesPastConcat(Transformation):
    """``Concat(Transpose_p(a), Transpose_p(b), ...)`` -> ``Transpose_p(Concat(a, b, ...))``,
    the concat axis mapped through the permutation p.

    A MobileViT block's fusion concatenates its input with the result in NCHW between layout
    changes: with a table activation (SiLU) on one branch, streamlining leaves one transpose
    in front of the table (which FINN's passes do not see through), so FINN's own
    ``MoveTransposePastJoinConcat`` finds unlike producers; once the table layouts moved,
    a transpose with the same permutation stands in front of every input, and the one left
    behind the concat cancels against the layout change that follows. Unlike FINN's rewrite
    (whose permutation check does not return), this one requires equal permutations, and
    leaves a transpose that feeds anything else alone.
    """

    def apply(self, model: ModelWrapper) -> tuple[ModelWrapper, bool]:
        from onnx import helper

        for node in model.graph.node:
            if node.op_type != "Concat" or len(node.input) < 2:
                continue
            trs = [model.find_producer(i) for i in node.input]
            if any(t is None or t.op_type != "Transpose" or len(model.find_consumers(t.output[0])) != 1
                   for t in trs) or len({t.output[0] for t in trs}) != len(trs):
                continue
            perms = [list(helper.get_attribute_value(a)) for t in trs for a in t.attribute if a.name == "perm"]
            if len(perms) != len(trs) or any(p != perms[0] for p in perms):
                continue
            perm = perms[0]
            axis_attr = next(a for a in node.attribute if a.name == "axis")
            axis = axis_attr.i % len(perm)
            src_shape = model.get_tensor_shape(trs[0].input[0])
            widths = [model.get_tensor_shape(t.input[0])[perm[axis]] for t in trs]
            out, mid = node.output[0], model.make_new_valueinfo_name()
            axis_attr.i = perm[axis]
            node.input[:] = [t.input[0] for t in trs]
            node.output[0] = mid
            first = trs[0]
            first.input[0], first.output[0] = mid, out
            for t in trs[1:]:
                model.graph.node.remove(t)
            shape = list(src_shape)
            shape[perm[axis]] = sum(widths)
            model.set_tensor_shape(mid, shape)
            dts = {model.get_tensor_datatype(i) for i in node.input}
            model.set_tensor_datatype(mid, dts.pop() if len(dts) == 1 else model.get_tensor_datatype(out))
            model.graph.node.remove(first)
            model.graph.node.insert(list(model.graph.node).index(node) + 1, first)
            return model, True
        return model, False


def _exact_steps(thresholds: np.ndarray, scale: np.ndarray, tol: float = 1e-3) -> np.ndarray | None:
    """``scale * (k + 1/2)`` for the half-integers k + 1/2 that ``thresholds / scale`` rounds to, or None.

    Each row must be consecutive steps within ``tol`` of a step: a table of that shape is
    a quantizer's own (Relu or identity), anything else (Selu, already absorbed) is left.
    """
    steps = thresholds / scale - 0.5
    k = np.round(steps)
    if np.abs(steps - k).max() > tol or (thresholds.shape[-1] > 1 and not np.all(np.diff(k, axis=-1) == 1)):
        return None
    return scale * (k + 0.5)


class ExactQuantThresholds(Transformation):
    """Recompute each quantizer's MultiThreshold exactly, in float64, from the scale after it.

    finn-plus' activation handlers (ConvertQONNXtoFINN) compute ``scale * (k + 1/2)`` in
    float64 but store it as float32: each threshold is up to half a float32 ulp (about 1e-5
    of a step at code 255) off the boundary the Quant node rounds at. Streamlining carries
    that error into the accumulator's units, where it is the difference between a table that
    is an exact affine function (a multiply-shift requantizes it) and one that is not. The
    handler's Mul (the quantizer's scale, exact in float32) follows the MultiThreshold
    directly or after its bias Add; from it the exact half-integer boundaries are restored.
    Run on float64 initializers (step_hyq_streamline widens them), before streamlining.
    """

    def apply(self, model: ModelWrapper) -> tuple[ModelWrapper, bool]:
        for node in model.graph.node:
            if node.op_type != "MultiThreshold" or getCustomOp(node).get_nodeattr("out_scale") != 1.0:
                continue
            thresholds = model.get_initializer(node.input[1])
            scale = self._scale_after(model, node)
            if thresholds is None or thresholds.dtype != np.float64 or scale is None:
                continue
            if scale.size not in (1, thresholds.shape[0]):
                continue
            exact = _exact_steps(thresholds, np.abs(scale.reshape(-1, 1) if scale.size > 1 else scale.reshape(())))
            if exact is not None and not np.array_equal(exact, thresholds):
                model.set_initializer(node.input[1], exact)
        return model, False

    @staticmethod
    def _scale_after(model: ModelWrapper, node) -> np.ndarray | None:
        """The initializer of the Mul that follows ``node`` (through a constant Add), or None."""
        cur = node
        for _ in range(2):
            consumers = model.find_consumers(cur.output[0]) or []
            if len(consumers) != 1:
                return None
            cur = consumers[0]
            value = model.get_initializer(cur.input[1]) if len(cur.input) > 1 else None
            if value is None:
                return None
            if cur.op_type == "Mul":
                return value.astype(np.float64)
            if cur.op_type != "Add":
                return None
        return None
