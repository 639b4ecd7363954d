"""``hyq run --config flows/hybrid-tiny.yaml``: trained hybrid, W8A8 within a point of float,
complete mapping with a cost on every compute layer (the real command, end to end)."""

import json

import pytest

from tests.conftest import ROOT, hyq
from tests.dataflow.test_hybrid import check_complete


@pytest.mark.slow
def test_hybrid_tiny_flow(tmp_path):
    proc = hyq("run", "--config", str(ROOT / "flows" / "hybrid-tiny.yaml"), "--out", str(tmp_path), timeout=3600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "unmapped nodes" in proc.stdout
    rep = json.loads((tmp_path / "report.json").read_text())
    acc = rep["accuracy"]
    assert acc["quantized"] >= acc["float"] - 0.01
    assert rep["export_check"]["passed"]
    check_complete(rep)
