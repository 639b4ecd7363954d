"""Accuracy and hardware cost of the hybrid models' choices, measured on digits, in one run.

Runs ``hyq run`` (train float, calibrate, QAT at W8A8, export, FINN estimate build) for
``flows/hybrid-tiny.yaml`` (BatchNorm folded into thresholds, ReLU as thresholds) and
``flows/hybrid-tiny-published.yaml`` (integer LayerNorm, SiLU as a lookup table) and prints
float and W8A8 accuracy, LUT, BRAM_18K, DSP, storage (ratio_vs_fp32 of all static bits) and
fps from each report. Usage: ``.venv/bin/python benchmarks/hybrid_choices.py [out]``
(default out ``build/hybrid_choices``).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from hyq.jobs.flow import run_flow

FLOWS = ("flows/hybrid-tiny.yaml", "flows/hybrid-tiny-published.yaml")


def main(out: str = "build/hybrid_choices") -> None:
    print("| flow | norm | act | float acc | W8A8 acc | diff (points) | LUT | BRAM_18K | DSP | storage vs FP32 | fps | s |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|", flush=True)
    for flow in FLOWS:
        t0 = time.perf_counter()
        rep = run_flow(Path(flow), Path(out) / Path(flow).stem)
        a, t, opts = rep["accuracy"], rep["total"], rep["flow_config"]["model"]["options"]
        print(f"| {Path(flow).stem} | {opts.get('norm', 'batch')} | {opts.get('act', 'relu')} | {a['float']:.4f} | "
              f"{a['quantized']:.4f} | {100 * (a['quantized'] - a['float']):+.2f} | {t['LUT']:.0f} | "
              f"{t['BRAM_18K']:.0f} | {t['DSP']:.0f} | {rep['static_storage']['ratio_vs_fp32']:.3f} | "
              f"{rep['throughput_fps'] or 0:.0f} | {time.perf_counter() - t0:.0f} |", flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:])
