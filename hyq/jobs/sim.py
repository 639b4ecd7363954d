"""``hyq sim BUILD_DIR``: the result of the Verilator run goes into the build's report."""

from __future__ import annotations

import json
from pathlib import Path

from hyq.report import write
from hyq.sim.results import SimResult


def update_report(build_dir: Path, res: SimResult) -> Path:
    """Add ``rtlsim`` to the build's report.json (re-written atomically through hyq.report)."""
    build_dir = Path(build_dir)
    rep = json.loads((build_dir / "report.json").read_text())
    rep["rtlsim"] = {"source": "verilator", **res.as_report()}
    return write(rep, build_dir)[0]
