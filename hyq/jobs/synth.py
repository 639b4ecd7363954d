"""``hyq synth BUILD_DIR``: the Yosys measurements go into the build's report."""

from __future__ import annotations

import json
from pathlib import Path

from hyq.report import write


def update_report(build_dir: Path, syn: dict) -> Path:
    """Add ``synthesis`` to the build's report.json (re-written atomically through hyq.report)."""
    build_dir = Path(build_dir)
    rep = json.loads((build_dir / "report.json").read_text())
    rep["synthesis"] = syn
    return write(rep, build_dir)[0]
