"""Softmax variants side by side: error against float softmax (NumPy reference) and LUTs (Yosys).

Each variant (method, output format, output bits) is measured with the same functions the
rest of hyq uses: :func:`hyq.integer.softmax_error.measure` for the error and
:func:`hyq.tools.softmax.synthesize` for the resources (cached by content in hyq's EDA cache).
"""

from __future__ import annotations

import csv
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hyq.tools.softmax import default_params, synthesize, synthesize_exp
from hyq.integer.softmax import METHODS
from hyq.integer.softmax_error import measure, row_sets

VARIANTS = tuple((m, f, b) for m in METHODS for f, b in (("uint", 8), ("log2", 4)))


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


def write_softmax(rows: list[dict[str, Any]], out_dir: Path | str) -> list[Path]:
    """softmax.csv and the LUT-vs-error plot (PNG, SVG) in ``out_dir``; returns the files."""
    from hyq.explore.plots import softmax_plot

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tmp = out / ".softmax.csv.tmp"
    with open(tmp, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    os.replace(tmp, out / "softmax.csv")
    stem = out / "plots" / "softmax_lut_vs_error"
    softmax_plot(rows, path=stem)
    return [out / "softmax.csv", stem.with_suffix(".png"), stem.with_suffix(".svg")]
