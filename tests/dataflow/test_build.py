"""The FINN build runner: resumable after an interruption, settings change invalidates."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from hyq.dataflow import STEPS, BuildSpec, build
from hyq.dataflow.build import _step_name, step_list
from hyq.errors import HyqError

ROOT = Path(__file__).resolve().parents[2]
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


def test_step_list_names_hyq_and_finn_steps_and_refuses_unknown_ones(default_run, tmp_path):
    with pytest.raises(HyqError, match=r"unknown build step 'step_bogus'.*step_hyq_streamline.*step_tidy_up"):
        BuildSpec(part="xc7z020clg400-1", steps=["step_tidy_up", "step_bogus"])
    with pytest.raises(HyqError, match="unknown step list 'bitfile'"):
        BuildSpec(part="xc7z020clg400-1", steps="bitfile")
    # the preset spelled out as a list is the same steps
    assert [_step_name(s) for s in step_list(NAMES)] == NAMES
    # a short list of FINN's and hyq's steps runs those steps, in order, on the real model
    steps = ["step_qonnx_to_finn", "step_tidy_up", "step_hyq_convert_tables", "step_hyq_streamline"]
    result = build(default_run / "model.onnx", BuildSpec(part="xc7z020clg400-1", steps=steps), tmp_path / "finn")
    assert result.steps == steps and list(result.seconds) == steps
    assert (tmp_path / "finn" / "intermediate_models" / "03_step_hyq_streamline.onnx").is_file()


@pytest.mark.parametrize("steps, named", [
    ("[step_qonnx_to_finn, step_bogus]", ("step_bogus", "step_convert_to_hw")),
    # the report reads FINN's estimates: a list without their step is refused before training
    ("[step_qonnx_to_finn, step_tidy_up, step_convert_to_hw]", ("step_generate_estimate_reports",)),
])
def test_a_bad_step_list_in_a_flow_file_is_one_line_and_exit_2(tmp_path, steps, named):
    flow = tmp_path / "bad.yaml"
    flow.write_text(f"hardware: {{steps: {steps}}}\n")
    p = subprocess.run([sys.executable, "-m", "hyq.cli", "run", "--config", str(flow), "--out", str(tmp_path / "o")],
                       capture_output=True, text=True, cwd=ROOT)
    assert p.returncode == 2, p.stderr
    err = p.stderr.strip().splitlines()
    assert len(err) == 1 and all(n in err[0] for n in named), p.stderr
    assert not (tmp_path / "o" / "report.json").exists()
