"""The FINN build runner: resumable after an interruption, settings change invalidates."""

import json
import shutil

import pytest

from hyq.dataflow import STEPS, BuildSpec, build
from hyq.dataflow.build import _step_name
from hyq.errors import HyqError

NAMES = [_step_name(s) for s in STEPS["estimate"]]


def _estimates(out):
    return json.loads((out / "report" / "estimate_layer_resources.json").read_text())["total"]


@pytest.fixture
def copied_build(default_run, tmp_path):
    """A copy of the default run's finished FINN build folder."""
    out = tmp_path / "finn"
    shutil.copytree(default_run / "finn", out)
    return default_run / "model.onnx", out


def test_resume_after_interruption_continues_after_last_finished_step(copied_build):
    model, out = copied_build
    spec = BuildSpec(part="xc7z020clg400-1", target_fps=10000)
    before = _estimates(out)
    # as if the build had been killed during step 7: progress records 6 finished steps
    prog = json.loads((out / "progress.json").read_text())
    prog["done"] = NAMES[:6]
    (out / "progress.json").write_text(json.dumps(prog))
    (out / "report" / "estimate_layer_resources.json").unlink()
    result = build(model, spec, out)
    assert result.resumed_after == NAMES[5]
    assert list(result.seconds) == NAMES[6:]
    assert _estimates(out) == before


def test_changed_settings_rebuild_from_scratch(copied_build):
    model, out = copied_build
    slow = _estimates(out)
    result = build(model, BuildSpec(part="xc7z020clg400-1", target_fps=200000), out)
    assert result.resumed_after is None and list(result.seconds) == NAMES
    fast = _estimates(out)
    # folding trades area for throughput: 20x the target fps costs more LUTs
    assert fast["LUT"] > slow["LUT"]


def test_build_spec_validation(tmp_path):
    with pytest.raises(HyqError, match="unknown FPGA part"):
        BuildSpec(part="artix")
    with pytest.raises(HyqError, match="folding file not found"):
        BuildSpec(part="xc7z020clg400-1", folding=str(tmp_path / "none.json"))
    with pytest.raises(HyqError, match="clock period"):
        BuildSpec(part="xc7z020clg400-1", clock_ns=0)
    assert BuildSpec(part="xc7z020clg400-1").target_fps == 10000


def test_unreadable_progress_record_restarts_the_build(copied_build):
    model, out = copied_build
    (out / "progress.json").write_text('{"fingerprint": "ab')  # cut short by a crash
    result = build(model, BuildSpec(part="xc7z020clg400-1", target_fps=10000), out)
    assert result.resumed_after is None and list(result.seconds) == NAMES
