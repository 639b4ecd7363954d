"""Integer requantization, the one NumPy reference, and its exactness proof against a
threshold table.

Per channel ``c`` (last axis), on an integer input ``x``::

    p = x * M_c            # product: in_bits + m_bits bits (M_c >= 0, unsigned m_bits)
    q = p + B_c            # sum: max(in_bits + m_bits, b_bits) + 1 bits, signed
    r = q >> s             # arithmetic shift = floor(q / 2^s): sum bits - s bits
    y = clip(r, 0, n) + offset

``n`` is the number of thresholds the table had (the output's code count minus one) and
``offset`` the output's first code (FINN's ``ActVal``; negative for a signed output), so
``y`` is the threshold layer's output code. Everything is int64; :class:`RequantParams`
records the widths a circuit needs.

A threshold table ``T`` maps an integer ``x`` to ``offset + #{k : T[c, k] <= x}``. That
count is non-decreasing in ``x``, and so is the requantization for ``M_c >= 0``.
:func:`requant_from_thresholds` returns parameters only when :func:`prove_equal` shows
the two are equal on every integer of the input range: two non-decreasing integer
functions that agree on both ends of an interval where one of them is constant agree on
all of it, so checking at the range ends and at ``t - 1`` and ``t`` for every step point
``t = ceil(T[c, k])`` inside the range is exact, O(thresholds) per channel.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

#: largest shift searched; a result is accepted only if ``x * M + B`` fits int64 (:data:`INT64_BITS`)
MAX_SHIFT = 48
#: widest signed ``x * M + B`` the int64 reference computes exactly
INT64_BITS = 63


def _bits_unsigned(v: int) -> int:
    return max(1, int(v).bit_length())


def _bits_signed(lo: int, hi: int) -> int:
    """Two's complement bits holding every integer of [lo, hi]."""
    return max(_bits_unsigned(hi) + 1 if hi > 0 else 1, (-lo - 1).bit_length() + 1 if lo < 0 else 1)


@dataclass(frozen=True)
class RequantParams:
    """Per-channel ``M`` and ``B``, a common shift ``s``, the clip to ``[0, n]`` plus
    ``offset``, and the widths of parameters and intermediates for integer inputs in
    ``in_range``."""

    M: np.ndarray  # int64 (C,), >= 0
    B: np.ndarray  # int64 (C,)
    shift: int
    n: int
    offset: int
    in_range: tuple[int, int]

    @property
    def in_bits(self) -> int:
        return _bits_signed(*self.in_range) if self.in_range[0] < 0 else _bits_unsigned(self.in_range[1])

    @property
    def m_bits(self) -> int:
        """Unsigned width of the multipliers."""
        return _bits_unsigned(int(self.M.max()))

    @property
    def b_bits(self) -> int:
        """Signed width of the biases."""
        return _bits_signed(int(self.B.min()), int(self.B.max()))

    @property
    def sum_bits(self) -> int:
        """Signed width of ``x * M + B`` over the input range (covers the product too)."""
        lo, hi = self.in_range
        p = [lo * int(self.M.min()), lo * int(self.M.max()), hi * int(self.M.min()), hi * int(self.M.max())]
        return _bits_signed(min(p) + int(self.B.min()), max(p) + int(self.B.max()))

    @property
    def param_bits(self) -> int:
        """Stored bits: one M and one B per channel (the shift is a constant of the circuit)."""
        return int(self.M.size) * (self.m_bits + self.b_bits)


def requant(x: np.ndarray, M: np.ndarray, B: np.ndarray, shift: int, n: int, offset: int = 0) -> np.ndarray:
    """``clip(floor((x * M + B) / 2^shift), 0, n) + offset`` per channel (last axis), int64."""
    x = np.asarray(x).astype(np.int64)
    q = x * np.asarray(M, dtype=np.int64) + np.asarray(B, dtype=np.int64)
    return np.clip(q >> int(shift), 0, int(n)) + int(offset)


def apply(x: np.ndarray, p: RequantParams) -> np.ndarray:
    """:func:`requant` with the parameters of ``p``."""
    return requant(x, p.M, p.B, p.shift, p.n, p.offset)


