"""Yosys driver: synthesise a Verilog top for an FPGA family and count its cells.

The synthesis recipe is a script in ``hw/synth/`` (e.g. ``xc7.ys``, ``xc7_nodsp.ys``);
this module reads the sources, sets the top's parameters, runs the script and turns the
``stat -json`` cell counts into resource numbers. Results are cached by content hash.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from functools import lru_cache
from pathlib import Path

from hyq import cache
from hyq.errors import HyqError
from hyq.resources import SYNTH_DIR

INSTALL_HINT = "install it with `apt-get install yosys` (or `make setup`)"
#: FPGA families with a synthesis script (``hw/synth/<family>.ys``, and ``<family>_nodsp.ys``
#: with multipliers forced into LUTs)
FAMILIES = tuple(sorted(p.stem for p in SYNTH_DIR.glob("*.ys") if not p.stem.endswith("_nodsp")))

# LUT-equivalents of Xilinx distributed-RAM / shift-register primitives (as Vivado counts
# them in "Slice LUTs").
_LUTMEM = {"RAM16X1D": 2, "RAM32X1D": 2, "RAM64X1D": 2, "RAM128X1D": 4, "RAM256X1D": 8,
           "RAM32M": 4, "RAM64M": 4, "RAM32M16": 8, "RAM64M8": 8, "RAM16X1S": 1,
           "RAM32X1S": 1, "RAM64X1S": 1, "RAM128X1S": 2, "RAM256X1S": 4,
           "SRL16E": 1, "SRLC16E": 1, "SRLC32E": 1}


@lru_cache(maxsize=None)
def find_yosys() -> tuple[Path, str]:
    """Path and version line of the Yosys executable on PATH."""
    path = shutil.which("yosys")
    if path is None:
        raise HyqError(f"yosys not found: {INSTALL_HINT}")
    version = subprocess.run([path, "-V"], capture_output=True, text=True).stdout.strip()
    return Path(path), version


def resources(cells: dict[str, int]) -> dict[str, float]:
    """Resource summary of a 7-series / UltraScale cell count (``stat`` num_cells_by_type).

    LUT counts logic LUTs plus LUTs used as memory (LUT_LOGIC + LUT_MEM); BRAM is in
    18 Kbit units (a RAMB36 counts 2), like FINN's BRAM_18K.
    """
    def total(pred) -> int:
        return sum(int(n) for t, n in cells.items() if pred(t))

    lut_logic = total(lambda t: re.fullmatch(r"LUT[1-6]|INV", t) is not None)
    lut_mem = sum(_LUTMEM[t] * int(n) for t, n in cells.items() if t in _LUTMEM)
    ff = total(lambda t: re.fullmatch(r"FD[CPRS]E(_1)?|FD[CPRS]?|LD[CP]E?", t) is not None)
    carry = total(lambda t: t in ("CARRY4", "CARRY8"))
    bram = total(lambda t: t.startswith("RAMB18")) + 2 * total(lambda t: t.startswith("RAMB36"))
    dsp = total(lambda t: t.startswith("DSP48"))
    return {"LUT": lut_logic + lut_mem, "LUT_LOGIC": lut_logic, "LUT_MEM": lut_mem,
            "FF": ff, "CARRY": carry, "BRAM": bram, "DSP": dsp,
            "MUXF": total(lambda t: t.startswith("MUXF"))}


def synth(top: str, sources: list[Path], params: dict[str, int], script: str = "xc7") -> dict:
    """Synthesise ``top`` with ``params`` using ``hw/synth/<script>.ys``.

    Returns ``resources(...)`` plus ``cells`` (raw counts) and ``script``. Cached under
    ``<cache>/yosys/<top>-<hash>/``.
    """
    exe, version = find_yosys()
    script_path = SYNTH_DIR / f"{script}.ys"
    if not script_path.exists():
        raise HyqError(f"no synthesis script {script_path}; choose one of "
                       f"{sorted(p.stem for p in SYNTH_DIR.glob('*.ys'))}")
    key = cache.key({"top": top, "params": params, "yosys": version}, [*sources, script_path])
    out_dir = cache.root() / "yosys" / f"{top}-{key}"
    result_file = out_dir / "result.json"
    if result_file.exists():
        return json.loads(result_file.read_text())
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f"{top}-{key}.", dir=out_dir.parent))
    chparams = " ".join(f"-set {k} {int(v)}" for k, v in params.items())
    reads = "\n".join(f"read_verilog -defer {Path(s).resolve()}" for s in sources)
    (tmp / "run.ys").write_text(
        f"{reads}\n"
        + (f"chparam {chparams} {top}\n" if params else "")
        + f"hierarchy -check -top {top}\n"
        + f"script {script_path}\n"
        + f"tee -q -o {tmp / 'stat.json'} stat -json\n")
    proc = subprocess.run([str(exe), "-q", "-l", str(tmp / "yosys.log"), "-s", str(tmp / "run.ys")],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-10:])
        shutil.rmtree(tmp, ignore_errors=True)
        raise HyqError(f"yosys synthesis of {top} failed:\n{tail}")
    stat = json.loads((tmp / "stat.json").read_text())
    cells = stat["design"]["num_cells_by_type"]
    result = {**resources(cells), "cells": cells, "script": script, "yosys": version}
    result_file_tmp = tmp / "result.json"
    result_file_tmp.write_text(json.dumps(result, indent=1))
    try:
        os.replace(tmp, out_dir)
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)
    return result
