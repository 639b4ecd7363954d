"""LayerNorm RTL glue: reference parameters -> Verilog parameters, Verilator and Yosys runs,
cycles and the resource estimate of ``hw/rtl/hyq_layernorm.v``.

Everything derives from the :class:`hyq.integer.layernorm.LayerNormParams` the reference
uses, so simulation compares like with like.
"""

from __future__ import annotations

import json
import math
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from hyq.errors import HyqError
from hyq.integer.layernorm import LayerNormParams
from hyq.resources import RTL_DIR, TB_DIR
from hyq.tools import verilator, yosys

TOP = "hyq_layernorm"
HARNESS = TB_DIR / "axis_rows_tb.cpp"


def rtl_sources() -> list[Path]:
    return [RTL_DIR / f"{TOP}.v"]


def verilog_params(p: LayerNormParams, pe: int = 1, lane_bits: int | None = None,
                   in_signed: bool | None = None, negate=None) -> dict[str, int]:
    """Verilog parameters of ``hyq_layernorm`` for ``pe`` lanes of ``lane_bits`` (default in_bits);
    ``negate`` (per-channel flags) becomes the NEGATE mask, bit c for channel c."""
    if pe < 1 or p.channels % pe:
        raise HyqError(f"layernorm RTL needs PE dividing the {p.channels} channels; got PE={pe}")
    lane_bits = p.in_bits if lane_bits is None else lane_bits
    in_signed = p.in_signed if in_signed is None else in_signed
    w = p.widths()
    rad = w["radicand"]
    return {"PE": pe, "C": p.channels, "IN_BITS": lane_bits, "IN_SIGNED": int(bool(in_signed)),
            "OUT_BITS": p.out_bits, "SQRT_SHIFT": p.sqrt_shift, "RECIP_SHIFT": p.recip_shift,
            "OUT_SHIFT": p.out_shift, "EPS": p.eps_int, "W_S1": w["sum"] + 1, "W_S2": w["sum_squares"] + 2,
            "W_Q": w["q"] + 4, "W_RAD": rad, "ROOT_STEPS": (rad + 1) // 2, "W_RECIP": w["recip"],
            "W_D": w["d"] + 1, "W_P": w["product"] + 2, **negate_param(p, negate)}


def negate_param(p: LayerNormParams, negate) -> dict[str, int]:
    """``{"NEGATE": mask}`` for per-channel flags with any set, else ``{}`` (the RTL's default 0)."""
    if negate is None or not any(negate):
        return {}
    if len(negate) != p.channels:
        raise HyqError(f"layernorm negate needs {p.channels} channel flags, got {len(negate)}")
    return {"NEGATE": sum(1 << c for c, f in enumerate(negate) if f)}


def cycles_per_token(p: LayerNormParams, pe: int = 1) -> int:
    """Cycles one token takes without stalls: LOAD and EMIT C/PE each, the root one setup
    cycle and ROOT_STEPS, the reciprocal M + 1; tokens do not overlap."""
    beats = p.channels // pe
    return 2 * beats + 1 + (p.widths()["radicand"] + 1) // 2 + p.recip_shift + 1


def simulate(x, p: LayerNormParams, pe: int = 1, seed: int = 0, p_valid: float = 1.0, p_ready: float = 1.0,
             tool: verilator.Verilator | None = None) -> tuple[np.ndarray, dict]:
    """Run the tokens of ``x`` (last axis = channels) through the RTL in Verilator.

    ``p_valid`` / ``p_ready``: per-cycle probabilities that the source offers a beat and the
    sink takes one (random backpressure, seeded). Returns (signed outputs, info).
    """
    xi = np.asarray(x)
    if xi.shape[-1] != p.channels:
        raise HyqError(f"layernorm simulation over {p.channels} channels got rows of {xi.shape[-1]}")
    rows = xi.astype(np.int64).reshape(-1, p.channels)
    vp = verilog_params(p, pe)
    tool = tool or verilator.find_verilator()
    exe = verilator.build(TOP, rtl_sources(), HARNESS, vp,
                          {"HYQ_PE": pe, "HYQ_IN_BITS": p.in_bits, "HYQ_OUT_BITS": p.out_bits}, tool)
    beats = rows.size // pe
    max_cycles = int(len(rows) * (cycles_per_token(p, pe) + 16) * 4 / min(p_valid, p_ready)) + 1000
    with tempfile.TemporaryDirectory(prefix="hyq-sim-") as tmp:
        fin, fout = Path(tmp) / "in.txt", Path(tmp) / "out.txt"
        with open(fin, "w") as f:
            f.write(f"{beats} {beats} {int(seed)} {p_valid!r} {p_ready!r} {max_cycles}\n")
            np.savetxt(f, rows.reshape(-1), fmt="%d")
        proc = subprocess.run([str(exe), str(fin), str(fout)], capture_output=True, text=True)
        if proc.returncode != 0:
            raise HyqError(f"layernorm simulation failed: {(proc.stderr or proc.stdout).strip()}")
        out = np.loadtxt(fout, dtype=np.int64, ndmin=1)
    out = np.where(out >= 2 ** (p.out_bits - 1), out - 2**p.out_bits, out)
    info = json.loads(proc.stdout.strip().splitlines()[-1])
    info.update(rows=len(rows), cycles_per_token=info["cycles"] / len(rows), params=vp,
                tool=f"{tool.origin} {tool.version}")
    return out.reshape(xi.shape), info


def synthesize(p: LayerNormParams, pe: int = 1, script: str = "xc7", negate=None) -> dict:
    """Yosys resource counts of ``hyq_layernorm`` for these parameters (``negate``: as for verilog_params)."""
    vp = verilog_params(p, pe, negate=negate)
    return {**yosys.synth(TOP, rtl_sources(), vp, script), "params": vp}
