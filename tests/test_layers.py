"""hyq's layers import only downward: import-linter's ``layers`` contract in pyproject.toml
holds for the package, and an upward import makes it fail."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT = Path(sys.executable).with_name("lint-imports")


def _lint(root: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(root), "NO_COLOR": "1"}
    return subprocess.run([str(LINT), "--no-cache"], cwd=root, env=env, capture_output=True, text=True, timeout=300)


def test_layers_contract_is_kept():
    proc = _lint(ROOT)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "kept, 0 broken" in proc.stdout


#: an upward import at module level, and one inside a function (the lazy imports hyq keeps
#: for start-up time are held to the same layers)
UPWARD = {
    "module": "\nfrom hyq.report import write  # an upward import\n",
    "function": "\n\ndef _late():\n    from hyq.report import write  # an upward import\n    return write\n",
}


@pytest.mark.parametrize("where", sorted(UPWARD))
def test_an_upward_import_breaks_the_contract(tmp_path, where):
    shutil.copytree(ROOT / "hyq", tmp_path / "hyq", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    quant = tmp_path / "hyq" / "nn" / "quant.py"
    quant.write_text(quant.read_text() + UPWARD[where])
    proc = _lint(tmp_path)
    assert proc.returncode != 0
    assert "hyq.nn is not allowed to import hyq.report" in proc.stdout
