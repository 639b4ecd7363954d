"""The same flow file gives the same report: two runs of the default flow, each training in
its own empty cache, agree on every figure of report.json (timings and paths aside)."""

from __future__ import annotations

import json
import numbers

import pytest

from tests.conftest import hyq

#: keys whose values legitimately differ between runs (wall-clock times, output folders)
VARYING = ("seconds", "time", "build_dir", "path")


def figures(node, where: str = "") -> dict[str, object]:
    """Every number (and bool) in a report, keyed by its JSON path."""
    if isinstance(node, dict):
        out: dict[str, object] = {}
        for k, v in node.items():
            if not any(word in k for word in VARYING):
                out.update(figures(v, f"{where}.{k}"))
        return out
    if isinstance(node, list):
        return {k: v for i, item in enumerate(node) for k, v in figures(item, f"{where}[{i}]").items()}
    return {where: node} if isinstance(node, (numbers.Number, bool)) or node is None else {}


def test_figures_walks_nested_reports_and_skips_timings():
    rep = {"total": {"LUT": 5.0}, "layers": [{"cycles": 3, "name": "a"}], "build_seconds": {"x": 1.0},
           "accuracy": {"float": 0.9, "dataset": "digits"}}
    assert figures(rep) == {".total.LUT": 5.0, ".layers[0].cycles": 3, ".accuracy.float": 0.9}


@pytest.mark.slow
def test_two_default_runs_in_separate_caches_give_identical_figures(default_report, tmp_path, monkeypatch):
    monkeypatch.setenv("HYQ_CACHE", str(tmp_path / "cache"))  # nothing trained is reused
    proc = hyq("run", "--out", str(tmp_path / "out"))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "train (cached)" not in proc.stdout + proc.stderr
    second = json.loads((tmp_path / "out" / "report.json").read_text())
    a, b = figures(default_report), figures(second)
    assert len(a) > 50 and ".accuracy.float" in a and ".total.LUT" in a
    assert a == b, {k: (a.get(k), b.get(k)) for k in set(a) | set(b) if a.get(k) != b.get(k)}
    names = [(layer["name"], layer["op_type"]) for layer in default_report["layers"]]
    assert names == [(layer["name"], layer["op_type"]) for layer in second["layers"]]
