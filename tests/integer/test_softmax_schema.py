"""hyq.integer.softmax_schema: the IntSoftmax attributes are SoftmaxParams' fields, round trip."""

from __future__ import annotations

import dataclasses

import pytest

from hyq.integer import softmax_schema
from hyq.integer.softmax import METHODS, OUT_FORMATS, SoftmaxParams, softmax_params


def test_every_field_is_an_attribute():
    types = softmax_schema.attribute_types()
    names = {"input_scale" if f.name == "scale" else f.name for f in dataclasses.fields(SoftmaxParams)}
    assert set(types) == names
    assert types["in_shift"] == ("i", False, 0)  # has a default: optional (older models lack it)
    assert types["x0"][:2] == ("i", True) and types["input_scale"][:2] == ("f", True)
    assert types["method"][3] == set(METHODS) and types["out_format"][3] == set(OUT_FORMATS)


@pytest.mark.parametrize("method, fmt, bits", [("linmax", "uint", 8), ("ibert", "log2", 4), ("shiftmax", "uint", 8)])
def test_round_trip(method, fmt, bits):
    p = softmax_params(0.01, method, bits, fmt, 8)
    attrs = softmax_schema.attributes(p)
    assert softmax_schema.params(attrs.__getitem__) == p
    kw = softmax_schema.onnx_kwargs(p)
    assert kw["method_s"] == method and kw["input_scale_f"] == 0.01 and kw["x0_i"] == p.x0
    assert list(kw)[:3] == ["method_s", "out_format_s", "input_scale_f"]
