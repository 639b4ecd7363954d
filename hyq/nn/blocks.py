"""Convolutional building blocks of the hybrid models, from Brevitas layers."""

from __future__ import annotations

import torch
from torch import nn

from hyq.nn.quant import BitSpec, conv, ident, relu

#: activation choices: ``relu`` (monotonic: FINN folds it into thresholds) or a table
#: activation (non-monotonic: hardware needs a table on its 8-bit input): ``silu``
#: (MobileViT's own), ``gelu`` (exact, erf), ``hardswish``
TABLES = {"silu": nn.functional.silu, "gelu": nn.functional.gelu, "hardswish": nn.functional.hardswish}
ACTIVATIONS = ("relu", *TABLES)


class QuantTableActivation(nn.Module):
    """A pointwise function (one of :data:`TABLES`) between two quantizers: an integer table
    of at most 2^bits entries in hardware (hyq.export.tables finds it in the export)."""

    def __init__(self, name: str, bits: BitSpec, kind: str = "silu"):
        super().__init__()
        self.kind = kind
        self.in_q = ident(f"{name}.in", bits)
        self.out_q = ident(f"{name}.out", bits)

    def forward(self, x):
        x = self.in_q(x)
        return self.out_q(TABLES[self.kind](x.value if hasattr(x, "value") else x))


class QuantSiLU(QuantTableActivation):
    """SiLU between two quantizers (MobileViT's activation)."""

    def __init__(self, name: str, bits: BitSpec):
        super().__init__(name, bits, "silu")


def activation(name: str, bits: BitSpec, kind: str = "relu") -> nn.Module:
    """The quantized activation ``kind`` (one of :data:`ACTIVATIONS`) with quantized output."""
    if kind not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {', '.join(ACTIVATIONS)}; got {kind!r}")
    return relu(name, bits) if kind == "relu" else QuantSiLU(name, bits) if kind == "silu" \
        else QuantTableActivation(name, bits, kind)


class ConvBNAct(nn.Module):
    """k x k quantized conv -> BatchNorm -> quantized ReLU (FINN folds BN into thresholds)."""

    def __init__(self, name: str, bits: BitSpec, cin: int, cout: int, k: int = 3, stride: int = 1, groups: int = 1,
                 act: str = "relu"):
        super().__init__()
        self.conv = conv(f"{name}.conv", bits, cin, cout, k, stride, groups)
        self.bn = nn.BatchNorm2d(cout)
        self.act = activation(f"{name}.act", bits, act)

    def forward(self, x):
        return self.act(self.bn(self.conv(x)))


class MV2Block(nn.Module):
    """Inverted residual: 1x1 expand -> 3x3 depthwise -> 1x1 project (+ residual add).

    The residual add is hardware-friendly: both operands pass through one shared
    quantizer (same scale), so FINN sees an integer add, and a requantizer after the add
    brings the sum back to the activation width.
    """

    def __init__(self, name: str, bits: BitSpec, cin: int, cout: int, expand: int = 2, stride: int = 1,
                 act: str = "relu"):
        super().__init__()
        hidden = cin * expand
        self.use_residual = stride == 1 and cin == cout
        self.expand = ConvBNAct(f"{name}.expand", bits, cin, hidden, k=1, act=act)
        self.depthwise = ConvBNAct(f"{name}.depthwise", bits, hidden, hidden, k=3, stride=stride, groups=hidden, act=act)
        self.project = conv(f"{name}.project.conv", bits, hidden, cout, 1)
        self.project_bn = nn.BatchNorm2d(cout)
        self.project_q = ident(f"{name}.project.q", bits)
        if self.use_residual:
            self.out_q = ident(f"{name}.out_q", bits)

    def forward(self, x):
        y = self.project_q(self.project_bn(self.project(self.depthwise(self.expand(x)))))
        if not self.use_residual:
            return y
        # shared quantizer on both operands: same scale, integer add in hardware
        return self.out_q(self.project_q(x) + y)
