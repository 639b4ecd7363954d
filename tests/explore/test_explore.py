"""hyq explore on the tiny space, end to end: interrupted, resumed, files, Pareto set.

Real training and real FINN estimate builds on two Dask worker processes.
"""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys

import pytest

from tests.conftest import ROOT, hyq
from tests.explore.test_pareto import brute_force

TINY = ROOT / "flows" / "spaces" / "tiny.yaml"


def _interrupt_after_first_point(out) -> None:
    """Start ``hyq explore`` and press Ctrl-C (SIGINT to its process group) after one point finishes."""
    proc = subprocess.Popen([sys.executable, "-m", "hyq.cli", "explore", "--space", str(TINY), "--out", str(out),
                             "--workers", "2"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, env=os.environ.copy(), start_new_session=True,
                            # default SIGINT handling even when the suite runs as a background job
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    seen = []
    try:
        for line in proc.stdout:
            seen.append(line)
            if "point 1/3 done" in line:
                break
        assert any("point 1/3 done" in s for s in seen), "".join(seen)[-3000:]
        os.killpg(proc.pid, signal.SIGINT)
        proc.wait(timeout=300)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode != 0   # interrupted, not finished


@pytest.mark.slow
def test_tiny_space_resumes_and_finds_the_pareto_set(tmp_path, monkeypatch):
    # a cache of its own: with every point's training already cached by earlier tests the
    # points finish within a second and the Ctrl-C would come too late
    monkeypatch.setenv("HYQ_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "dse"
    _interrupt_after_first_point(out)
    finished = {p.parent.name: p.stat().st_mtime_ns for p in (out / "points").glob("*/result.json")}
    assert 1 <= len(finished) < 3
    assert not (out / "points.csv").exists()

    proc = hyq("explore", "--space", str(TINY), "--out", str(out), "--workers", "2")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert f"{len(finished)}/3 points already done (cached); {3 - len(finished)} to run" in proc.stdout
    assert "point 3/3 done" in proc.stdout
    for key, mtime in finished.items():   # finished points were not recomputed
        assert (out / "points" / key / "result.json").stat().st_mtime_ns == mtime

    with open(out / "points.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 3 and all(r["status"] == "ok" for r in rows)
    for r in rows:   # the columns are the point's own report
        rep = json.loads((out / "points" / r["key"] / "run" / "report.json").read_text())
        assert float(r["LUT"]) == rep["total"]["LUT"] and float(r["accuracy"]) == rep["accuracy"]["quantized"]
        assert rep["flow_config"]["quant"]["weight_bits"] == int(r["axis:quant.weight_bits"])
    objectives = {"accuracy": "max", "LUT": "min"}
    values = [{k: float(r[k]) for k in objectives} for r in rows]
    pareto = json.loads((out / "pareto.json").read_text())
    assert pareto["objectives"] == objectives
    assert pareto["indices"] == brute_force(values, objectives)
    # more target fps at the same bits changes the LUTs: the folding axis does something
    lut = {(int(r["axis:quant.weight_bits"]), int(r["axis:hardware.target_fps"])): float(r["LUT"]) for r in rows}
    assert lut[4, 20000] != lut[4, 1000]  # (not monotone: requant: auto picks per layer by cost)
    for name in ("accuracy_vs_LUT", "accuracy_vs_BRAM_18K", "accuracy_vs_storage_bytes", "folding_fps_vs_LUT",
                 *(f"layers_point{i}" for i in pareto["indices"])):
        for ext in ("png", "svg"):
            assert (out / "plots" / f"{name}.{ext}").stat().st_size > 1000

    again = hyq("explore", "--space", str(TINY), "--out", str(out), "--workers", "1")
    assert again.returncode == 0 and "3/3 points already done" in again.stdout and "dask:" not in again.stdout

    # a remote scheduler by address: one point redone there gives the same numbers
    from dask.distributed import LocalCluster

    (out / "points" / rows[0]["key"] / "result.json").unlink()
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster:
        remote = hyq("explore", "--space", str(TINY), "--out", str(out), "--scheduler", cluster.scheduler_address)
    assert remote.returncode == 0, remote.stdout[-3000:] + remote.stderr[-3000:]
    assert f"dask: scheduler {cluster.scheduler_address}" in remote.stdout and "point 3/3 done" in remote.stdout
    redone = json.loads((out / "points" / rows[0]["key"] / "result.json").read_text())
    assert (redone["LUT"], redone["accuracy"]) == (float(rows[0]["LUT"]), float(rows[0]["accuracy"]))
    assert json.loads((out / "pareto.json").read_text())["indices"] == pareto["indices"]


def _kill_tree(proc: subprocess.Popen) -> None:
    """SIGKILL a process and every process it started (its Dask workers), as a crash of the
    machine's hyq processes would; returns once all of them are gone."""
    import psutil

    tree = [psutil.Process(proc.pid), *psutil.Process(proc.pid).children(recursive=True)]
    for p in tree:
        try:
            p.kill()
        except psutil.NoSuchProcess:
            pass
    proc.wait(timeout=120)
    psutil.wait_procs(tree, timeout=120)


@pytest.mark.slow
def test_sweep_killed_resumes_and_trusts_only_whole_points(tmp_path, monkeypatch):
    """SIGKILL to the sweep and its Dask workers once a point has finished: every result.json
    left is whole and backed by its report, no points.csv or pareto.json is left, and a rerun
    keeps the finished points and runs only the rest."""
    monkeypatch.setenv("HYQ_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "dse"
    proc = subprocess.Popen([sys.executable, "-m", "hyq.cli", "explore", "--space", str(TINY), "--out", str(out),
                             "--workers", "2"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, env=os.environ.copy())
    seen = []
    try:
        for line in proc.stdout:
            seen.append(line)
            if "point 1/3 done" in line:
                break
    finally:
        _kill_tree(proc)
    assert any("point 1/3 done" in s for s in seen), "".join(seen)[-3000:]
    assert proc.returncode == -signal.SIGKILL
    assert not (out / "points.csv").exists() and not (out / "pareto.json").exists()
    finished = {}
    for res in (out / "points").glob("*/result.json"):
        row = json.loads(res.read_text())  # whole JSON, never half a file
        assert row["status"] == "ok" and (res.parent / "run" / "report.json").is_file()
        finished[res.parent.name] = res.stat().st_mtime_ns
    assert 1 <= len(finished) < 3
    again = hyq("explore", "--space", str(TINY), "--out", str(out), "--workers", "2")
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    assert f"{len(finished)}/3 points already done (cached)" in again.stdout, again.stdout[-3000:]
    assert "point 3/3 done" in again.stdout
    for key, mtime in finished.items():  # finished points were not recomputed
        assert (out / "points" / key / "result.json").stat().st_mtime_ns == mtime
    with open(out / "points.csv") as f:
        assert [r["status"] for r in csv.DictReader(f)] == ["ok"] * 3
