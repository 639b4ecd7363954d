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
    # with code generation (only the chosen folding gets one): code generation renames every
    # node, and the report still finds FINN's estimate of each (none of hyq's layers reads 0)
    proc = hyq("build", str(onnx_path), "--part", PART, "--fit", "0.6", "--steps", "codegen",
               "--out", str(tmp_path / "codegen"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    gen = json.loads((tmp_path / "codegen" / "report.json").read_text())
    assert "step_hw_codegen" in gen["flow"]
    assert gen["total"] == rep["total"] and gen["throughput_fps"] == rep["throughput_fps"]
    assert [c["target_fps"] for c in gen["fit"]["candidates"]] == [c["target_fps"] for c in fit["candidates"]]
    hyq_layers = [la for la in gen["layers"] if la["op_type"].startswith("Hyq")]
    assert hyq_layers and all(la["LUT"] > 0 for la in hyq_layers)


def test_fit_fraction_out_of_range_is_an_error(tmp_path):
    from hyq.dataflow import BuildSpec
    from hyq.dataflow.fit import fit
    from hyq.errors import HyqError

    with pytest.raises(HyqError, match="fit fraction"):
        fit(tmp_path / "none.onnx", BuildSpec(part=PART), tmp_path, 1.5)
