"""Killed processes (SIGKILL, no clean-up) and damaged cache entries: resumed or recomputed, never trusted."""

import json
import os
import random
import signal
import subprocess
import sys
from pathlib import Path

import onnx

from hyq import cache
from tests.conftest import ROOT, hyq
from tests.test_cli import _export


def test_truncated_cache_entry_is_detected_and_recomputed(tmp_path, monkeypatch):
    monkeypatch.setenv("HYQ_CACHE", str(tmp_path))
    calls = []

    def make(folder: Path):
        calls.append(1)
        (folder / "model.pt").write_bytes(b"x" * 4096)

    first = cache.entry("kind", "k", make)
    assert cache.has("kind", "k") and len(calls) == 1
    with open(first / "model.pt", "r+b") as f:  # the disk lost the tail of the file
        f.truncate(100)
    assert not cache.has("kind", "k")
    again = cache.entry("kind", "k", make)
    assert len(calls) == 2 and (again / "model.pt").stat().st_size == 4096 and cache.has("kind", "k")
    (again / cache.MANIFEST).unlink()  # a folder without its manifest (killed before it was written)
    cache.entry("kind", "k", make)
    assert len(calls) == 3
    assert sorted(p.name for p in (tmp_path / "kind").iterdir()) == ["k"]


def test_cache_write_killed_leaves_no_entry(tmp_path):
    env = {**os.environ, "HYQ_CACHE": str(tmp_path)}
    code = ("import os, signal; from hyq import cache\n"
            "def make(d):\n (d / 'a.bin').write_bytes(b'y' * 1000)\n os.kill(os.getpid(), signal.SIGKILL)\n"
            "cache.entry('kind', 'k', make)")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env)
    assert proc.returncode == -signal.SIGKILL
    assert not (tmp_path / "kind" / "k").exists() and not cache.has("kind", "k")


def test_build_killed_at_a_random_step_resumes(tmp_path):
    model = _export(tmp_path, "mlp.onnx")
    out = tmp_path / "o"
    args = ["build", str(model), "--part", "xczu3eg-sbva484-1-e", "--out", str(out)]
    at = random.Random(os.environ.get("HYQ_FAULT_SEED", "17")).randint(1, 12)
    proc = subprocess.Popen([sys.executable, "-m", "hyq.cli", *args], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env=os.environ.copy())
    for line in proc.stdout:
        if f"FINN step {at}/" in line:
            proc.send_signal(signal.SIGKILL)
            break
    proc.wait(timeout=600)
    assert proc.returncode == -signal.SIGKILL
    assert not (out / "report.json").exists() and not (out / "report.md").exists()
    inter = out / "finn" / "intermediate_models"
    for f in inter.glob("*_step_*.onnx"):  # every model under its final name is whole
        onnx.load(str(f))
    done = json.loads((out / "finn" / "progress.json").read_text())["done"]
    assert len(done) >= at
    again = hyq(*args)
    assert again.returncode == 0, again.stdout[-2000:] + again.stderr[-2000:]
    assert "resuming FINN build after" in again.stdout
    assert json.loads((out / "report.json").read_text())["complete"] is True
