"""Small quantized networks whose every FINN layer specialises to RTL (simulable end to end)."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from hyq.data import load
from hyq.export import export
from hyq.nn.blocks import ConvBNAct
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


class TinyConv(nn.Module):
    """8x8 digits -> 3x3 conv -> 3x3 conv stride 2 -> 4x4 conv (valid, 1x1 out) -> linear:
    FMPadding, SWG, MVAU and Thresholding, all with RTL, in one dataflow chain."""

    def __init__(self, ch: int = 8, bits: BitSpec | None = None):
        super().__init__()
        bits = bits or BitSpec()
        self.input_q = input_quant()
        self.c1 = ConvBNAct("c1", bits, 1, ch, k=3)
        self.c2 = ConvBNAct("c2", bits, ch, ch, k=3, stride=2)
        self.c3 = ConvBNAct("c3", bits, ch, 16, k=4)
        self.c3.conv.padding = (0, 0)
        self.fc = linear("fc", bits, 16, 10)

    def forward(self, x):
        return self.fc(self.c3(self.c2(self.c1(self.input_q(x)))).flatten(1))


def export_calibrated(model: nn.Module, path: Path) -> Path:
    """Calibrate ``model`` on digits and export it to QONNX with a raw-pixel UINT8 input."""
    torch.manual_seed(0)
    ds = load("digits")
    calibrate(model, ds.x_train[:128])
    model.eval()
    return export(model, ds.x_test[:1], Path(path), input_scale=1 / 255)


def export_tiny_mlp(path: Path) -> Path:
    torch.manual_seed(0)
    return export_calibrated(TinyMLP(), path)


def export_tiny_conv(path: Path) -> Path:
    torch.manual_seed(0)
    return export_calibrated(TinyConv(), path)
