"""The TableActivation QONNX node: a pointwise function of a quantized input, as a table.

It reads the dequantized input ``(c - z_in) * s_in`` that the Quant node before it emits,
recovers the code ``c``, looks up ``table`` (built by :func:`hyq.integer.table.build_table`
or tabulated from the exported subgraph, :class:`hyq.export.tables.TabulatePointwise`;
recorded as an attribute, not recomputed) and emits the dequantized output
``(t - z_out) * s_out`` in float32, as the Quant node it replaces did.
"""

from __future__ import annotations

import numpy as np

from hyq.export.ops.base import FloatPointwise
from hyq.integer.table import FROM_GRAPH, FUNCTIONS, TableSpec, lookup

_INTS = ("in_bits", "in_signed", "in_narrow", "in_zero", "out_bits", "out_signed", "out_narrow", "out_zero")


class TableActivation(FloatPointwise):
    """``y = dequant(table[quant(x)])`` elementwise; see :mod:`hyq.integer.table`."""

    def get_nodeattr_types(self):
        attrs = {name: ("i", True, 0) for name in _INTS}
        attrs.update({
            "function": ("s", True, "silu", {*FUNCTIONS, FROM_GRAPH}),
            "in_scale": ("f", True, 0.0),
            "out_scale": ("f", True, 0.0),
            "table": ("ints", True, []),
        })
        return attrs

    def spec(self) -> TableSpec:
        g = self.get_nodeattr
        return TableSpec(function=g("function"), in_bits=g("in_bits"), in_signed=bool(g("in_signed")),
                         in_scale=float(g("in_scale")), out_bits=g("out_bits"), out_signed=bool(g("out_signed")),
                         out_scale=float(g("out_scale")), in_zero=g("in_zero"), out_zero=g("out_zero"),
                         in_narrow=bool(g("in_narrow")), out_narrow=bool(g("out_narrow")))

    def compute(self, x):
        s = self.spec()
        lo, hi = s.in_range
        codes = np.clip(np.rint(x / s.in_scale) + s.in_zero, lo, hi)
        t = lookup(codes, np.asarray(self.get_nodeattr("table")), lo)
        return (t - s.out_zero).astype(np.float32) * np.float32(s.out_scale)

    def describe(self):
        s = self.spec()
        info = []
        n = len(self.get_nodeattr("table"))
        if n != s.in_range[1] - s.in_range[0] + 1:
            info.append(f"TableActivation: table has {n} entries, the input has {s.in_range}")
        info.append(f"TableActivation {s.function}: {s.in_bits} -> {s.out_bits} bits")
        return info
