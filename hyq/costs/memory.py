"""Buffers of hyq's RTL as Yosys maps them on Xilinx parts: distributed RAM or 18 Kbit blocks.

One model for the token and row buffers of the softmax, LayerNorm, dynamic MVAU and shuffle
RTL, and for the FIFO and window-buffer features of :mod:`hyq.costs.finn_fit`.
"""

from __future__ import annotations

import math


def lutram(depth: int, width: int) -> int:
    """LUTs of a ``depth`` x ``width`` distributed RAM (one write, one asynchronous read port):
    RAM32M (32 x 6 bits) up to depth 32, else RAM64M (64 x 3 bits) per 64 words, 4 LUTs each."""
    if depth <= 32:
        return 4 * math.ceil(width / 6)
    return 4 * math.ceil(width / 3) * math.ceil(depth / 64)


def row_buffer(depth: int, width: int) -> tuple[int, int]:
    """(LUTs as distributed RAM, 18 Kbit BRAMs) of the ``depth`` x ``width`` row buffer.

    Distributed RAM is :func:`lutram`. Yosys 0.23's libmap costs 8 per LUTRAM bit-column
    block (scaled by width used, 8/3 per bit per 64 words) against 129 per RAMB18; the
    measured boundary (197 x 12 bits -> BRAM, 197 x 8, 512 x 4, 64 x 32 -> LUTRAM) sits at
    0.9 of the BRAM cost.
    """
    lut = lutram(depth, width)
    cost = 8 / 6 * width if depth <= 32 else 8 / 3 * width * math.ceil(depth / 64)
    per_bram = 36 if depth <= 512 else 18 if depth <= 1024 else 9 if depth <= 2048 else 4
    brams = math.ceil(width / per_bram) * max(1, math.ceil(depth / 16384))
    if cost > 0.9 * 129 * brams:
        return 0, brams
    return lut, 0
