"""Distribution-scaling methods side by side (for notebooks and reports).

Thin glue over :func:`hyq.jobs.quantize.quantize_flow`: the same float model (trained once,
cached) quantized with each method, and per-channel input ranges of a pointwise layer
before and after scaling, measured with quantization off.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch


def channel_ranges(model: torch.nn.Module, layer: str, x: torch.Tensor) -> np.ndarray:
    """Per-input-channel max |activation| feeding ``layer`` (float, quantizers off) on inputs ``x``."""
    from hyq.quantize.scaling import sink_inputs

    a = sink_inputs(model, [layer], x)[layer]
    dims = [d for d in range(a.dim()) if d != 1]
    return a.abs().amax(dim=dims).cpu().numpy()


def compare_methods(cfg, ds, methods: Sequence[str], wbits: int, abits: int, qat_epochs: int = 0,
                    samples: int = 256) -> tuple[list[dict[str, Any]], dict[str, torch.nn.Module]]:
    """Quantize the flow's model with each scaling method; rows of accuracies and MSE ratios, and the models.

    ``mse_ratio`` is the mean over regions of (quantized-layer MSE after scaling) / (before).
    """
    from hyq.jobs.quantize import quantize_flow as quantize

    rows, models = [], {}
    for m in methods:
        res = quantize(cfg, ds, method=m, wbits=wbits, abits=abits, qat_epochs=qat_epochs)
        r = res.report
        regs = r["scaling"]["regions"] if "scaling" in r else r.get("regions", [])
        ratios = [g["mse_scaled"] / g["mse_unscaled"] for g in regs if g["mse_unscaled"] > 0]
        rows.append({"method": m, "wbits": wbits, "abits": abits, "accuracy_float": r["accuracy_float"],
                     "accuracy_ptq": r["accuracy_ptq"], "accuracy_quantized": r["accuracy_quantized"],
                     "mse_ratio": float(np.mean(ratios)) if ratios else float("nan"), "regions": len(regs)})
        models[m] = res.model
    return rows, models


def most_uneven_layer(model: torch.nn.Module, x: torch.Tensor) -> str:
    """The scalable pointwise layer whose input channels differ most (largest max/median range)."""
    from hyq.quantize.regions import find_regions

    regions, _ = find_regions(model)
    sinks = [s for r in regions for s in r.sinks]
    if not sinks:
        raise ValueError("the model has no pointwise layer that distribution scaling can reach")

    def spread(name: str) -> float:
        r = channel_ranges(model, name, x)
        return float(r.max() / max(np.median(r), 1e-12))

    return max(sinks, key=spread)
