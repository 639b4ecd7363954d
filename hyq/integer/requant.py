"""Integer requantization, the one NumPy reference, and its exactness proof against a
threshold table.

Per channel ``c`` (last axis), on an integer input ``x``::

    p = x * M_c            # product: in_bits + m_bits bits (M_c >= 0, unsigned m_bits)
    q = p + B_c            # sum: max(in_bits + m_bits, b_bits) + 1 bits, signed
    r = q >> s             # arithmetic shift = floor(q / 2^s): sum bits - s bits
    r -= (q mod 2^s < W_c) and (r + offset) odd    # ties to even (W_c = 0: none)
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

Ties to even: the tables come from Brevitas' ``round`` (half to even). Where a channel's real
threshold is an exact integer (its scale ratio hits half-integers, e.g. every 93rd step of
the default CNN's Thresholding_rtl_3 channel 18), the table steps there one input later for
an odd output code than for an even one, and no ``floor((x M + B) / 2^s)`` reproduces it at
any shift. The tie term does: ``M, B`` reproduce the half-up table and ``W_c`` marks the
remainders below which a result is a tie, taken back by one where the code is odd. The
function stays non-decreasing in ``x`` (within one value of ``r`` the remainder grows with
``x``, so only a prefix is taken back), so the same checkpoints prove it.
"""

from __future__ import annotations

import itertools
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
    W: np.ndarray | None = None  # int64 (C,), >= 0: tie remainders (None: no ties)

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
    def w_bits(self) -> int:
        """Unsigned width of the tie remainders (0 without ties)."""
        return 0 if self.W is None else _bits_unsigned(int(self.W.max()))

    @property
    def param_bits(self) -> int:
        """Stored bits: one M, one B (and one W with ties) per channel (the shift is a constant of the circuit)."""
        return int(self.M.size) * (self.m_bits + self.b_bits + self.w_bits)


def requant(x: np.ndarray, M: np.ndarray, B: np.ndarray, shift: int, n: int, offset: int = 0,
            W: np.ndarray | None = None) -> np.ndarray:
    """``clip(floor((x * M + B) / 2^shift) - tie, 0, n) + offset`` per channel (last axis), int64;
    ``tie`` is 1 where the remainder ``(x * M + B) mod 2^shift`` is below ``W`` and the code odd."""
    x = np.asarray(x).astype(np.int64)
    q = x * np.asarray(M, dtype=np.int64) + np.asarray(B, dtype=np.int64)
    r = q >> int(shift)
    if W is not None:
        r = r - (((q & ((1 << int(shift)) - 1)) < np.asarray(W, dtype=np.int64)) & (((r + int(offset)) & 1) == 1))
    return np.clip(r, 0, int(n)) + int(offset)


def apply(x: np.ndarray, p: RequantParams) -> np.ndarray:
    """:func:`requant` with the parameters of ``p``."""
    return requant(x, p.M, p.B, p.shift, p.n, p.offset, p.W)


