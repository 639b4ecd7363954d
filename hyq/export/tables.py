"""The rewrite that turns an exported ``Quant -> f -> Quant`` into a TableActivation node.

Brevitas exports a pointwise function between two quantizers as float ONNX between two
Quant nodes: SiLU as ``Sigmoid`` and ``Mul(x, sigmoid(x))``, Hardswish as ``HardSwish``,
GELU (opset >= 20) as ``Gelu``. When the first Quant has at most 8 bits, scalar scale and
integer zero point, :class:`InferTableActivation` replaces the function and the second
Quant by one ``TableActivation`` node holding the table of output codes
(:func:`hyq.integer.table.build_table`). The first Quant stays (it becomes thresholds in
FINN); the node's output is what the second Quant emitted, so execution is unchanged up
to the half-integer ties :mod:`hyq.integer.table` describes.

:class:`TabulatePointwise` covers any other pointwise float subgraph between two such
quantizers (what torch exports for a user's ``nn.GELU()`` at opset < 20: Div, Erf, Add,
Mul, Mul; ``approximate="tanh"``: Pow, Tanh and friends; ``nn.Hardswish`` at opset < 14 as
HardSigmoid and Mul): it runs the subgraph and the second Quant in qonnx on every input
code, so the table equals QONNX execution by construction. A subgraph of only ops FINN
streamlines into thresholds (:data:`STREAMLINED`: a ReLU) stays. A subgraph that is not
pointwise (an op outside :data:`POINTWISE`, a per-channel constant, a tensor leaving
it other than into the second Quant) is left alone.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import helper
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.custom_op.registry import getCustomOp
from qonnx.transformation.base import Transformation

from hyq.integer.table import FROM_GRAPH, MAX_IN_BITS, TableSpec, build_table, code_range

DOMAIN = "hyq.export.ops"
_SINGLE = {"HardSwish": "hardswish", "Gelu": "gelu"}
#: ONNX ops whose every output element is a function of the same element of each input
POINTWISE = frozenset({
    "Abs", "Add", "Ceil", "Celu", "Clip", "Cos", "Div", "Elu", "Erf", "Exp", "Floor", "Gelu", "HardSigmoid",
    "HardSwish", "Identity", "LeakyRelu", "Log", "Max", "Min", "Mish", "Mul", "Neg", "Pow", "Reciprocal", "Relu",
    "Round", "Selu", "Sigmoid", "Sign", "Sin", "Softplus", "Softsign", "Sqrt", "Sub", "Tanh", "ThresholdedRelu",
})
#: pointwise ops FINN's streamlining already folds into thresholds: a subgraph of only these
#: (a ReLU between quantizers) stays as it is, thresholds cost less than a table
STREAMLINED = frozenset({"Add", "Sub", "Mul", "Div", "Relu", "Identity"})


def _scalar(model: ModelWrapper, name: str) -> float | None:
    v = model.get_initializer(name)
    return float(np.asarray(v).reshape(-1)[0]) if v is not None and np.asarray(v).size == 1 else None


def quant_params(model: ModelWrapper, node) -> dict | None:
    """(bits, signed, narrow, scale, zero) of an activation Quant node with scalar parameters
    and round-half-even rounding, or None."""
    if node is None or node.op_type != "Quant":
        return None
    scale, zero, bits = (_scalar(model, node.input[i]) for i in (1, 2, 3))
    if scale is None or zero is None or bits is None or scale <= 0 or zero != round(zero) or bits != round(bits):
        return None
    inst = getCustomOp(node)
    if inst.get_nodeattr("rounding_mode").upper() not in ("ROUND", "HALF_EVEN"):
        return None
    return {"bits": int(bits), "signed": bool(inst.get_nodeattr("signed")), "narrow": bool(inst.get_nodeattr("narrow")),
            "scale": scale, "zero": int(zero)}


def _function_of(model: ModelWrapper, a: str):
    """(function name, nodes computing f(a), output tensor) for the patterns above, or None."""
    consumers = model.find_consumers(a) or []
    for n in consumers:
        approx = next((att.s.decode() for att in n.attribute if att.name == "approximate"), "none")
        if n.op_type in _SINGLE and list(n.input) == [a] and approx == "none":  # tanh-GELU: TabulatePointwise
            return _SINGLE[n.op_type], [n], n.output[0]
        if n.op_type == "Sigmoid":
            muls = [m for m in (model.find_consumers(n.output[0]) or []) if m.op_type == "Mul"]
            if len(muls) == 1 and len(model.find_consumers(n.output[0])) == 1 and set(muls[0].input) == {a, n.output[0]}:
                return "silu", [n, muls[0]], muls[0].output[0]
    return None


class InferTableActivation(Transformation):
    """``Quant(<= 8 bits) -> SiLU | Hardswish | GELU -> Quant`` -> ``Quant -> TableActivation``."""

    def apply(self, model: ModelWrapper) -> tuple[ModelWrapper, bool]:
        for q_in in model.graph.node:
            pin = quant_params(model, q_in)
            if pin is None or pin["bits"] > MAX_IN_BITS:
                continue
            found = _function_of(model, q_in.output[0])
            if found is None:
                continue
            function, f_nodes, f_out = found
            nxt = model.find_consumers(f_out) or []
            if len(nxt) != 1 or f_out in [o.name for o in model.graph.output]:
                continue
            q_out = nxt[0]
            pout = quant_params(model, q_out)
            if pout is None or q_out.input[0] != f_out:
                continue
            spec = _spec(function, pin, pout)
            _replace(model, q_in, f_nodes, q_out, spec, build_table(spec))
            return model, True
        return model, False


def _spec(function: str, pin: dict, pout: dict) -> TableSpec:
    return TableSpec(function, pin["bits"], pin["signed"], pin["scale"], pout["bits"], pout["signed"],
                     pout["scale"], pin["zero"], pout["zero"], pin["narrow"], pout["narrow"])


def _replace(model: ModelWrapper, q_in, f_nodes: list, q_out, spec: TableSpec, table) -> None:
    """``f_nodes`` and ``q_out`` -> one TableActivation from q_in's output to q_out's."""
    node = helper.make_node(
        "TableActivation", [q_in.output[0]], [q_out.output[0]], domain=DOMAIN,
        name=f"TableActivation_{q_out.name}", function=spec.function, table=[int(t) for t in table],
        in_bits=spec.in_bits, in_signed=int(spec.in_signed), in_narrow=int(spec.in_narrow),
        in_zero=spec.in_zero, in_scale=spec.in_scale, out_bits=spec.out_bits,
        out_signed=int(spec.out_signed), out_narrow=int(spec.out_narrow), out_zero=spec.out_zero,
        out_scale=spec.out_scale)
    if DOMAIN not in [o.domain for o in model.model.opset_import]:  # onnx.checker wants it
        model.model.opset_import.append(helper.make_opsetid(DOMAIN, 1))
    idx = list(model.graph.node).index(q_out)
    model.graph.node.insert(idx, node)
    for n in [*f_nodes, q_out]:
        model.graph.node.remove(n)


def _pointwise_region(model: ModelWrapper, a: str):
    """(nodes, the one tensor leaving them) of the pointwise float subgraph that reads ``a``
    (and scalar constants only), or None when it is empty or more than one tensor leaves it."""
    nodes, made, todo = [], {a}, [a]
    while todo:
        for n in model.find_consumers(todo.pop()) or []:
            if n in nodes or n.op_type not in POINTWISE:
                continue
            ins = [i for i in n.input if i]
            if all(i in made or (model.get_initializer(i) is not None and model.get_initializer(i).size == 1)
                   for i in ins):
                nodes.append(n)
                made.update(n.output)
                todo.extend(n.output)
    graph_out = {o.name for o in model.graph.output}
    leaving = {t for n in nodes for t in n.output
               if t in graph_out or any(c not in nodes for c in model.find_consumers(t) or [])}
    return (nodes, leaving.pop()) if nodes and len(leaving) == 1 else None


def tabulate(model: ModelWrapper, nodes: list, q_out, a: str, codes_in: np.ndarray, pin: dict) -> np.ndarray:
    """q_out's codes for each input code: ``nodes`` and ``q_out`` executed in qonnx on the
    values ``a`` takes, ``(code - zero) * scale`` in float32 as the Quant emits them."""
    from qonnx.core.onnx_exec import execute_onnx
    from qonnx.transformation.infer_shapes import InferShapes
    from qonnx.util.basic import qonnx_make_model

    sub = [*nodes, q_out]
    consts = {i for n in sub for i in n.input if i and model.get_initializer(i) is not None}
    y = q_out.output[0]
    g = helper.make_graph(sub, "tabulate", [helper.make_tensor_value_info(a, onnx.TensorProto.FLOAT, [len(codes_in)])],
                          [helper.make_tensor_value_info(y, onnx.TensorProto.FLOAT, None)])
    mini = ModelWrapper(qonnx_make_model(g, opset_imports=list(model.model.opset_import)))
    for name in consts:
        mini.set_initializer(name, model.get_initializer(name))
    mini = mini.transform(InferShapes())
    x = (codes_in - pin["zero"]).astype(np.float32) * np.float32(pin["scale"])
    out = np.asarray(execute_onnx(mini, {a: x})[y], dtype=np.float64).reshape(-1)
    if out.size != len(codes_in) or not np.all(np.isfinite(out)):
        raise ValueError("not pointwise or not finite")
    return out


class TabulatePointwise(Transformation):
    """``Quant(<= 8 bits) -> pointwise float subgraph -> Quant`` -> ``Quant -> TableActivation``,
    the table from executing the subgraph on every input code (see the module docstring)."""

    def apply(self, model: ModelWrapper) -> tuple[ModelWrapper, bool]:
        for q_in in model.graph.node:
            pin = quant_params(model, q_in)
            if pin is None or pin["bits"] > MAX_IN_BITS:
                continue
            a = q_in.output[0]
            region = _pointwise_region(model, a)
            if region is None:
                continue
            nodes, f_out = region
            if all(n.op_type in STREAMLINED for n in nodes):
                continue
            nxt = model.find_consumers(f_out) or []
            if len(nxt) != 1 or f_out in [o.name for o in model.graph.output] or nxt[0].input[0] != f_out:
                continue
            q_out = nxt[0]
            pout = quant_params(model, q_out)
            if pout is None:
                continue
            spec = _spec(FROM_GRAPH, pin, pout)
            lo, hi = spec.in_range
            try:
                y = tabulate(model, nodes, q_out, a, np.arange(lo, hi + 1), pin)
            except Exception:  # noqa: BLE001 - an op qonnx cannot run on a vector: not a table, left alone
                continue
            table = np.rint(y / pout["scale"]).astype(np.int64) + pout["zero"]
            omin, omax = code_range(pout["bits"], pout["signed"], pout["narrow"])
            if table.min() < omin or table.max() > omax:
                continue
            _replace(model, q_in, nodes, q_out, spec, table)
            return model, True
        return model, False


__all__ = ["POINTWISE", "STREAMLINED", "InferTableActivation", "TabulatePointwise", "quant_params", "tabulate"]
