"""An interrupted `hyq run` leaves no report and resumes where it stopped."""

import os
import signal
import subprocess
import sys

from tests.conftest import ROOT


def test_interrupted_run_resumes(default_run, tmp_path):
    out = tmp_path / "run"
    # default SIGINT handling in the child even when the suite runs as a background job
    # (a shell without job control starts those with SIGINT ignored, and children inherit it)
    proc = subprocess.Popen([sys.executable, "-m", "hyq.cli", "run", "--out", str(out)], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=os.environ.copy(),
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    seen = []
    for line in proc.stdout:
        seen.append(line)
        if "FINN step" in line and "step_qonnx_to_finn" in line:  # interrupt in tidy-up/streamlining (the longest)
            proc.send_signal(signal.SIGINT)
            break
    rest, err = proc.communicate(timeout=600)
    assert proc.returncode == 130, "".join(seen) + rest + err
    assert "rerun the same command to resume" in err
    assert not (out / "report.json").exists()
    again = subprocess.run([sys.executable, "-m", "hyq.cli", "run", "--out", str(out)], cwd=ROOT,
                           capture_output=True, text=True, env=os.environ.copy(), timeout=1200)
    assert again.returncode == 0, again.stdout[-2000:] + again.stderr[-2000:]
    assert "train (cached)" in again.stdout
    assert "resuming FINN build after" in again.stdout
    assert "step_qonnx_to_finn" not in again.stdout.split("resuming FINN build after")[1].split("\n", 1)[1]
    assert (out / "report.json").exists()
