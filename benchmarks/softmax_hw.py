"""LinMax vs I-BERT (and Shiftmax) softmax hardware cost, synthesised by Yosys in this run.

    .venv/bin/python benchmarks/softmax_hw.py [--n 64 --pe 1] [--in-bits 8 --scale 0.0625]
        [--out-format uint] [--family xc7] [--json out.json] [--cached]
    .venv/bin/python benchmarks/softmax_hw.py --sweep [--cached] [--json sweep.json]

For each input setting (default: the two of benchmarks/softmax_error.py) every variant is
synthesised at equal input width, N, PE and output format, twice: as the whole streaming
unit (row buffer, max, exp, sum, reciprocal divider, output stage) and as one lane's exp
unit alone, each with DSPs allowed and with multipliers forced into LUTs (-nodsp). It
prints the table and the I-BERT / LinMax LUT ratios (HyQ reports 1.8-2.1x). Synthesis
runs in a fresh cache unless --cached, so every number printed is measured by this run.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from concurrent.futures import ProcessPoolExecutor

from hyq.explore.softmax import SWEEP_COLS, SWEEP_N, SWEEP_PE, hw_sweep
from hyq.integer.softmax import OUT_FORMATS
from hyq.tools.yosys import FAMILIES
from hyq.tools import softmax as hs
from hyq.integer.softmax_error import DEFAULT_INPUTS

METHODS = ("linmax", "ibert", "shiftmax")
COLS = ("LUT", "FF", "CARRY", "DSP", "BRAM")


def _job(args: tuple) -> dict:
    method, unit, in_bits, scale, n, pe, out_format, out_bits, script = args
    p = hs.default_params(method, scale, in_bits, out_bits, out_format)
    res = hs.synthesize_exp(p, script) if unit == "exp" else hs.synthesize(p, n, pe, script=script)
    cycles = hs.cycles_per_row(n, pe, p) if unit == "unit" else 0
    return {**{k: res[k] for k in (*COLS, "LUT_LOGIC", "LUT_MEM")}, "cycles/row": cycles}


def measure(settings, n, pe, out_format, out_bits, family, jobs=2) -> list[dict]:
    """One row per (setting, unit, method) with counts for ``family`` and ``family``-nodsp."""
    keys = [(m, u, ib, s, n, pe, out_format, out_bits, family + sfx)
            for ib, s in settings for u in ("unit", "exp") for m in METHODS for sfx in ("", "_nodsp")]
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        results = dict(zip(keys, pool.map(_job, keys)))
    rows = []
    for m, u, ib, s, *_rest, script in keys:
        if script.endswith("_nodsp"):
            continue
        nodsp = results[(m, u, ib, s, n, pe, out_format, out_bits, script + "_nodsp")]
        rows.append({"method": m, "unit": u, "N": n if u == "unit" else 1, "PE": pe if u == "unit" else 1,
                     "in_bits": ib, "scale": s, **results[(m, u, ib, s, n, pe, out_format, out_bits, script)],
                     "LUT_nodsp": nodsp["LUT"], "FF_nodsp": nodsp["FF"]})
    return rows


def _cell(v) -> str:
    return f"{v:.2f}" if isinstance(v, float) else str(v)


def ratios(rows: list[dict]) -> list[dict]:
    """I-BERT / LinMax (and Shiftmax / LinMax) ratios per setting and unit."""
    out = []
    by = {(r["in_bits"], r["scale"], r["unit"], r["method"]): r for r in rows}
    for (ib, s, u, m), lin in by.items():
        if m != "linmax":
            continue
        ib_row = by[(ib, s, u, "ibert")]
        out.append({"in_bits": ib, "scale": s, "unit": u,
                    "ibert/linmax LUT": ib_row["LUT"] / lin["LUT"],
                    "ibert/linmax LUT nodsp": ib_row["LUT_nodsp"] / lin["LUT_nodsp"],
                    "ibert/linmax FF": ib_row["FF"] / lin["FF"] if lin["FF"] else None,
                    "ibert DSP": ib_row["DSP"], "linmax DSP": lin["DSP"]})
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=64, help="row length N (default 64)")
    ap.add_argument("--pe", type=int, default=1, help="elements per cycle (default 1)")
    ap.add_argument("--in-bits", type=int, default=None, help="input bit-width (needs --scale)")
    ap.add_argument("--scale", type=float, default=None, help="input scale (needs --in-bits)")
    ap.add_argument("--out-format", choices=OUT_FORMATS, default=OUT_FORMATS[0])
    ap.add_argument("--out-bits", type=int, default=None)
    ap.add_argument("--family", choices=FAMILIES, default="xc7")
    ap.add_argument("--jobs", type=int, default=2, help="parallel Yosys runs (default 2)")
    ap.add_argument("--json", default=None, help="also write rows and ratios to this file")
    ap.add_argument("--cached", action="store_true", help="reuse cached synthesis results")
    ap.add_argument("--sweep", action="store_true",
                    help="N in {64, 197, 256} x PE in {1, 4} x uint/log2 x xc7/xcup, whole units "
                         "(in_bits 8, scale 0.01 unless given); a Markdown table")
    ap.add_argument("--sweep-n", type=int, nargs="+", default=list(SWEEP_N), help="--sweep: row lengths")
    ap.add_argument("--sweep-pe", type=int, nargs="+", default=list(SWEEP_PE), help="--sweep: lanes")
    ap.add_argument("--sweep-formats", nargs="+", choices=OUT_FORMATS, default=list(OUT_FORMATS),
                    help="--sweep: output formats (uint/8, log2/4)")
    ap.add_argument("--sweep-families", nargs="+", choices=FAMILIES, default=list(FAMILIES),
                    help="--sweep: Yosys families")
    a = ap.parse_args()
    if a.sweep:
        if not a.cached:
            os.environ["HYQ_CACHE"] = tempfile.mkdtemp(prefix="hyq-bench-")
        ib, sc = (a.in_bits, a.scale) if a.scale is not None else (8, 0.01)
        print(f"Whole softmax units, input {ib}-bit, scale {sc:g}; Yosys synth_xilinx, DSPs allowed "
              "and multipliers in LUTs (nodsp); 'vs ibert' = LUT / I-BERT's LUT at the same point")
        print("| " + " | ".join(SWEEP_COLS) + " |")
        print("|" + "---|" * len(SWEEP_COLS), flush=True)
        rows = []
        for r in hw_sweep(a.sweep_n, a.sweep_pe, a.sweep_formats, a.sweep_families, ib, sc, a.jobs):
            rows.append(r)
            print("| " + " | ".join(_cell(r[c]) for c in SWEEP_COLS) + " |", flush=True)
        if a.json:
            with open(a.json, "w") as f:
                json.dump({"rows": rows}, f, indent=1)
        return
    if (a.in_bits is None) != (a.scale is None):
        ap.error("give --in-bits and --scale together")
    settings = DEFAULT_INPUTS if a.scale is None else ((a.in_bits, a.scale),)
    if not a.cached:
        os.environ["HYQ_CACHE"] = tempfile.mkdtemp(prefix="hyq-bench-")

    rows = measure(settings, a.n, a.pe, a.out_format, a.out_bits, a.family, a.jobs)
    head = ("method", "unit", "N", "PE", "in_bits", "scale", *COLS, "LUT_nodsp", "cycles/row")
    print(f"Yosys synth_xilinx -family {a.family}, out_format {a.out_format}; "
          "unit = whole streaming softmax, exp = one lane's exp unit; cycles/row without stalls")
    print(" | ".join(f"{h:>9}" for h in head))
    for r in rows:
        print(" | ".join(f"{(f'{r[h]:.6g}' if isinstance(r[h], float) else r[h]):>9}" for h in head))
    rat = ratios(rows)
    print()
    for q in rat:
        print(f"in_bits {q['in_bits']:>2}, scale {q['scale']:.6g}, {q['unit']:>4}: LinMax uses "
              f"{q['ibert/linmax LUT']:.2f}x fewer LUTs than I-BERT "
              f"({q['ibert/linmax LUT nodsp']:.2f}x with multipliers in LUTs; DSP "
              f"{q['linmax DSP']} vs {q['ibert DSP']})")
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"rows": rows, "ratios": rat}, f, indent=1)


if __name__ == "__main__":
    main()
