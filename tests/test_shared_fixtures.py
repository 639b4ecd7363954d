"""The suite's expensive shared folders are made once per run, also when pytest-xdist spreads
the test files over several processes (``make test`` does)."""

import os
import subprocess
import sys
import textwrap

from tests.conftest import ROOT

USER = textwrap.dedent("""
    import os
    from tests.conftest import made_once

    def make(out):
        with open(os.environ["MADE_LOG"], "a") as f:
            f.write(f"{os.environ.get('PYTEST_XDIST_WORKER')}\\n")
        (out / "result.txt").write_text("built")

    def test_uses_it(tmp_path_factory):
        out = made_once(tmp_path_factory, "shared-build", make)
        assert (out / "result.txt").read_text() == "built"
""")


def test_made_once_across_xdist_workers(tmp_path):
    for name in ("test_a.py", "test_b.py", "test_c.py", "test_d.py"):
        (tmp_path / name).write_text(USER)
    log = tmp_path / "made.log"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MADE_LOG": str(log)}
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-n", "2", "--dist", "loadfile", "-p",
                           "no:cacheprovider", "--basetemp", str(tmp_path / "base"), str(tmp_path)],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "4 passed" in proc.stdout
    workers = log.read_text().split()
    assert len(workers) == 1 and workers[0].startswith("gw"), workers
