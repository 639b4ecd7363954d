"""The IntSoftmax node-attribute schema, generated from :class:`SoftmaxParams`' fields.

The exported QONNX node (``hyq.export.ops.intsoftmax``), the FINN layer
(``hyq.dataflow.ops.softmax``) and the exporter (``hyq.nn.softmax``) all record one softmax
unit as attributes. They take the names, types and defaults from here, so that a field
added to ``SoftmaxParams`` reaches every one of them: each int field is an ``i`` attribute
(required, unless the field has a default: ``in_shift``, absent in older models), ``method``
and ``out_format`` are strings with their allowed values, and ``scale`` is recorded as the
float ``input_scale``.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

from hyq.integer.softmax import METHODS, OUT_FORMATS, SoftmaxParams

#: attribute name of a SoftmaxParams field where it differs from the field name
_RENAMED = {"scale": "input_scale"}
_CHOICES = {"method": set(METHODS), "out_format": set(OUT_FORMATS)}
_CODES = {"int": "i", "float": "f", "str": "s"}


def _fields() -> list[dataclasses.Field]:
    """SoftmaxParams' fields: the strings, the float, then the ints (the exported node's order)."""
    return sorted(dataclasses.fields(SoftmaxParams), key=lambda f: "sfi".index(_CODES[str(f.type)]))


def attribute_types() -> dict[str, tuple]:
    """qonnx ``get_nodeattr_types`` entries of the SoftmaxParams attributes."""
    types: dict[str, tuple] = {}
    for f in _fields():
        code = _CODES[str(f.type)]
        has_default = f.default is not dataclasses.MISSING
        default = f.default if has_default else {"i": 0, "f": 0.0, "s": ""}[code]
        if f.name in _CHOICES:
            default = default if has_default else (METHODS if f.name == "method" else OUT_FORMATS)[0]
            types[_RENAMED.get(f.name, f.name)] = (code, not has_default, default, _CHOICES[f.name])
        else:
            types[_RENAMED.get(f.name, f.name)] = (code, not has_default, default)
    return types


def attributes(p: SoftmaxParams) -> dict[str, Any]:
    """The attribute values of ``p`` (attribute name -> value)."""
    return {_RENAMED.get(f.name, f.name): getattr(p, f.name) for f in _fields()}


def onnx_kwargs(p: SoftmaxParams) -> dict[str, Any]:
    """The attributes of ``p`` as ``torch.onnx`` ``g.op`` keywords (``name_<type code>``)."""
    types = attribute_types()
    return {f"{name}_{types[name][0]}": value for name, value in attributes(p).items()}


def params(get: Callable[[str], Any]) -> SoftmaxParams:
    """SoftmaxParams from a node's attributes (``get`` is ``CustomOp.get_nodeattr``)."""
    cast = {"i": int, "f": float, "s": str}
    types = attribute_types()
    return SoftmaxParams(**{f.name: cast[types[_RENAMED.get(f.name, f.name)][0]](get(_RENAMED.get(f.name, f.name)))
                            for f in _fields()})
