"""Shared fixtures: an isolated hyq cache per test session, and one real default run.

The default run is the real ``hyq run`` command on the shipped default flow (training,
QONNX export and check, finn-plus estimate build); several tests read its outputs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session", autouse=True)
def _hyq_cache(tmp_path_factory):
    """Keep the suite's training/EDA caches out of the user's ~/.cache (unless HYQ_CACHE is set)."""
    if "HYQ_CACHE" not in os.environ:
        os.environ["HYQ_CACHE"] = str(tmp_path_factory.mktemp("hyq-cache"))
    yield


def hyq(*args: str, cwd: Path | None = None, timeout: int = 1800) -> subprocess.CompletedProcess:
    """Run the ``hyq`` command line as a user would (a separate process)."""
    return subprocess.run(
        [sys.executable, "-m", "hyq.cli", *args], cwd=cwd or ROOT, capture_output=True, text=True,
        timeout=timeout, env=os.environ.copy(),
    )


@pytest.fixture(scope="session")
def default_run(tmp_path_factory) -> Path:
    """Output folder of ``hyq run`` on the embedded default flow."""
    out = tmp_path_factory.mktemp("default-run")
    proc = hyq("run", "--out", str(out))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return out


@pytest.fixture(scope="session")
def default_report(default_run) -> dict:
    return json.loads((default_run / "report.json").read_text())


@pytest.fixture(scope="session")
def default_codegen(tmp_path_factory) -> Path:
    """``hyq run`` of the default flow with RTL code generation (training shared via the cache)."""
    import yaml

    from hyq.config import DEFAULT_FLOW

    out = tmp_path_factory.mktemp("default-codegen")
    raw = yaml.safe_load(DEFAULT_FLOW.read_text())
    raw["hardware"]["steps"] = "codegen"
    flow = out / "codegen.yaml"
    flow.write_text(yaml.safe_dump(raw))
    proc = hyq("run", "--config", str(flow), "--out", str(out / "build"))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return out / "build"


@pytest.fixture(scope="session")
def hybrid_codegen(tmp_path_factory) -> Path:
    """RTL code generation of the (untrained) hybrid-tiny: attention, integer softmax, shuffles."""
    from hyq.jobs.flow import build_onnx
    from hyq.jobs.untrained import export_untrained

    out = tmp_path_factory.mktemp("hybrid-codegen")
    onnx_path = export_untrained("hybrid-tiny", out / "hybrid-tiny.onnx", in_channels=1, num_classes=10, size=8,
                                 samples=16)
    build_onnx(onnx_path, "xc7z020clg400-1", out / "build", target_fps=1000, steps="codegen")
    return out / "build"
