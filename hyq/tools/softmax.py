"""Softmax RTL glue: reference parameters -> Verilog parameters, Verilator runs, Yosys runs.

The RTL in ``hw/rtl/hyq_softmax_<method>.v`` takes the integer constants of
:class:`hyq.integer.softmax.SoftmaxParams` as Verilog parameters; everything here derives
them from the same :func:`hyq.integer.softmax.softmax_params` call the reference uses, so
the simulation compares like with like.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from hyq.tools import verilator, yosys
from hyq.errors import HyqError
from hyq.resources import RTL_DIR, TB_DIR
from hyq.integer.softmax import METHODS, SoftmaxParams, softmax_params

HARNESS = TB_DIR / "axis_rows_tb.cpp"
MAX_PARAM = 2**31 - 1   # Verilog integer parameters are 32-bit signed
MAX_IN_BITS = 24


#: the softmax unit's RTL files (every variant shares the core and its pieces)
_SOFTMAX_RTL = ("hyq_softmax_*.v", "hyq_exp_*.v", "hyq_out_*.v", "hyq_range_reduce.v", "hyq_recip.v",
                "hyq_row_buffer.v")


def rtl_sources() -> list[Path]:
    """All softmax RTL files, and only those (hw/rtl holds other layers too)."""
    return sorted({f for pattern in _SOFTMAX_RTL for f in RTL_DIR.glob(pattern)})


def top_name(method: str) -> str:
    if method not in METHODS:
        raise HyqError(f"softmax method must be one of {', '.join(METHODS)}; got {method!r}")
    return f"hyq_softmax_{method}"


def verilog_params(p: SoftmaxParams, n: int, pe: int = 1, in_signed: bool = True) -> dict[str, int]:
    """Verilog parameters of ``hyq_softmax_<method>`` for rows of ``n`` elements, ``pe`` per beat."""
    if n < 1 or pe < 1 or n % pe:
        raise HyqError(f"softmax RTL needs N a positive multiple of PE; got N={n}, PE={pe}")
    if p.in_bits > MAX_IN_BITS:
        raise HyqError(f"softmax RTL supports in_bits <= {MAX_IN_BITS}; got {p.in_bits}")
    vp = {"IN_BITS": p.in_bits, "IN_SIGNED": int(bool(in_signed)), "N": n, "PE": pe,
          "OUT_BITS": p.out_bits, "OUT_LOG2": int(p.out_format == "log2"),
          "X0": -p.x0, "B": p.b, "C": p.c, "N_STEPS": p.n, "EXP_SHIFT": p.exp_shift,
          "EXP_BITS": p.exp_bits, "RECIP_SHIFT": p.recip_shift if p.out_format == "uint" else 32,
          "IN_SHIFT": p.in_shift}
    big = {k: v for k, v in vp.items() if not 0 <= v <= MAX_PARAM}
    if big:
        raise HyqError(f"softmax constants {big} do not fit 32-bit Verilog parameters "
                       f"(scale {p.scale} is too fine for the RTL)")
    return vp


def cycles_per_row(n: int, pe: int, p: SoftmaxParams) -> int:
    """Cycles one row takes without stalls: LOAD, SUM and OUT take n/pe cycles each plus 6 of
    pipeline fill and phase changes, DIV (uint only) one per reciprocal bit, M - exp_bits + 2,
    plus 2; rows do not overlap."""
    nw = n // pe
    div = p.recip_shift - p.exp_bits + 4 if p.out_format == "uint" else 0
    return 3 * nw + 6 + div


def _rows(x: np.ndarray) -> np.ndarray:
    xi = np.asarray(x)
    if xi.ndim == 0 or xi.shape[-1] == 0:
        raise HyqError("softmax input needs rows along its last axis")
    if xi.dtype.kind not in "iu":
        if xi.dtype.kind != "f" or not np.array_equal(xi, np.round(xi)):
            raise HyqError(f"softmax input must hold integers; got dtype {xi.dtype}")
    return xi.astype(np.int64).reshape(-1, xi.shape[-1])


def simulate(x, p: SoftmaxParams, pe: int = 1, in_signed: bool | None = None, seed: int = 0,
             p_valid: float = 1.0, p_ready: float = 1.0,
             tool: verilator.Verilator | None = None) -> tuple[np.ndarray, dict]:
    """Run rows of ``x`` (last axis) through the RTL in Verilator; returns (outputs, info).

    ``in_signed`` None picks signed input unless every value is non-negative. ``p_valid``
    and ``p_ready`` are the per-cycle probabilities that the source offers data and the
    sink takes it (seeded by ``seed``). ``info`` holds cycles, cycles_per_row, the tool
    and the Verilog parameters.
    """
    rows = _rows(x)
    shape = np.asarray(x).shape
    n = rows.shape[1]
    if in_signed is None:
        in_signed = bool(rows.min() < 0)
    lo, hi = (-(2 ** (p.in_bits - 1)), 2 ** (p.in_bits - 1) - 1) if in_signed else (0, 2**p.in_bits - 1)
    if rows.min() < lo or rows.max() > hi:
        raise HyqError(f"softmax input values span [{rows.min()}, {rows.max()}], outside the "
                       f"{'signed' if in_signed else 'unsigned'} {p.in_bits}-bit range [{lo}, {hi}]")
    if not (0 < p_valid <= 1 and 0 < p_ready <= 1):
        raise HyqError("stall probabilities p_valid and p_ready must lie in (0, 1]")
    vp = verilog_params(p, n, pe, in_signed)
    tool = tool or verilator.find_verilator()
    top = top_name(p.method)
    exe = verilator.build(top, rtl_sources(), HARNESS, vp,
                          {"HYQ_PE": pe, "HYQ_IN_BITS": p.in_bits, "HYQ_OUT_BITS": p.out_bits}, tool)
    beats = rows.size // pe
    max_cycles = int(len(rows) * (cycles_per_row(n, pe, p) + 16) * 4 / min(p_valid, p_ready)) + 1000
    with tempfile.TemporaryDirectory(prefix="hyq-sim-") as tmp:
        fin, fout = Path(tmp) / "in.txt", Path(tmp) / "out.txt"
        with open(fin, "w") as f:
            f.write(f"{beats} {beats} {int(seed)} {p_valid!r} {p_ready!r} {max_cycles}\n")
            np.savetxt(f, rows.reshape(-1), fmt="%d")
        proc = subprocess.run([str(exe), str(fin), str(fout)], capture_output=True, text=True)
        if proc.returncode != 0:
            raise HyqError(f"softmax simulation failed: {(proc.stderr or proc.stdout).strip()}")
        out = np.loadtxt(fout, dtype=np.int64, ndmin=1)
    info = json.loads(proc.stdout.strip().splitlines()[-1])
    info.update(rows=len(rows), cycles_per_row=info["cycles"] / len(rows), tool=f"{tool.origin} {tool.version}",
                params=vp, top=top)
    return out.reshape(shape), info


def synthesize(p: SoftmaxParams, n: int, pe: int = 1, in_signed: bool = True, script: str = "xc7") -> dict:
    """Yosys resource counts of ``hyq_softmax_<method>`` for these parameters."""
    vp = verilog_params(p, n, pe, in_signed)
    res = yosys.synth(top_name(p.method), rtl_sources(), vp, script)
    return {**res, "method": p.method, "N": n, "PE": pe, "in_bits": p.in_bits,
            "out_bits": p.out_bits, "out_format": p.out_format, "scale": p.scale, "params": vp}


def default_params(method: str, scale: float = 0.01, in_bits: int = 8, out_bits: int | None = None,
                   out_format: str = "uint") -> SoftmaxParams:
    """The reference's parameters, with its ValueError turned into a one-line HyqError."""
    try:
        return softmax_params(scale, method, out_bits, out_format, in_bits)
    except ValueError as exc:
        raise HyqError(str(exc)) from None


def exp_unit_params(p: SoftmaxParams) -> dict[str, int]:
    """Verilog parameters of the stand-alone exp unit ``hyq_exp_<method>`` (steps 1-6)."""
    vp = verilog_params(p, 1, 1)
    out = {k: vp[k] for k in ("IN_BITS", "X0", "B", "C", "N_STEPS", "EXP_SHIFT", "EXP_BITS")}
    out["IN_BITS"] += p.in_shift   # the exp unit sees d << k
    return out


def synthesize_exp(p: SoftmaxParams, script: str = "xc7") -> dict:
    """Yosys resource counts of one lane's exp unit alone (combinational, no buffer or divider)."""
    res = yosys.synth(f"hyq_exp_{p.method}", rtl_sources(), exp_unit_params(p), script)
    return {**res, "method": p.method, "unit": "exp", "in_bits": p.in_bits, "scale": p.scale}
