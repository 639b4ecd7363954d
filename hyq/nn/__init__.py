"""Brevitas layers and blocks of the hybrid networks (quantized convolutions, attention,
integer softmax), each with per-layer bit-widths (:class:`hyq.nn.quant.BitSpec`).

Below :mod:`hyq.models` (which assembles them into the zoo) and above :mod:`hyq.integer`
(the NumPy references the layers compute bit-exactly, e.g. :class:`hyq.nn.softmax.IntSoftmax`).
"""

from hyq.nn.swap import integerize

__all__ = ["integerize"]