def threshold_count(x: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """``#{k : thresholds[c, k] <= x}`` per channel (last axis of ``x``), int64."""
    t = np.asarray(thresholds, dtype=np.float64)
    x = np.asarray(x, dtype=np.float64)
    return (x[..., None] >= t).sum(axis=-1).astype(np.int64)


def _checkpoints(steps: np.ndarray, lo: int, hi: int) -> np.ndarray:
    """The range ends and ``t - 1``, ``t`` for every integer step point ``t`` in (lo, hi]."""
    inside = steps[(steps > lo) & (steps <= hi)]
    return np.unique(np.concatenate([[lo, hi], inside - 1, inside]).astype(np.int64))


def prove_equal(thresholds: np.ndarray, in_range: tuple[int, int], M, B, shift: int) -> str | None:
    """None when ``clip(floor((x*M+B)/2^shift), 0, n)`` equals the threshold count for every
    integer ``x`` in ``in_range`` and every channel, else the reason (first channel that
    differs). Exact by monotonicity (module docstring); needs ``M >= 0``."""
    t = np.asarray(thresholds, dtype=np.float64)
    lo, hi = int(in_range[0]), int(in_range[1])
    M, B = np.asarray(M, dtype=np.int64), np.asarray(B, dtype=np.int64)
    if (M < 0).any():
        return "a negative multiplier is not monotone"
    n = t.shape[1]
    for c in range(t.shape[0]):
        xs = _checkpoints(np.ceil(t[c]), lo, hi)
        want = threshold_count(xs, t[c])
        got = np.clip((xs * M[c] + B[c]) >> shift, 0, n)
        if not np.array_equal(want, got):
            k = int(np.argmax(want != got))
            return f"channel {c}: at x={int(xs[k])} thresholds give {int(want[k])}, requantization {int(got[k])}"
    return None


def _bias_interval(xs: np.ndarray, f: np.ndarray, m: int, shift: int, n: int) -> tuple[int, int]:
    """[lowest, highest] ``B`` with ``clip(floor((x*m+B)/2^s), 0, n) == f`` at every ``xs``."""
    one = 1 << shift
    lo_b, hi_b = -(1 << 126), 1 << 126
    for x, v in zip(xs.tolist(), f.tolist()):
        if v > 0:  # x*m + B >= v * 2^s
            lo_b = max(lo_b, v * one - x * m)
        if v < n:  # x*m + B < (v + 1) * 2^s
            hi_b = min(hi_b, (v + 1) * one - x * m - 1)
    return lo_b, hi_b


def _multiplier_interval(xs: np.ndarray, f: np.ndarray, shift: int, n: int) -> tuple[int, int]:
    """[lowest, highest] integer ``M >= 0`` for which some ``B`` meets every checkpoint.

    Checkpoint ``i`` with ``f_i > 0`` bounds ``B >= f_i 2^s - x_i M`` and checkpoint ``j``
    with ``f_j < n`` bounds ``B <= (f_j + 1) 2^s - 1 - x_j M``; a ``B`` exists iff every
    such lower bound is at most every upper bound, which is linear in ``M`` per pair.
    """
    one = 1 << shift
    i = np.flatnonzero(f > 0)
    j = np.flatnonzero(f < n)
    dx = xs[j][None, :] - xs[i][:, None]  # x_j - x_i
    num = (f[j][None, :] + 1 - f[i][:, None]) * one - 1  # (x_j - x_i) M <= num
    upper = num[dx > 0] // dx[dx > 0]
    lower = -np.floor_divide(num[dx < 0], -dx[dx < 0])  # dx < 0: M >= ceil(num / dx) = -floor(num / -dx)
    m_lo = int(max(0, lower.max())) if lower.size else 0
    m_hi = int(upper.min()) if upper.size else m_lo
    return m_lo, m_hi


def _channel(t: np.ndarray, lo: int, hi: int, shift: int, n: int) -> tuple[int, int] | None:
    """(M, B) for one channel at this shift (the smallest M), or None."""
    xs = _checkpoints(np.ceil(t), lo, hi)
    f = threshold_count(xs, t)
    m_lo, m_hi = _multiplier_interval(xs, f, shift, n)
    if m_lo > m_hi:
        return None
    lb, hb = _bias_interval(xs, f, m_lo, shift, n)
    if lb > hb:  # pragma: no cover - excluded by the multiplier interval
        return None
    return m_lo, lb if lb > -(1 << 126) else hb


def requant_from_thresholds(thresholds: np.ndarray, in_range: tuple[int, int], offset: int = 0,
                            max_shift: int = MAX_SHIFT) -> tuple[RequantParams | None, str]:
    """The requantization with the smallest shift that provably equals the threshold table
    ``thresholds`` (C, n) on every integer of ``in_range``; ``(None, reason)`` where none
    exists up to ``max_shift`` (e.g. unevenly spaced thresholds)."""
    t = np.asarray(thresholds, dtype=np.float64)
    if t.ndim != 2 or t.shape[1] == 0:
        return None, f"thresholds of shape {t.shape} are not a (channels, steps) table"
    if not np.isfinite(t).all():
        return None, "thresholds are not finite"
    lo, hi = int(in_range[0]), int(in_range[1])
    if lo > hi:
        return None, f"empty input range {in_range}"
    n = t.shape[1]

    def at(shift: int):
        """Every channel's (M, B) at ``shift`` and None, or (those before it, the first channel
        with none): a shift is feasible only for all channels, so the rest need no search."""
        found = []
        for c in range(t.shape[0]):
            v = _channel(t[c], lo, hi, shift, n)
            if v is None:
                return found, c
            found.append(v)
        return found, None

    # feasibility only grows with the shift (2M, 2B at s + 1 give the same outputs as M, B
    # at s), so the smallest feasible shift is found by bisection
    top, c = at(max_shift)
    if c is not None:
        return None, (f"channel {c}: no multiplier with a shift up to {max_shift} reproduces its "
                      "steps (thresholds unevenly spaced on the input range)")
    good, best, bad = max_shift, top, -1
    while good - bad > 1:
        mid = (good + bad) // 2
        mb, c = at(mid)
        if c is None:
            good, best = mid, mb
        else:
            bad = mid
    M = np.array([v[0] for v in best], dtype=np.int64)
    B = np.array([v[1] for v in best], dtype=np.int64)
    p = RequantParams(M, B, good, n, int(offset), (lo, hi))
    if p.sum_bits > INT64_BITS:  # the smallest shift has the smallest M: no other fits either
        return None, (f"x * M + B needs {p.sum_bits} bits at the smallest shift {good}, more than the "
                      f"int64 reference's {INT64_BITS}")
    why = prove_equal(t, (lo, hi), M, B, good)
    if why is not None:  # pragma: no cover - the intervals are built from the proof's checkpoints
        return None, why
    return p, "proven equal on the input range"

__all__ = ["INT64_BITS", "MAX_SHIFT", "RequantParams", "apply", "prove_equal", "requant", "requant_from_thresholds",
           "threshold_count"]
