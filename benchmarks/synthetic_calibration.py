"""Data-free calibration on digits: W8A8 and W4A4 PTQ accuracy with real versus synthetic calibration images.

    .venv/bin/python benchmarks/synthetic_calibration.py [--config FLOW] [--samples 256] [--json out.json]

One float model (the flow's, trained once, cached); each row quantizes it to the widths,
calibrates activation ranges on either the first training images (``data``) or as many
images optimised to match its BatchNorm statistics (``synthetic``, ZeroQ-style,
:mod:`hyq.quantize.synthetic`), with no scaling, no bias correction and no QAT, so the
calibration images are the only difference. Every number is measured in this run.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
warnings.filterwarnings("ignore")

from hyq import config  # noqa: E402
from hyq.data import load  # noqa: E402
from hyq.jobs.quantize import quantize_flow as quantize  # noqa: E402

PRECISIONS = ((8, 8), (4, 4))
SOURCES = ("data", "synthetic")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", type=Path, default=None, help="flow file (default flows/default.yaml)")
    ap.add_argument("--samples", type=int, default=None, help="calibration images (default the flow's calib_samples)")
    ap.add_argument("--json", type=Path, default=None, help="also write the rows as JSON here")
    args = ap.parse_args(argv)

    cfg = config.load(args.config)
    if args.samples:
        cfg = dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, calib_samples=args.samples))
    ds = load(cfg.data.dataset, cfg.data.test_fraction, cfg.data.seed, path=cfg.data.path, size=cfg.data.size)
    rows = []
    for wbits, abits in PRECISIONS:
        for source in SOURCES:
            flow = dataclasses.replace(cfg, ptq=dataclasses.replace(cfg.ptq, calibration=source))
            t = time.time()
            rep = quantize(flow, ds, method="none", wbits=wbits, abits=abits, qat_epochs=0,
                           bias_correction=False).report
            rows.append({"wbits": wbits, "abits": abits, "calibration": source, "float": rep["accuracy_float"],
                         "ptq": rep["accuracy_ptq"], "calib_images": rep["calib_samples"],
                         "seconds": round(time.time() - t, 1)})
            print(f"# W{wbits}A{abits} {source}: PTQ {rep['accuracy_ptq']:.4f} ({rows[-1]['seconds']} s)",
                  file=sys.stderr, flush=True)

    print(f"\nFlow {cfg.source}: model {cfg.model.name} on {ds.name} ({len(ds.x_test)} test images); "
          "PTQ = calibration only (no scaling, bias correction or QAT).\n")
    print(f"| {'widths':6} | {'calibration':11} | {'images':>6} | {'float':>6} | {'PTQ':>6} | {'s':>6} |")
    print(f"|{'-' * 8}|{'-' * 13}|{'-' * 8}|{'-' * 8}|{'-' * 8}|{'-' * 8}|")
    for r in rows:
        print(f"| W{r['wbits']}A{r['abits']:<3} | {r['calibration']:11} | {r['calib_images']:>6} | {r['float']:>6.4f} | "
              f"{r['ptq']:>6.4f} | {r['seconds']:>6} |")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
