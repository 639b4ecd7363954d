"""Distribution-scaling methods x precisions on digits: float, PTQ and (at W4A4) QAT accuracy.

    .venv/bin/python benchmarks/quantize_methods.py [--model hybrid-tiny] [--qat-epochs 5] [--json out.json]

Every number is measured in this run, all methods on the same float model (trained once,
cached), with the same calibration images and the same PTQ pipeline (scaling -> calibration
-> bias correction); only the scaling method differs. The layer-MSE column is the geometric
mean over scaled regions of (quantized-output MSE after scaling / before), the quantity
QADS minimises. The model falls back to mv2-cnn, saying so, when hybrid-tiny is not in the zoo.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import sys
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
warnings.filterwarnings("ignore")

from hyq import config  # noqa: E402
from hyq.data import load  # noqa: E402
from hyq.models import available  # noqa: E402
from hyq.jobs.quantize import quantize_flow as quantize  # noqa: E402
from hyq.quantize.scaling import METHODS, ScalingOptions  # noqa: E402

PRECISIONS = ((8, 8), (6, 6), (4, 4))


def _mse_ratio(rep: dict) -> float:
    regions = rep["scaling"]["regions"]
    logs = [math.log(r["mse_scaled"] / r["mse_unscaled"]) for r in regions if r["mse_unscaled"] > 0]
    return math.exp(sum(logs) / len(logs)) if logs else float("nan")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", type=Path, default=None,
                    help="flow file for model options, data and training (default flows/<model>.yaml if it exists, "
                         "else flows/default.yaml)")
    ap.add_argument("--model", default="hybrid-tiny", help="zoo model (default hybrid-tiny)")
    ap.add_argument("--qat-epochs", type=int, default=5, help="QAT epochs at W4A4 (default 5)")
    ap.add_argument("--qads-iters", type=int, default=1000, help="QADS iterations per region (default 1000)")
    ap.add_argument("--no-bias-correction", action="store_true", help="leave Brevitas bias correction out")
    ap.add_argument("--methods", default=",".join(METHODS), help="comma-separated subset of " + ",".join(METHODS))
    ap.add_argument("--attn-abits", type=int, default=8,
                    help="activation width inside attention (scores, softmax, AV) at every precision (default 8); "
                         "the integer softmax needs a fine enough score scale")
    ap.add_argument("--json", type=Path, default=None, help="also write the rows as JSON here")
    args = ap.parse_args(argv)

    model, note = args.model, ""
    if model not in available():
        note = f"NOTE: '{model}' is not in the model zoo ({', '.join(available())}); measured on mv2-cnn instead"
        model = "mv2-cnn"
    own_flow = config.FLOWS_DIR / f"{model}.yaml"
    cfg = config.load(args.config or (own_flow if own_flow.is_file() else None))
    if model != cfg.model.name:
        cfg = dataclasses.replace(cfg, model=config.ModelConfig(name=model, options={}))
    ds = load(cfg.data.dataset, cfg.data.test_fraction, cfg.data.seed)
    opts = ScalingOptions(qads_iters=args.qads_iters, qads_lr=cfg.ptq.qads_lr)
    bias = not args.no_bias_correction
    methods = [m for m in args.methods.split(",") if m]

    rows = []
    t0 = time.time()
    for wbits, abits in PRECISIONS:
        for method in methods:
            qat = args.qat_epochs if (wbits, abits) == (4, 4) else 0
            t = time.time()
            rep = quantize(cfg, ds, method=method, wbits=wbits, abits=abits, qat_epochs=qat, bias_correction=bias,
                           overrides={"*.attn": {"act": args.attn_abits}}, options=opts).report
            rows.append({"model": model, "method": method, "wbits": wbits, "abits": abits,
                         "float": rep["accuracy_float"], "ptq": rep["accuracy_ptq"],
                         "qat": rep["accuracy_quantized"] if qat else None, "qat_epochs": qat,
                         "layer_mse_ratio": _mse_ratio(rep), "regions": len(rep["scaling"]["regions"]),
                         "seconds": round(time.time() - t, 1)})
            print(f"# {method} W{wbits}A{abits}: PTQ {rep['accuracy_ptq']:.4f}"
                  + (f", QAT {rep['accuracy_quantized']:.4f}" if qat else "") + f" ({rows[-1]['seconds']} s)",
                  file=sys.stderr, flush=True)

    print(f"\nFlow {cfg.source}. Distribution scaling on {ds.name} ({len(ds.x_test)} test images), model {model}, "
          f"calibration {cfg.train.calib_samples} images, scaling {cfg.ptq.scale_samples} images, "
          f"QADS {args.qads_iters} iterations, bias correction {'on' if bias else 'off'}; "
          f"float training {cfg.train.epochs} epochs, QAT {args.qat_epochs} epochs at W4A4; "
          f"activations inside attention at {args.attn_abits} bits (override '*.attn').")
    if note:
        print(note)
    print()
    print("| method | W/A | float | PTQ | QAT | layer MSE scaled/unscaled |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        qat = f"{r['qat']:.4f}" if r["qat"] is not None else "-"
        print(f"| {r['method']} | W{r['wbits']}A{r['abits']} | {r['float']:.4f} | {r['ptq']:.4f} | {qat} "
              f"| {r['layer_mse_ratio']:.3f} |")
    print(f"\n{len(rows)} runs in {time.time() - t0:.0f} s; one test image = {1 / len(ds.x_test):.4f} accuracy.")
    if args.json:
        args.json.write_text(json.dumps({"note": note, "rows": rows}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
