"""Accuracy cost of the hardware-aware choices of the hybrid models, measured on digits.

Trains ``hybrid-tiny`` (float, then calibration and QAT at W8A8, as ``hyq run`` does) once
per choice of normalisation (BatchNorm folded into thresholds vs LayerNorm) and activation
(ReLU, which becomes thresholds, vs SiLU, which needs a table) and prints float and
quantized test accuracy. Usage: ``.venv/bin/python benchmarks/hybrid_choices.py [epochs]``.
"""

from __future__ import annotations

import itertools
import sys
import time

import torch

from hyq.config import TrainConfig
from hyq.data import load
from hyq.models import build_model
from hyq.nn.quant import BitSpec
from hyq.quantize import train


def main(epochs: int = 40) -> None:
    ds = load("digits", 0.2, 0)
    cfg = TrainConfig(epochs=epochs, qat_epochs=5, lr=0.005, batch_size=64, calib_samples=256, seed=0)
    print("| norm | act | float acc | W8A8 acc | diff (points) | seconds |")
    print("|---|---|---|---|---|---|")
    # the shipped default (batch, relu) last: the alternatives are the news
    for norm, act in sorted(itertools.product(("batch", "layer"), ("relu", "silu")), key=lambda c: c == ("batch", "relu")):
        torch.manual_seed(cfg.seed)
        model = build_model("hybrid-tiny", BitSpec(), ds.input_shape[0], ds.num_classes, norm=norm, act=act)
        t0 = time.perf_counter()
        res = train(model, ds, cfg)
        print(f"| {norm} | {act} | {res.float_accuracy:.4f} | {res.quant_accuracy:.4f} | "
              f"{100 * (res.quant_accuracy - res.float_accuracy):+.2f} | {time.perf_counter() - t0:.0f} |", flush=True)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 40)
