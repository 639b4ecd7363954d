"""Softmax variants side by side: error against float softmax (NumPy reference) and LUTs (Yosys).

Each variant (method, output format, output bits) is measured with the same functions the
rest of hyq uses: :func:`hyq.integer.softmax_error.measure` for the error and
:func:`hyq.tools.softmax.synthesize` for the resources (cached by content in hyq's EDA cache).
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from hyq.tools.softmax import default_params, synthesize, synthesize_exp
from hyq.tools.yosys import FAMILIES
from hyq.integer.softmax import DEFAULT_OUT_BITS, METHODS, OUT_FORMATS
from hyq.integer.softmax_error import measure, row_sets

VARIANTS = tuple((m, f, DEFAULT_OUT_BITS[f]) for m in METHODS for f in OUT_FORMATS)
SWEEP_N = (64, 197, 256)
SWEEP_PE = (1, 4)
SWEEP_COLS = ("family", "format", "N", "PE", "method", "LUT", "FF", "DSP", "vs ibert", "LUT nodsp",
              "FF nodsp", "vs ibert nodsp")


def softmax_variants(variants: Sequence[tuple[str, str, int]] = VARIANTS, scale: float = 1 / 16,
                     in_bits: int = 8, n: int = 64, pe: int = 1, script: str = "xc7_nodsp",
                     rows: str = "gauss sd=2 N=197") -> list[dict[str, Any]]:
    """One row per variant: max/mean error on the ``rows`` test set, and Yosys LUT/FF/CARRY/DSP
    of the streaming unit for rows of ``n`` elements, ``pe`` per cycle, plus ``exp_LUT``: one
    lane's exp unit alone (where the variants differ most). The default Yosys script
    keeps multipliers in LUTs (no DSPs), so LUTs compare the variants' whole datapaths."""
    x = row_sets(in_bits, scale)[rows]
    out = []
    for method, fmt, bits in variants:
        err = measure(x, scale, method, fmt, bits, in_bits)
        p = default_params(method, scale, in_bits, bits, fmt)
        res = synthesize(p, n, pe, script=script)
        exp_lut = synthesize_exp(p, script)["LUT"]
        out.append({"label": f"{method} {fmt}/{bits}b", "method": method, "format": fmt, "bits": bits,
                    "max_err": err["max_err"], "mean_err": err["mean_err"], "rowsum_dev": err["rowsum_dev"],
                    **{k: res[k] for k in ("LUT", "FF", "CARRY", "DSP", "BRAM")}, "exp_LUT": exp_lut,
                    "N": n, "PE": pe, "script": script, "in_bits": in_bits, "scale": scale})
    return out


def _unit_job(args: tuple) -> dict:
    method, in_bits, scale, n, pe, out_format, out_bits, script = args
    p = default_params(method, scale, in_bits, out_bits, out_format)
    res = synthesize(p, n, pe, script=script)
    return {k: res[k] for k in ("LUT", "FF", "DSP", "CARRY")}


def hw_sweep(ns: Sequence[int] = SWEEP_N, pes: Sequence[int] = SWEEP_PE,
             formats: Sequence[str] = OUT_FORMATS, families: Sequence[str] = FAMILIES,
             in_bits: int = 8, scale: float = 0.01, jobs: int = 1) -> Iterator[dict[str, Any]]:
    """Whole streaming units over N x PE x output format x family, each with DSPs allowed and
    with multipliers in LUTs (``<family>_nodsp``), all three methods (Yosys, cached by content);
    each format at its default output bits (``DEFAULT_OUT_BITS``).
    Yields one row per (family, format, N, PE, method) as soon as its point is measured, with
    the LUT ratio against I-BERT at the same point (``vs ibert``, ``vs ibert nodsp``). Points whose
    N is not a multiple of PE are skipped."""
    points = [(n, pe, fmt, DEFAULT_OUT_BITS[fmt], fam) for fam in families for fmt in formats for n in ns for pe in pes
              if n % pe == 0]   # the RTL needs N a multiple of PE (N = 197 runs at PE = 1 only)
    keys = [(m, in_bits, scale, n, pe, fmt, bits, fam + sfx)
            for n, pe, fmt, bits, fam in points for m in METHODS for sfx in ("", "_nodsp")]
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        done = {}
        for key, res in zip(keys, pool.map(_unit_job, keys)):
            done[key] = res
            m, _ib, _s, n, pe, fmt, bits, script = key
            if not script.endswith("_nodsp") or m != METHODS[-1]:
                continue
            fam = script[: -len("_nodsp")]
            ib = {sfx: done[("ibert", in_bits, scale, n, pe, fmt, bits, fam + sfx)] for sfx in ("", "_nodsp")}
            for meth in METHODS:
                d, nd = (done[(meth, in_bits, scale, n, pe, fmt, bits, fam + sfx)] for sfx in ("", "_nodsp"))
                yield {"family": fam, "format": f"{fmt}/{bits}", "N": n, "PE": pe, "method": meth,
                       "LUT": d["LUT"], "FF": d["FF"], "DSP": d["DSP"], "vs ibert": d["LUT"] / ib[""]["LUT"],
                       "LUT nodsp": nd["LUT"], "FF nodsp": nd["FF"],
                       "vs ibert nodsp": nd["LUT"] / ib["_nodsp"]["LUT"]}


def _write_csv(rows: list[dict[str, Any]], path: Path) -> None:
    tmp = path.with_name("." + path.name + ".tmp")
    with open(tmp, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    os.replace(tmp, path)


def _write_table(rows: list[dict[str, Any]], out_dir: Path | str, name: str, plot, plot_name: str) -> list[Path]:
    """``name``.csv and ``plot``'s figure (PNG, SVG) as plots/``plot_name`` in ``out_dir``; returns the files."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    _write_csv(rows, out / f"{name}.csv")
    stem = out / "plots" / plot_name
    plot(rows, path=stem)
    return [out / f"{name}.csv", stem.with_suffix(".png"), stem.with_suffix(".svg")]


def write_sweep(rows: list[dict[str, Any]], out_dir: Path | str) -> list[Path]:
    """softmax_sweep.csv and the sweep plot (LUT and ratio vs I-BERT against N) in ``out_dir``."""
    from hyq.explore.plots import softmax_sweep_plot

    return _write_table(rows, out_dir, "softmax_sweep", softmax_sweep_plot, "softmax_sweep")


def write_softmax(rows: list[dict[str, Any]], out_dir: Path | str) -> list[Path]:
    """softmax.csv and the LUT-vs-error plot (PNG, SVG) in ``out_dir``; returns the files."""
    from hyq.explore.plots import softmax_plot

    return _write_table(rows, out_dir, "softmax", softmax_plot, "softmax_lut_vs_error")
