"""Export a zoo model with random weights, for hardware builds of models nobody trained.

A job, not a model: it calibrates (:mod:`hyq.quantize`) and exports (:mod:`hyq.export`),
so it lives above both.
"""

from __future__ import annotations

from typing import Any

import torch

from hyq.export import export
from hyq.models import build_model
from hyq.nn.quant import BitSpec
from hyq.quantize import calibrate


def export_untrained(name: str, path, in_channels: int = 3, num_classes: int = 1000, size: int = 256,
                     bits: BitSpec | None = None, samples: int = 2, seed: int = 0, **options: Any):
    """Export zoo model ``name`` with random weights to a QONNX file for hardware builds.

    BatchNorm statistics and activation ranges are collected on ``samples`` random 8-bit
    images, so every quantizer has a realistic scale; the accuracy is meaningless, the
    graph, bit-widths and parameter counts are those of the trained model. Returns the path.
    """
    torch.manual_seed(seed)
    model = build_model(name, bits or BitSpec(), in_channels, num_classes, **options)
    x = torch.round(torch.rand(samples, in_channels, size, size) * 255) / 255
    model.train()
    with torch.no_grad():
        model(x)  # BatchNorm running statistics
    calibrate(model, x)
    model.eval()
    return export(model, x[:1], path, input_scale=float(model.input_q.act_quant.scale()))