def threshold_count(x: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """``#{k : thresholds[c, k] <= x}`` per channel (last axis of ``x``), int64."""
    t = np.asarray(thresholds, dtype=np.float64)
    x = np.asarray(x, dtype=np.float64)
    return (x[..., None] >= t).sum(axis=-1).astype(np.int64)


def _checkpoints(steps: np.ndarray, lo: int, hi: int) -> np.ndarray:
    """The range ends and ``t - 1``, ``t`` for every integer step point ``t`` in (lo, hi]."""
    inside = steps[(steps > lo) & (steps <= hi)]
    return np.unique(np.concatenate([[lo, hi], inside - 1, inside]).astype(np.int64))


def prove_equal(thresholds: np.ndarray, in_range: tuple[int, int], M, B, shift: int, W=None,
                offset: int = 0) -> str | None:
    """None when :func:`requant` (without ``offset``, the table's count) equals the threshold
    count for every integer ``x`` in ``in_range`` and every channel, else the reason (first
    channel that differs). Exact by monotonicity (module docstring); needs ``M >= 0``; ``offset``
    matters only for the parity of ties."""
    t = np.asarray(thresholds, dtype=np.float64)
    lo, hi = int(in_range[0]), int(in_range[1])
    M, B = np.asarray(M, dtype=np.int64), np.asarray(B, dtype=np.int64)
    W = np.zeros_like(M) if W is None else np.asarray(W, dtype=np.int64)
    if (M < 0).any():
        return "a negative multiplier is not monotone"
    n = t.shape[1]
    for c in range(t.shape[0]):
        xs = _checkpoints(np.ceil(t[c]), lo, hi)
        want = threshold_count(xs, t[c])
        got = requant(xs, M[c], B[c], shift, n, offset, W[c]) - offset
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


def _slope_bounds(c: np.ndarray, k: np.ndarray):
    """Open interval (lo, hi) of real slopes ``r`` with some ``q`` giving ``c_k - 1 < r k + q <= c_k``
    at every step ``k`` (pairwise bounds: the system has two unknowns), and the steps of the
    pairs that attain each bound."""
    i, j = np.triu_indices(len(k), 1)
    d = (k[j] - k[i]).astype(np.float64)
    lo, hi = (c[j] - c[i] - 1) / d, (c[j] - c[i] + 1) / d
    a, b = lo.max(), hi.min()
    return a, b, set(k[i[lo == a]]) | set(k[j[lo == a]]) | set(k[i[hi == b]]) | set(k[j[hi == b]])


def _half_up(t: np.ndarray, lo: int, hi: int, offset: int) -> tuple[np.ndarray, np.ndarray] | None:
    """One channel's table as round-half-up would have it, and the steps that differ (ties to
    even at an odd code), or None where it is not an evenly spaced table with ties.

    A round-half-even table is a ceiling of ``r k + q`` except that at an exact tie of an odd
    code it steps one input later. Then the slope's open interval is empty, pinned at one
    value by pairs through the ties; the smallest set of those pairs' odd-code steps taken one
    back that opens the interval is the half-up table (the proof then checks the result)."""
    c = np.ceil(t)
    k = np.flatnonzero((c > lo) & (c <= hi))
    if len(k) < 2:
        return None
    a, b, steps = _slope_bounds(c[k], k)
    odd = sorted(int(s) for s in steps if (int(s) + 1 + offset) % 2)
    if a != b or not odd or len(odd) > 8:
        return None
    for size in range(1, len(odd) + 1):
        for moved in itertools.combinations(odd, size):
            u = c.copy()
            u[list(moved)] -= 1
            a, b, _ = _slope_bounds(u[k], k)
            if a < b:
                return u, np.array(moved, dtype=np.int64)
    return None


def requant_from_thresholds(thresholds: np.ndarray, in_range: tuple[int, int], offset: int = 0,
                            max_shift: int = MAX_SHIFT) -> tuple[RequantParams | None, str]:
    """The requantization with the smallest shift that provably equals the threshold table
    ``thresholds`` (C, n) on every integer of ``in_range``; ``(None, reason)`` where none
    exists up to ``max_shift`` (e.g. unevenly spaced thresholds). A channel whose table is
    rounded half to even at exact ties gets the tie term (module docstring)."""
    t = np.asarray(thresholds, dtype=np.float64)
    if t.ndim != 2 or t.shape[1] == 0:
        return None, f"thresholds of shape {t.shape} are not a (channels, steps) table"
    if not np.isfinite(t).all():
        return None, "thresholds are not finite"
    lo, hi = int(in_range[0]), int(in_range[1])
    if lo > hi:
        return None, f"empty input range {in_range}"
    n = t.shape[1]
    table, ties = t.copy(), {}  # ties: channel -> steps that round half up in ``table``

    def at(shift: int):
        """Every channel's (M, B) at ``shift`` and None, or (those before it, the first channel
        with none): a shift is feasible only for all channels, so the rest need no search."""
        found = []
        for c in range(t.shape[0]):
            v = _channel(table[c], lo, hi, shift, n)
            if v is None and c not in ties and shift == max_shift:
                half = _half_up(t[c], lo, hi, offset)
                if half is not None:
                    table[c], ties[c] = half
                    v = _channel(table[c], lo, hi, shift, n)
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
    while True:  # the tie remainders: below W_c at every tie, proven above it elsewhere (else a larger shift)
        M = np.array([v[0] for v in best], dtype=np.int64)
        B = np.array([v[1] for v in best], dtype=np.int64)
        W = None
        if ties:
            W = np.zeros_like(M)
            for ch, steps in ties.items():
                x = table[ch][steps].astype(np.int64)
                x = x[(x >= lo) & (x <= hi)]
                W[ch] = int((((x * M[ch] + B[ch]) & ((1 << good) - 1)).max() + 1)) if x.size else 0
        why = prove_equal(t, (lo, hi), M, B, good, W, offset)
        if why is None or not ties or good == max_shift:
            break
        good += 1
        best, _ = at(good)
    p = RequantParams(M, B, good, n, int(offset), (lo, hi), W)
    if p.sum_bits > INT64_BITS:  # the smallest shift has the smallest M: no other fits either
        return None, (f"x * M + B needs {p.sum_bits} bits at the smallest shift {good}, more than the "
                      f"int64 reference's {INT64_BITS}")
    if why is not None:  # pragma: no cover - without ties the intervals are built from the proof's checkpoints
        return None, why
    return p, "proven equal on the input range" + (f" (ties to even in {len(ties)} channels)" if ties else "")

__all__ = ["INT64_BITS", "MAX_SHIFT", "RequantParams", "apply", "prove_equal", "requant", "requant_from_thresholds",
           "threshold_count"]
