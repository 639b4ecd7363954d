"""Bad input as a new user gives it: one line on stderr, exit status 2, nothing left looking complete."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import onnx
import pytest
import torch

from hyq import outdir
from hyq.errors import HyqError
from tests.conftest import ROOT, hyq
from tests.test_cli import _export, _one_line_error

PART = "xczu3eg-sbva484-1-e"


class _FloatNet(torch.nn.Module):
    """A plain float PyTorch model: no quantization at all."""

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(1, 4, 3)
        self.fc = torch.nn.Linear(4 * 6 * 6, 10)

    def forward(self, x):
        return self.fc(torch.relu(self.conv(x)).flatten(1))


def _float_onnx(path, dynamic=False):
    torch.manual_seed(0)
    kw = {"input_names": ["x"], "dynamic_axes": {"x": {0: "batch"}}} if dynamic else {}
    torch.onnx.export(_FloatNet().eval(), torch.rand(1, 1, 8, 8), str(path), dynamo=False, **kw)
    return path


def test_float_onnx_is_refused_without_a_report(tmp_path):
    model = _float_onnx(tmp_path / "float.onnx")
    out = tmp_path / "out"
    proc = hyq("build", str(model), "--part", PART, "--out", str(out))
    _one_line_error(proc, "float.onnx", "stayed outside the accelerator", "MatMul", "no quantization",
                    "Brevitas", "--allow-unmapped")
    assert not (out / "report.json").exists() and not (out / "report.md").exists()


def test_allow_unmapped_reports_incomplete(tmp_path):
    model = _float_onnx(tmp_path / "float.onnx")
    out = tmp_path / "out"
    proc = hyq("build", str(model), "--part", PART, "--out", str(out), "--allow-unmapped")
    assert proc.returncode == 0, proc.stderr[-2000:]
    rep = json.loads((out / "report.json").read_text())
    assert rep["complete"] is False and "Gemm_0" in rep["unmapped_nodes"] and "Gemm" in rep["unmapped_op_types"]
    assert (out / "report.md").read_text().splitlines()[2].startswith("**INCOMPLETE**")


def test_dynamic_input_shape_and_two_inputs(tmp_path):
    dyn = _float_onnx(tmp_path / "dyn.onnx", dynamic=True)
    _one_line_error(hyq("build", str(dyn), "--part", PART, "--out", str(tmp_path / "o")), "no fixed shape", "batch")
    two = tmp_path / "two.onnx"
    torch.onnx.export(_TwoIn(), (torch.rand(1, 4), torch.rand(1, 4)), str(two), dynamo=False)
    _one_line_error(hyq("build", str(two), "--part", PART, "--out", str(tmp_path / "o")), "2 inputs")
    assert not (tmp_path / "o").exists()  # refused before the output folder was made


class _TwoIn(torch.nn.Module):
    def forward(self, a, b):
        return a + b


def test_output_path_that_is_a_file(tmp_path):
    model = _export(tmp_path, "mlp.onnx")
    f = tmp_path / "taken"
    f.write_text("mine")
    _one_line_error(hyq("build", str(model), "--part", PART, "--out", str(f)), "is an existing file", "--out")
    _one_line_error(hyq("build", str(model), "--part", PART, "--out", str(f / "sub")), "is an existing file")
    assert f.read_text() == "mine"


def test_output_folder_not_writable(tmp_path):
    if os.geteuid() == 0:
        pytest.skip("root writes everywhere")
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        with pytest.raises(HyqError, match="not writable|cannot create"):
            outdir.prepare(ro)
        with pytest.raises(HyqError, match="cannot create"):
            outdir.prepare(ro / "sub")
    finally:
        ro.chmod(0o700)


def test_malformed_folding_file_is_named_before_finn(tmp_path):
    model = _export(tmp_path, "mlp.onnx")
    bad = tmp_path / "fold.json"
    bad.write_text('{"MVAU_hls_0": {"PE": 2,}')
    out = tmp_path / "o"
    proc = hyq("build", str(model), "--part", PART, "--folding", str(bad), "--out", str(out))
    _one_line_error(proc, str(bad), "not valid JSON", "line 1")
    assert "step" not in proc.stderr and not (out / "finn").exists()
    bad.write_text('{"MVAU_hls_0": {"PE": 0}}')
    _one_line_error(hyq("build", str(model), "--part", PART, "--folding", str(bad), "--out", str(out)),
                    "MVAU_hls_0.PE must be a positive integer")


def test_mismatched_folding_file_names_file_and_key(tmp_path):
    model = _export(tmp_path, "mlp.onnx")
    fold = tmp_path / "fold.json"
    out = tmp_path / "o"
    fold.write_text(json.dumps({"Defaults": {}, "MVAU_rtl_7": {"PE": 1, "SIMD": 1}}))
    proc = hyq("build", str(model), "--part", PART, "--folding", str(fold), "--out", str(out))
    _one_line_error(proc, str(fold), "layer 'MVAU_rtl_7' is not in the model", "MVAU_")
    assert "FINN step" not in proc.stderr and not (out / "report.json").exists()
    # fc1 is 64 -> 32: PE 5 divides neither
    fold.write_text(json.dumps({"MVAU_rtl_0": {"PE": 5, "SIMD": 1}}))
    proc = hyq("build", str(model), "--part", PART, "--folding", str(fold), "--out", str(out))
    _one_line_error(proc, str(fold), "MVAU_rtl_0.PE = 5 does not divide", "MH = 32")
    fold.write_text(json.dumps({"MVAU_rtl_0": {"PE": 4, "SIMD": 8}}))
    proc = hyq("build", str(model), "--part", PART, "--folding", str(fold), "--out", str(out))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert json.loads((out / "report.json").read_text())["complete"] is True


def _holder(out):
    """Another hyq process that owns ``out`` (holds its lock) until killed."""
    holder = subprocess.Popen([sys.executable, "-c", "import time; from hyq import outdir\n"
                               f"with outdir.claim({str(out)!r}):\n print('held', flush=True); time.sleep(600)"],
                              cwd=ROOT, stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    return holder


def test_second_process_on_the_same_folder_is_refused_until_the_first_dies(tmp_path):
    model = _export(tmp_path, "mlp.onnx")
    out = tmp_path / "o"
    first = _holder(out)
    try:
        second = hyq("build", str(model), "--part", PART, "--out", str(out))
        _one_line_error(second, str(out), "in use by another hyq process", f"pid {first.pid}", "--out")
        assert not (out / "finn").exists() and not (out / "model.onnx").exists()
        with pytest.raises(HyqError, match=f"in use by another hyq process \\(pid {first.pid}\\)"):
            with outdir.claim(out):
                pass
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
    assert (out / outdir.LOCK_NAME).read_text().strip() == str(first.pid)  # a stale lock file ...
    again = hyq("build", str(model), "--part", PART, "--out", str(out))   # ... is taken over
    assert again.returncode == 0, again.stderr[-2000:]
    assert json.loads((out / "report.json").read_text())["complete"] is True


def test_sim_inputs_checked_against_the_model(default_run_copy, tmp_path):
    bad_shape = tmp_path / "shape.npy"
    np.save(bad_shape, np.zeros((2, 3, 3), dtype=np.float32))
    t0 = time.perf_counter()
    _one_line_error(hyq("sim", str(default_run_copy), "--inputs", str(bad_shape)), "--inputs", "shape", "(2, 3, 3)")
    assert time.perf_counter() - t0 < 60  # refused before any simulation
    shape = onnx.load(str(default_run_copy / "model.onnx")).graph.input[0].type.tensor_type.shape.dim
    good = [d.dim_value for d in shape]
    frac = tmp_path / "frac.npy"
    np.save(frac, np.full((1, *good[1:]), 0.5, dtype=np.float32))
    _one_line_error(hyq("sim", str(default_run_copy), "--inputs", str(frac)), "UINT8", "0.5")
    text = tmp_path / "s.npy"
    np.save(text, np.array([["a"] * good[-1]]))
    _one_line_error(hyq("sim", str(default_run_copy), "--inputs", str(text)), "--inputs")
    junk = tmp_path / "junk.npy"
    junk.write_text("not numpy")
    _one_line_error(hyq("sim", str(default_run_copy), "--inputs", str(junk)), "not a NumPy .npy file")
    assert "rtlsim" not in json.loads((default_run_copy / "report.json").read_text())


def test_two_real_builds_into_one_folder(tmp_path):
    """Two real ``hyq build`` processes: the second is refused while the first is inside a
    FINN step (paused there with SIGSTOP, so the order does not depend on timing), and the
    first then finishes normally."""
    model = _export(tmp_path, "mlp.onnx")
    out = tmp_path / "o"
    args = [sys.executable, "-m", "hyq.cli", "build", str(model), "--part", PART, "--out", str(out)]
    first = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                             env=os.environ.copy())
    try:
        seen = []
        for line in first.stdout:
            seen.append(line)
            if "FINN step 1/" in line:
                first.send_signal(signal.SIGSTOP)
                break
        assert (out / outdir.LOCK_NAME).read_text().strip() == str(first.pid), "".join(seen)
        second = hyq("build", str(model), "--part", PART, "--out", str(out))
        _one_line_error(second, str(out), "in use by another hyq process", f"pid {first.pid}", "--out")
        assert first.poll() is None and not (out / "report.json").exists()
    finally:
        first.send_signal(signal.SIGCONT)
    rest, _ = first.communicate(timeout=900)
    assert first.returncode == 0, rest[-2000:]
    assert json.loads((out / "report.json").read_text())["complete"] is True
