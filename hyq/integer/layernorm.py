"""Integer-only LayerNorm: the one reference every other implementation is checked against.

LayerNorm of one token's C channels, without its affine part (gamma, beta follow as a
per-channel affine map that the next quantizer's thresholds absorb, see
:mod:`hyq.nn.layernorm`). Input: integers ``x`` of a ``in_bits``-bit quantized tensor with
one scale ``S``. Output: signed ``out_bits``-bit integers ``o`` standing for ``o * 2^-F``
(``F = out_frac``), the normalised value ``(x - mean) / sqrt(var + eps)`` rounded to that
grid and clamped to the symmetric range ``[-(2^(ob-1) - 1), 2^(ob-1) - 1]`` (symmetric, so
that a negative gamma can flip a channel's sign exactly).

The mean is never divided out: with ``S1 = sum(x)`` and ``S2 = sum(x^2)``, ``d = C*x - S1``
is C times ``x - mean`` and ``Q = C*S2 - S1^2`` is C^2 times the variance times C, both
exact integers from one pass over the token, and ``(x - mean) / sqrt(var) = d / sqrt(Q)``.
The eps of float LayerNorm (``var + eps`` in real units) is the integer ``e = round(C^2 *
eps * 2^2E / S^2)`` added to ``Q << 2E`` (on the finer grid, so that a small eps does not
round away); it is the only constant that depends on S.

Integer steps (per token of C channels; B = in_bits, floor everywhere)
--------------------------------------------------------------------
1. ``S1 = sum(x)``, ``S2 = sum(x * x)``                    one pass, token buffered
2. ``Q = C * S2 - S1 * S1``                                 Q >= 0
3. ``r = isqrt((Q << 2E) + e)``                             exact floor square root,
   digit by digit (:func:`isqrt`): two result bits per step, only shift, subtract and
   compare, no multiplier or divider. E extra result bits make r >= 2^(ob + G) for every
   non-constant token (the least such Q is C - 1), G = ``GUARD_BITS``.
4. ``recip = 2^M // r`` (0 when r = 0)                      one division per token
   M = bl(r_max) + ob + G, so recip >= 2^(ob + G) too.
5. ``d = C * x - S1``                                       per element, second pass
6. ``o = clamp((d * recip + 2^(h-1)) >> h)``, h = M - E - F  round half up, then clamp.

``o`` is ``d / sqrt(Q + e / 2^2E) * 2^F`` up to two relative truncations of at most 2^-(ob+G) each,
i.e. within 2^-(G-1) of an output step of the exact value before rounding: the output is
the correctly rounded float LayerNorm except within 1/8 step of a tie (G = 4) or where eps
rounds (``layernorm_error`` measures it). A constant token (Q = e) gives d = 0, so o = 0,
as float LayerNorm does; a constant token with e = 0 gives r = 0, recip = 0, o = 0.

Why not I-ViT's integer square root: 10 Newton iterations ``k = (k + v // k) // 2`` from
``k = 2^16`` need 10 divisions per token and do not converge for v beyond about 2^50 in 10
steps; the digit-by-digit root is exact for every width in ``bl(Q << 2E) / 2`` steps of an
adder. ``isqrt_newton`` is kept for the measurement (benchmarks/layernorm_error.py).

Bit-widths (bl(v) = bits of v; R = 2^B - 1 the input range; signed where marked)
---------------------------------------------------------------------------------
x: B (signed or not); S1: B + bl(C) signed; x^2: 2B; S2: 2B + bl(C);
Q: bl(Q_max), Q_max = C^2 * R^2 / 4 (the variance is at most R^2 / 4);
(Q << 2E) + e: bl((Q_max << 2E) + e); r: bl(r_max), r_max = isqrt((Q_max << 2E) + e);
recip: bl(2^M // r_min), r_min = isqrt(((C - 1) << 2E) + e);
d: bl((C - 1) * R) + 1 signed; d * recip: width of d + width of recip signed; o: ob signed.
``LayerNormParams.widths()`` returns these numbers.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

GUARD_BITS = 4
MAX_WIDTH = 62  # every intermediate must fit a signed 64-bit integer
DEFAULT_EPS = 1e-5


@dataclass(frozen=True)
class LayerNormParams:
    """Integer parameters of one LayerNorm unit (C channels), all fixed ahead of time."""

    channels: int
    in_bits: int
    in_signed: bool
    scale: float  # input scale S (only eps_int depends on it)
    eps_int: int  # e = round(C^2 * eps * 2^2E / S^2)
    out_bits: int
    out_frac: int  # F: output integers stand for o * 2^-F
    sqrt_shift: int  # E: r = isqrt((Q << 2E) + e)
    recip_shift: int  # M: recip = 2^M // r

    @property
    def out_scale(self) -> float:
        return 2.0 ** -self.out_frac

    @property
    def out_max(self) -> int:
        return 2 ** (self.out_bits - 1) - 1

    @property
    def in_range(self) -> tuple[int, int]:
        b = self.in_bits
        return (-(2 ** (b - 1)), 2 ** (b - 1) - 1) if self.in_signed else (0, 2**b - 1)

    @property
    def out_shift(self) -> int:
        """h = M - E - F, the right shift of the final product."""
        return self.recip_shift - self.sqrt_shift - self.out_frac

    def q_max(self) -> int:
        span = 2**self.in_bits - 1
        return (self.channels * span) ** 2 // 4

    def radicand(self, q):
        """(Q << 2E) + e, the square root's input."""
        return (q << 2 * self.sqrt_shift) + self.eps_int

    def widths(self) -> dict[str, int]:
        """Bit-width of every intermediate (signed ones include their sign bit)."""
        c, b = self.channels, self.in_bits
        span = 2**b - 1
        r_max = math.isqrt(self.radicand(self.q_max()))
        r_min = max(1, math.isqrt(self.radicand(max(c - 1, 1))))
        d_bits = _bl((c - 1) * span) + 1
        recip_bits = _bl((1 << self.recip_shift) // r_min)
        return {
            "x": b, "sum": b + _bl(c) + 1, "square": 2 * b, "sum_squares": 2 * b + _bl(c),
            "q": _bl(self.q_max()), "radicand": _bl(self.radicand(self.q_max())),
            "root": _bl(r_max), "recip": recip_bits, "d": d_bits, "product": d_bits + recip_bits + 1,
            "out": self.out_bits,
        }

    def as_dict(self) -> dict:
        return asdict(self)


def layernorm_params(channels: int, scale: float, in_bits: int = 8, in_signed: bool = True, out_bits: int = 8,
                     out_frac: int | None = None, eps: float = DEFAULT_EPS) -> LayerNormParams:
    """The integer constants of a LayerNorm over ``channels`` for input scale ``scale``.

    ``out_frac`` defaults to ``out_bits - 3`` (outputs up to +-4 standard deviations).
    Raises ValueError naming the bad value, or the intermediates that would pass 62 bits.
    """
    _check_int("channels", channels, 1)
    _check_int("in_bits", in_bits, 2, 24)
    _check_int("out_bits", out_bits, 2, 24)
    if out_frac is None:
        out_frac = out_bits - 3
    _check_int("out_frac", out_frac, 0, 40)
    try:
        s = float(scale)
    except (TypeError, ValueError):
        raise ValueError(f"layernorm scale must be a positive number; got {scale!r}") from None
    if not math.isfinite(s) or s <= 0:
        raise ValueError(f"layernorm scale must be a positive finite number; got {scale!r}")
    if not (isinstance(eps, (int, float)) and math.isfinite(eps) and eps >= 0):
        raise ValueError(f"layernorm eps must be a non-negative number; got {eps!r}")
    target = 1 << (out_bits + GUARD_BITS)
    q_min = max(channels - 1, 1)
    e = 0
    while math.isqrt(q_min << 2 * e) < target:
        e += 1
    eps_int = int(round(channels * channels * eps * 4.0**e / (s * s)))
    span = 2**in_bits - 1
    r_max = math.isqrt((((channels * span) ** 2 // 4) << 2 * e) + eps_int)
    m = _bl(r_max) + out_bits + GUARD_BITS
    params = LayerNormParams(channels, in_bits, bool(in_signed), s, eps_int, out_bits, out_frac, e, m)
    if params.out_shift < 1:
        raise ValueError(f"layernorm out_frac={out_frac} is too fine for {out_bits} output bits")
    too_wide = {k: v for k, v in params.widths().items() if v > MAX_WIDTH}
    if too_wide:
        raise ValueError(
            f"layernorm of {channels} channels at {in_bits} input bits (scale {s}) needs intermediates "
            f"{too_wide} wider than {MAX_WIDTH} bits: use fewer input bits or a coarser scale")
    return params


def isqrt(v) -> np.ndarray:
    """Exact floor square root of non-negative int64 values, digit by digit (as the RTL does).

    Two bits of the radicand per step: ``bit`` walks down the even powers of two; where
    ``rem >= root + bit`` the bit enters the root. Only shift, add, subtract and compare.
    """
    rem = np.asarray(v, dtype=np.int64).copy()
    if np.any(rem < 0):
        raise ValueError("isqrt needs non-negative values")
    root = np.zeros_like(rem)
    bit = np.int64(1) << 62
    while bit:
        trial = root + bit
        take = rem >= trial
        rem = np.where(take, rem - trial, rem)
        root = np.where(take, (root >> 1) + bit, root >> 1)
        bit >>= 2
    return root


def isqrt_newton(v, k0: int = 2**16, iters: int = 10) -> np.ndarray:
    """I-ViT's integer square root: ``iters`` Newton steps ``k = (k + v // k) // 2`` from ``k0``
    (kept to measure against :func:`isqrt`; it needs a division per step)."""
    v = np.asarray(v, dtype=np.int64)
    k = np.full_like(v, k0)
    for _ in range(iters):
        k = np.maximum((k + v // np.maximum(k, 1)) // 2, 1)
    return np.where(v == 0, 0, k)


def layernorm(x, scale: float, axis: int = -1, in_bits: int = 8, in_signed: bool = True, out_bits: int = 8,
              out_frac: int | None = None, eps: float = DEFAULT_EPS) -> np.ndarray:
    """Integer LayerNorm (no affine) of the integers ``x`` along ``axis``; int64 codes."""
    xi = np.asarray(x)
    params = layernorm_params(xi.shape[axis], scale, in_bits, in_signed, out_bits, out_frac, eps)
    return layernorm_with_params(xi, params, axis)


def layernorm_with_params(x, params: LayerNormParams, axis: int = -1, sqrt=isqrt, negate=None) -> np.ndarray:
    """Integer LayerNorm with precomputed :class:`LayerNormParams` (the hardware's view).

    ``sqrt`` replaces the square root (only to measure alternatives such as
    :func:`isqrt_newton`). ``negate``: per-channel flags (C of them, or None); a flagged
    channel's output is ``-o``, exact in the symmetric range: the sign of a negative gamma,
    taken into the layer so that only a positive factor is left for the next thresholds.
    """
    xi = np.moveaxis(_as_int_array(x), axis, -1)
    if xi.shape[-1] != params.channels:
        raise ValueError(f"layernorm over {params.channels} channels got rows of {xi.shape[-1]}")
    lo, hi = params.in_range
    if xi.size and (xi.min() < lo or xi.max() > hi):
        raise ValueError(f"layernorm input outside [{lo}, {hi}]: values are not "
                         f"{'signed' if params.in_signed else 'unsigned'} {params.in_bits}-bit integers")
    c = np.int64(params.channels)
    s1 = xi.sum(axis=-1, keepdims=True)
    s2 = (xi * xi).sum(axis=-1, keepdims=True)
    q = c * s2 - s1 * s1
    r = sqrt(params.radicand(q))
    recip = np.where(r > 0, (np.int64(1) << params.recip_shift) // np.maximum(r, 1), 0)
    d = c * xi - s1
    h = params.out_shift
    o = (d * recip + (np.int64(1) << (h - 1))) >> h
    o = np.clip(o, -params.out_max, params.out_max)
    if negate is not None:
        flags = np.asarray(negate, dtype=bool).reshape(-1)
        if flags.size != params.channels:
            raise ValueError(f"layernorm negate needs {params.channels} channel flags, got {flags.size}")
        o = np.where(flags, -o, o)
    return np.moveaxis(o, -1, axis)


def float_reference(x, params: LayerNormParams, eps: float = DEFAULT_EPS, axis: int = -1) -> np.ndarray:
    """Float64 LayerNorm of ``x * S`` rounded (half up) and clamped to the output grid: what
    the integers approximate."""
    xf = np.moveaxis(np.asarray(x, dtype=np.float64), axis, -1) * params.scale
    z = (xf - xf.mean(-1, keepdims=True)) / np.sqrt(xf.var(-1, keepdims=True) + eps)
    o = np.clip(np.floor(z * 2.0**params.out_frac + 0.5), -params.out_max, params.out_max)
    return np.moveaxis(o.astype(np.int64), -1, axis)


def _bl(v: int) -> int:
    return int(v).bit_length()


def _check_int(name: str, value, lo: int, hi: int | None = None) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"layernorm {name} must be an integer; got {value!r}")
    if value < lo or (hi is not None and value > hi):
        allowed = f">= {lo}" if hi is None else f"in [{lo}, {hi}]"
        raise ValueError(f"layernorm {name} must be {allowed}; got {value}")


def _as_int_array(x) -> np.ndarray:
    a = np.asarray(x)
    if a.dtype.kind in "iu":
        return a.astype(np.int64)
    if a.dtype.kind == "f" and np.all(np.isfinite(a)) and np.array_equal(a, np.round(a)):
        return a.astype(np.int64)
    raise ValueError(f"layernorm input must hold integers; got dtype {a.dtype} with non-integer values")


__all__ = ["DEFAULT_EPS", "GUARD_BITS", "LayerNormParams", "float_reference", "isqrt", "isqrt_newton",
           "layernorm", "layernorm_params", "layernorm_with_params"]
