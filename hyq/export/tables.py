"""The rewrite that turns an exported ``Quant -> f -> Quant`` into a TableActivation node.

Brevitas exports a pointwise function between two quantizers as float ONNX between two
Quant nodes: SiLU as ``Sigmoid`` and ``Mul(x, sigmoid(x))``, Hardswish as ``HardSwish``,
GELU (opset >= 20) as ``Gelu``. When the first Quant has at most 8 bits, scalar scale and
integer zero point, :class:`InferTableActivation` replaces the function and the second
Quant by one ``TableActivation`` node holding the table of output codes
(:func:`hyq.integer.table.build_table`). The first Quant stays (it becomes thresholds in
FINN); the node's output is what the second Quant emitted, so execution is unchanged up
to the half-integer ties :mod:`hyq.integer.table` describes.
"""

from __future__ import annotations

import numpy as np
from onnx import helper
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.custom_op.registry import getCustomOp
from qonnx.transformation.base import Transformation

from hyq.integer.table import MAX_IN_BITS, TableSpec, build_table

DOMAIN = "hyq.export.ops"
_SINGLE = {"HardSwish": "hardswish", "Gelu": "gelu"}


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
        if n.op_type in _SINGLE and list(n.input) == [a]:
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
            spec = TableSpec(function, pin["bits"], pin["signed"], pin["scale"], pout["bits"], pout["signed"],
                             pout["scale"], pin["zero"], pout["zero"], pin["narrow"], pout["narrow"])
            node = helper.make_node(
                "TableActivation", [q_in.output[0]], [q_out.output[0]], domain=DOMAIN,
                name=f"TableActivation_{q_out.name}", function=function, table=[int(t) for t in build_table(spec)],
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
            return model, True
        return model, False


__all__ = ["InferTableActivation", "quant_params"]
