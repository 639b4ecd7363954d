"""Small quantized networks whose every FINN layer specialises to RTL (simulable end to end)."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from hyq.data import load
from hyq.export import export
from hyq.nn.quant import BitSpec, input_quant, linear, relu
from hyq.quantize import calibrate


class TinyMLP(nn.Module):
    """8x8 digits -> 64 -> 32 -> 10: MVAU/Thresholding only, so FINN picks RTL for every layer."""

    def __init__(self, hidden: int = 32, bits: BitSpec | None = None):
        super().__init__()
        bits = bits or BitSpec()
        self.input_q = input_quant()
        self.fc1 = linear("fc1", bits, 64, hidden)
        self.act1 = relu("act1", bits)
        self.fc2 = linear("fc2", bits, hidden, 10)

    def forward(self, x):
        return self.fc2(self.act1(self.fc1(self.input_q(x).flatten(1))))


def export_tiny_mlp(path: Path) -> Path:
    """Calibrate TinyMLP on digits and export it to QONNX with a raw-pixel UINT8 input."""
    torch.manual_seed(0)
    ds = load("digits")
    m = TinyMLP()
    calibrate(m, ds.x_train[:128])
    m.eval()
    return export(m, ds.x_test[:1], Path(path), input_scale=1 / 255)
