"""--fit: the fastest folding within a fraction of the part, written as a folding file that
--folding accepts and that reproduces the same estimate."""

from __future__ import annotations

import json

import pytest

from hyq.jobs.untrained import export_untrained
from tests.conftest import hyq

PART = "xc7z020clg400-1"


@pytest.mark.slow
def test_fit_default_cnn_on_xc7z020(tmp_path):
    onnx_path = export_untrained("mv2-cnn", tmp_path / "cnn.onnx", in_channels=1, num_classes=10, size=8,
                                 samples=16, stem=16, stages=[[16, 1, 1], [24, 2, 1]], expand=2)
    proc = hyq("build", str(onnx_path), "--part", PART, "--fit", "0.6", "--out", str(tmp_path / "fit"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    rep = json.loads((tmp_path / "fit" / "report.json").read_text())
    fit = rep["fit"]
    assert rep["fits"] is True and fit["fits"] is True and fit["fraction"] == 0.6
    for k in ("LUT", "BRAM_18K", "DSP"):
        assert rep["utilisation"][k] <= 0.6
    assert fit["binding_resource"] in rep["utilisation"]
    assert fit["throughput_fps"] == rep["throughput_fps"]
    # what holds the binding resource, per op type, in report.json; the outcome in report.md
    held = fit["binding_holders"]["by_op_type"]
    assert held and all(v > 0 for v in held.values())
    md = (tmp_path / "fit" / "report.md").read_text()
    assert f"| fit (60% of the part) | target {fit['target_fps']:,} fps" in md and fit["binding_resource"] in md
    # the fastest candidate is over the fraction: fitting beats asking for the most
    fastest = max(fit["candidates"], key=lambda c: c["target_fps"])
    assert not fastest["ok"] and max(fastest["utilisation"].values()) > 0.6
    feasible = [c for c in fit["candidates"] if c["ok"]]
    assert rep["throughput_fps"] == max(c["throughput_fps"] for c in feasible)
    assert rep["throughput_fps"] > min(c["throughput_fps"] for c in feasible)
    # the folding file round-trips through --folding to the same estimate
    proc = hyq("build", str(onnx_path), "--part", PART, "--folding", fit["folding_file"],
               "--out", str(tmp_path / "again"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    again = json.loads((tmp_path / "again" / "report.json").read_text())
    assert again["total"] == rep["total"] and again["throughput_fps"] == rep["throughput_fps"]
    # with code generation (only the chosen folding gets one) and --target-fps capping the
    # search at the target chosen above: two candidates (1 fps and the cap) instead of a
    # bisection, and the same folding. Code generation renames every node, and the report
    # still finds FINN's estimate of each (none of hyq's layers reads 0)
    cap = fit["target_fps"]
    proc = hyq("build", str(onnx_path), "--part", PART, "--fit", "0.6", "--target-fps", str(cap),
               "--steps", "codegen", "--out", str(tmp_path / "codegen"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    gen = json.loads((tmp_path / "codegen" / "report.json").read_text())
    assert "step_hw_codegen" in gen["flow"]
    assert gen["total"] == rep["total"] and gen["throughput_fps"] == rep["throughput_fps"]
    assert gen["fit"]["max_fps"] == cap and gen["fit"]["target_fps"] == cap
    assert [c["target_fps"] for c in gen["fit"]["candidates"]] == [1, cap]
    hyq_layers = [la for la in gen["layers"] if la["op_type"].startswith("Hyq")]
    assert hyq_layers and all(la["LUT"] > 0 for la in hyq_layers)


def test_fit_fraction_out_of_range_is_an_error(tmp_path):
    from hyq.dataflow import BuildSpec
    from hyq.dataflow.fit import fit
    from hyq.errors import HyqError

    with pytest.raises(HyqError, match="fit fraction"):
        fit(tmp_path / "none.onnx", BuildSpec(part=PART), tmp_path, 1.5)


def test_fit_with_a_folding_file_is_one_error_line(tmp_path):
    from tests.test_cli import _one_line_error

    out = tmp_path / "o"  # checked before the model is read
    proc = hyq("build", str(tmp_path / "m.onnx"), "--part", PART, "--fit", "--folding", str(tmp_path / "f.json"), "--out", str(out))
    _one_line_error(proc, "--fit", "--folding")
    assert not out.exists()


def test_why_a_design_does_not_fit_names_resource_and_holders():
    from hyq.dataflow.fit import _why, holders

    rows = {"MVAU_rtl_0": ("MVAU_rtl", {"LUT": 10.0, "BRAM_18K": 300.0}),
            "MVAU_rtl_1": ("MVAU_rtl", {"LUT": 10.0, "BRAM_18K": 100.0}),
            "StreamingFIFO_rtl_0": ("StreamingFIFO_rtl", {"LUT": 5.0, "BRAM_18K": 50.0}),
            "HyqRequant_rtl_0": ("HyqRequant_rtl", {"LUT": 90.0, "BRAM_18K": 0.0})}
    held = holders(rows, "BRAM_18K", top=2)
    assert held["by_op_type"] == {"MVAU_rtl": 400.0, "StreamingFIFO_rtl": 50.0}
    assert held["largest_layers"] == [{"layer": "MVAU_rtl_0", "BRAM_18K": 300.0}, {"layer": "MVAU_rtl_1", "BRAM_18K": 100.0}]
    best = {"binding": "BRAM_18K", "rows": rows, "total": {"BRAM_18K": 450.0}, "utilisation": {"BRAM_18K": 450 / 288}}
    why = _why(best, 1, 0.8, {"BRAM_18K": 288})
    assert why.startswith("even the most folded design (target 1 fps) needs 450 BRAM_18K (156.2% of the part's 288, over 80%)")
    assert "by op type: MVAU_rtl 400, StreamingFIFO_rtl 50; largest: MVAU_rtl_0 300" in why
