"""Shared fixtures: an isolated hyq cache per test run, and one real default run.

The default run is the real ``hyq run`` command on the shipped default flow (training,
QONNX export and check, finn-plus estimate build); several tests read its outputs.
``make test`` spreads the test files over two processes (pytest-xdist, ``--dist
loadfile``); the cache and the default run are shared between them, made once.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from filelock import FileLock

ROOT = Path(__file__).resolve().parent.parent


def _run_root(tmp_path_factory) -> Path:
    """A folder shared by every process of this test run (xdist workers have a common parent)."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


def made_once(tmp_path_factory, name: str, make: Callable[[Path], None]) -> Path:
    """The folder ``name``, filled by ``make`` once per test run, however many processes ask.

    The first process to ask makes it under a file lock; the others wait and reuse it. A
    folder whose ``make`` failed has no ``.done`` marker and is made again by the next asker.
    """
    out = _run_root(tmp_path_factory) / name
    with FileLock(f"{out}.lock"):
        if not (out / ".done").exists():
            shutil.rmtree(out, ignore_errors=True)
            out.mkdir(parents=True)
            make(out)
            (out / ".done").touch()
    return out


@pytest.fixture(scope="session", autouse=True)
def _hyq_cache(tmp_path_factory):
    """Keep the suite's training/EDA caches out of the user's ~/.cache (unless HYQ_CACHE is set).

    One cache for the whole run, shared by the xdist workers (hyq's cache is safe for
    concurrent use: entries appear by an atomic rename), so a model trains once.
    """
    if "HYQ_CACHE" not in os.environ:
        cache = _run_root(tmp_path_factory) / "hyq-cache"
        cache.mkdir(exist_ok=True)
        os.environ["HYQ_CACHE"] = str(cache)
    yield


def hyq(*args: str, cwd: Path | None = None, timeout: int = 1800) -> subprocess.CompletedProcess:
    """Run the ``hyq`` command line as a user would (a separate process)."""
    return subprocess.run(
        [sys.executable, "-m", "hyq.cli", *args], cwd=cwd or ROOT, capture_output=True, text=True,
        timeout=timeout, env=os.environ.copy(),
    )


@pytest.fixture(scope="session")
def default_run(tmp_path_factory) -> Path:
    """Output folder of ``hyq run`` on the embedded default flow (read-only: tests that run a
    hyq command on it, which locks the folder, use ``default_run_copy``)."""
    def make(out: Path) -> None:
        proc = hyq("run", "--out", str(out))
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return made_once(tmp_path_factory, "default-run", make)


@pytest.fixture
def default_run_copy(default_run, tmp_path) -> Path:
    """A private copy of the default run, for commands that lock or write their folder."""
    out = tmp_path / "default-run"
    shutil.copytree(default_run, out, ignore=shutil.ignore_patterns(".done", ".hyq.lock"))
    return out


@pytest.fixture(scope="session")
def default_report(default_run) -> dict:
    return json.loads((default_run / "report.json").read_text())


def _private_copy(build: Path, tmp_path: Path) -> Path:
    """A test's own copy of a shared build (``hyq sim`` / ``hyq synth`` lock and update it)."""
    out = tmp_path / build.name
    shutil.copytree(build, out, ignore=shutil.ignore_patterns(".done", ".hyq.lock"), symlinks=True)
    return out


@pytest.fixture(scope="session")
def _default_codegen_shared(tmp_path_factory) -> Path:
    def make(out: Path) -> None:
        import yaml

        from hyq.config import DEFAULT_FLOW

        raw = yaml.safe_load(DEFAULT_FLOW.read_text())
        raw["hardware"]["steps"] = "codegen"
        flow = out / "codegen.yaml"
        flow.write_text(yaml.safe_dump(raw))
        proc = hyq("run", "--config", str(flow), "--out", str(out / "build"))
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return made_once(tmp_path_factory, "default-codegen", make) / "build"


@pytest.fixture
def default_codegen(_default_codegen_shared, tmp_path) -> Path:
    """``hyq run`` of the default flow with RTL code generation (training shared via the
    cache; built once per test run, each test gets its own copy)."""
    return _private_copy(_default_codegen_shared, tmp_path)


@pytest.fixture(scope="session")
def _hybrid_codegen_shared(tmp_path_factory) -> Path:
    def make(out: Path) -> None:
        from hyq.jobs.flow import build_onnx
        from hyq.jobs.untrained import export_untrained

        onnx_path = export_untrained("hybrid-tiny", out / "hybrid-tiny.onnx", in_channels=1, num_classes=10,
                                     size=8, samples=16, norm="layer", act="silu")
        build_onnx(onnx_path, "xc7z020clg400-1", out / "build", target_fps=1000, steps="codegen")
    return made_once(tmp_path_factory, "hybrid-codegen", make) / "build"


@pytest.fixture
def hybrid_codegen(_hybrid_codegen_shared, tmp_path) -> Path:
    """RTL code generation of the (untrained) hybrid-tiny as published (LayerNorm, SiLU as in
    flows/hybrid-tiny-published.yaml): attention, integer softmax, LayerNorm, table activations,
    shuffles (built once per test run, each test gets its own copy)."""
    return _private_copy(_hybrid_codegen_shared, tmp_path)
