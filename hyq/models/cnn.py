"""``mv2-cnn``: the convolutional half of the hybrid models, sized for 8x8 digits.

input quantizer -> 3x3 stem -> MV2 blocks -> global average pool -> linear classifier.
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn

from hyq.nn.blocks import ConvBNAct, MV2Block
from hyq.nn.quant import BitSpec, ident, input_quant, linear, relu


class MV2CNN(nn.Module):
    """Stem + inverted-residual stages; ``stages`` lists (channels, stride, repeats)."""

    def __init__(
        self,
        in_channels: int = 1,
        num_classes: int = 10,
        stem: int = 16,
        stages: Sequence[Sequence[int]] = ((16, 1, 1), (24, 2, 1)),
        expand: int = 2,
        bits: BitSpec | None = None,
    ):
        super().__init__()
        bits = bits or BitSpec()
        # fixed 1/255 scale on [0, 1] inputs: the accelerator's input stream is raw 8-bit pixels
        self.input_q = input_quant()
        self.stem = ConvBNAct("stem", bits, in_channels, stem, k=3)
        blocks, cin, i = [], stem, 0
        for cout, stride, repeats in stages:
            for r in range(repeats):
                blocks.append(MV2Block(f"blocks.{i}", bits, cin, cout, expand, stride if r == 0 else 1))
                cin, i = cout, i + 1
        self.blocks = nn.Sequential(*blocks)
        self.head_act = relu("head_act", bits)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.pool_q = ident("pool_q", bits, signed=False)
        self.classifier = linear("classifier", bits, cin, num_classes)

    def forward(self, x):
        x = self.blocks(self.stem(self.input_q(x)))
        x = self.pool_q(self.pool(self.head_act(x)))
        return self.classifier(x.flatten(1))
