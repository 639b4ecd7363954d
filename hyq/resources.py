"""Where hyq's data files are: the RTL (``hw/``) and the flow files (``flows/``).

An installed hyq carries both inside the package (``hyq/hw``, ``hyq/flows``: setup.py maps
the repository's top-level folders there); a source checkout uses the top-level folders
themselves, next to the package. Every module asks here instead of counting parent folders.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path


def _folder(name: str) -> Path:
    inside = Path(str(files("hyq") / name))
    return inside if inside.is_dir() else inside.parent.parent / name


HW_DIR = _folder("hw")
FLOWS_DIR = _folder("flows")
RTL_DIR = HW_DIR / "rtl"
TB_DIR = HW_DIR / "tb"
SYNTH_DIR = HW_DIR / "synth"
