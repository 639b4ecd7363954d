"""Folding files are checked before FINN reads them: counts are positive integers, FINN's
``parallel_window`` is an on/off flag (0 is valid: it is what hyq's own --fit writes)."""

import json

import pytest

from hyq.dataflow import folding_check
from hyq.errors import HyqError


def _file(tmp_path, attrs):
    p = tmp_path / "folding.json"
    p.write_text(json.dumps({"Defaults": {}, "ConvolutionInputGenerator_rtl_0": attrs}))
    return p


@pytest.mark.parametrize("flag", [0, 1])
def test_parallel_window_is_a_flag(tmp_path, flag):
    assert folding_check.load(_file(tmp_path, {"SIMD": 2, "parallel_window": flag}))


@pytest.mark.parametrize("attrs, msg", [
    ({"parallel_window": 2}, "parallel_window must be 0 or 1"),
    ({"parallel_window": True}, "parallel_window must be 0 or 1"),
    ({"SIMD": 0}, "SIMD must be a positive integer"),
])
def test_bad_values_name_the_file_and_key(tmp_path, attrs, msg):
    with pytest.raises(HyqError, match=msg) as e:
        folding_check.load(_file(tmp_path, attrs))
    assert "folding.json" in str(e.value) and "ConvolutionInputGenerator_rtl_0" in str(e.value)
