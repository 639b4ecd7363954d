"""Table activations: a pointwise function of a quantized input of at most 8 bits, as a table.

A non-monotonic function (SiLU, GELU, Hardswish) cannot be a threshold table, but on an
input of ``b <= 8`` bits it takes at most ``2^b`` values, so hardware stores one output code
per input code and looks it up. The one reference for building and applying that table:

- input code ``c`` (integer in the input quantizer's range, zero point ``z_in``) stands for
  ``x = (c - z_in) * s_in``;
- ``table[c - c_min] = clip(round_half_even(f(x) / s_out) + z_out, o_min, o_max)``, computed
  in float64. This is what Brevitas' output quantizer does (``torch.round`` rounds half to
  even) on the float32 value of ``f``; the two differ only if ``f(x) / s_out`` lies within
  float32 rounding of a half-integer, which the tests check does not happen on the
  shipped cases (they compare every code).

Widths: index ``b_in`` bits (``2^b_in`` entries), entries ``b_out`` bits; no other
intermediate exists in hardware.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

MAX_IN_BITS = 8


def _silu(x: np.ndarray) -> np.ndarray:
    return x / (1.0 + np.exp(-x))


def _gelu(x: np.ndarray) -> np.ndarray:  # exact (erf) GELU, torch's default
    erf = np.vectorize(math.erf, otypes=[np.float64])
    return 0.5 * x * (1.0 + erf(x / math.sqrt(2.0)))


def _hardswish(x: np.ndarray) -> np.ndarray:
    return x * np.clip(x + 3.0, 0.0, 6.0) / 6.0


#: the pointwise functions a table can stand for, in float64
FUNCTIONS = {"silu": _silu, "gelu": _gelu, "hardswish": _hardswish}
#: the function name of a table tabulated from an exported float subgraph (the subgraph
#: was executed on every input code, :class:`hyq.export.tables.TabulatePointwise`): no
#: float64 function here builds it, the table itself is the record
FROM_GRAPH = "graph"


def code_range(bits: int, signed: bool, narrow: bool = False) -> tuple[int, int]:
    """Smallest and largest code of a ``bits``-wide (un)signed quantizer (narrow drops -2^(b-1))."""
    if signed:
        return -(2 ** (bits - 1)) + int(narrow), 2 ** (bits - 1) - 1
    return 0, 2**bits - 1 - int(narrow)


@dataclass(frozen=True)
class TableSpec:
    """What the table is built from: the function and both quantizers."""

    function: str
    in_bits: int
    in_signed: bool
    in_scale: float
    out_bits: int
    out_signed: bool
    out_scale: float
    in_zero: int = 0
    out_zero: int = 0
    in_narrow: bool = False
    out_narrow: bool = False

    def __post_init__(self) -> None:
        if self.function not in FUNCTIONS and self.function != FROM_GRAPH:
            raise ValueError(f"table function must be one of {', '.join(FUNCTIONS)} or {FROM_GRAPH!r}; "
                             f"got {self.function!r}")
        if not 1 <= self.in_bits <= MAX_IN_BITS:
            raise ValueError(f"table input must have 1..{MAX_IN_BITS} bits, got {self.in_bits}")
        if not 1 <= self.out_bits <= 32:
            raise ValueError(f"table output must have 1..32 bits, got {self.out_bits}")
        if not (self.in_scale > 0 and self.out_scale > 0):
            raise ValueError("table quantizer scales must be positive")

    @property
    def in_range(self) -> tuple[int, int]:
        return code_range(self.in_bits, self.in_signed, self.in_narrow)

    @property
    def out_range(self) -> tuple[int, int]:
        return code_range(self.out_bits, self.out_signed, self.out_narrow)


def build_table(spec: TableSpec) -> np.ndarray:
    """Output codes (int64) for every input code from ``in_range[0]`` upwards."""
    if spec.function == FROM_GRAPH:
        raise ValueError("a table tabulated from a graph is recorded, not built from a function")
    lo, hi = spec.in_range
    x = (np.arange(lo, hi + 1, dtype=np.float64) - spec.in_zero) * spec.in_scale
    y = np.round(FUNCTIONS[spec.function](x) / spec.out_scale) + spec.out_zero  # np.round: half to even
    omin, omax = spec.out_range
    return np.clip(y, omin, omax).astype(np.int64)


def lookup(codes: np.ndarray, table: np.ndarray, in_min: int) -> np.ndarray:
    """``table`` applied to integer input ``codes`` (code ``in_min`` indexes entry 0)."""
    idx = np.asarray(codes, dtype=np.int64) - in_min
    if idx.size and (idx.min() < 0 or idx.max() >= len(table)):
        raise ValueError(f"table input codes outside [{in_min}, {in_min + len(table) - 1}]")
    return np.asarray(table, dtype=np.int64)[idx]


__all__ = ["FROM_GRAPH", "FUNCTIONS", "MAX_IN_BITS", "TableSpec", "build_table", "code_range", "lookup"]
