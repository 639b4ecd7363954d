"""A non-editable install carries hw/ and flows/: ``pip install --no-deps --target DIR .``
from a copy of the repository, then ``hyq run`` with only DIR on PYTHONPATH, elsewhere."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: what a clone holds that the build reads
SOURCES = ("pyproject.toml", "setup.py", "README.md", "hyq", "hw", "flows")


@pytest.mark.slow
def test_installed_package_runs_the_default_flow(tmp_path):
    clone, site, work = tmp_path / "clone", tmp_path / "site", tmp_path / "work"
    for name in SOURCES:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, clone / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            clone.mkdir(exist_ok=True)
            shutil.copy(src, clone / name)
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(site), "."],
                   cwd=clone, check=True, timeout=600)
    shutil.rmtree(clone)  # nothing may be read from the source tree
    assert (site / "hyq" / "hw" / "rtl").is_dir() and (site / "hyq" / "flows" / "default.yaml").is_file()
    work.mkdir()
    env = {**os.environ, "PYTHONPATH": str(site)}
    where = subprocess.run([sys.executable, "-c", "import hyq.resources as r; print(r.HW_DIR, r.FLOWS_DIR)"],
                           cwd=work, env=env, capture_output=True, text=True, check=True)
    assert where.stdout.split() == [str(site / "hyq" / "hw"), str(site / "hyq" / "flows")]
    proc = subprocess.run([sys.executable, "-m", "hyq.cli", "run", "--out", "out"], cwd=work, env=env,
                          capture_output=True, text=True, timeout=1800)
    assert proc.returncode == 0, proc.stderr[-2000:]
    rep = json.loads((work / "out" / "report.json").read_text())
    assert rep["unmapped_nodes"] == [] and rep["total"]["LUT"] > 0
