"""Integer-only softmax: the one reference every other implementation is checked against.

Three exp approximations share one range reduction and one output stage:

* ``linmax``   HyQ's LinMax: exp(r) on [-ln2, 0] replaced by a straight line (an adder).
* ``ibert``    I-BERT's second-order polynomial exp (one multiplier).
* ``shiftmax`` I-ViT's Shiftmax: base-2 exponent, x*log2(e) and 2^r by shifts only.

Input: integers ``x`` of an ``in_bits``-bit quantized tensor with scale ``S`` (signed or
unsigned; only the spread max(x) - min(x) <= 2^in_bits - 1 of a row matters, since softmax
is shift invariant and the row max is subtracted first). Output, selectable:

* ``uint``: k-bit unsigned integers in [0, 2^k - 1], value = out * 2^-k.
* ``log2``: FQ-ViT Log-Int-Softmax codes of k bits (FQ-ViT uses k = 4): code c < 2^k - 1
  means 2^-c, the all-ones code 2^k - 1 means 0. ``decode_log2`` turns codes into linear
  integers with scale 2^-(2^k - 2) (exact).

All constants that depend on S are computed once by :func:`softmax_params` and recorded
in :class:`SoftmaxParams`; hardware takes them as parameters. The arithmetic below uses
only integer add, subtract, multiply, shift, compare and the divisions named: by the
constant -x0 (step 3), once per row (8a), once per element (8b, log2 only).

Integer steps (per row of N elements; B = in_bits, k = out_bits, floor everywhere)
------------------------------------------------------------------------------------
1. ``d = (x - max(x)) << k``                           d in [-(2^B - 1) * 2^k, 0]
   (k = ``in_shift``, 0 unless S is too coarse for the method's constants; then the
   exact left shift moves d to the finer scale S / 2^k, the least with -x0 >= 8, and
   every constant below is computed for S / 2^k)
   (shiftmax only: ``d = d + (d >> 1) - (d >> 4)``, i.e. d * log2(e), arithmetic shifts)
2. ``v = max(d, n * x0)``                              clamp to n range-reduction steps
3. ``q = (-v) // (-x0)``                               q in [0, n]; -x0 is a constant, so a
                                                       constant divider (or a compare chain)
4. ``r = v - x0 * q``                                  r in [x0 + 1, 0]
5. ``z`` per method, z >= 1 on the whole r range:
   - linmax:   ``z = r + b``                           b = floor(1.354718 / S)
   - ibert:    ``z = r * (r + b) + c``                 b = floor(0.96963238 / a / S),
                                                       c = floor(1 / a / S^2), a = 0.35815147
   - shiftmax: ``z = (r >> 1) - x0``                   (2^r ~ 1 + r / 2)
6. ``e = floor(z * 2^(n - q - s))``: with ``t = n - s - q``, ``e = z << t`` if t >= 0 else
   ``e = z >> -t``. This is the method's ``z * 2^(n - q)`` followed by a right shift by the
   constant ``s`` (floor(floor(a) / 2^s) = floor(a / 2^s)), chosen so that the largest
   exp (d = 0) fits in ``exp_bits`` (16, as I-BERT requantizes exp to 16 bits).
   e_max = floor(z(r=0) * 2^(n - s)) in [2^(exp_bits - 1), 2^exp_bits).
7. ``sum = sum(e)`` over the row                       sum in [e_max, N * e_max]
8a. uint: ``recip = 2^M // sum`` (one division per row), then per element
    ``out = min((e * recip + 2^(M - k - 1)) >> (M - k), 2^k - 1)``, M = exp_bits + k + g with
    g = ``RECIP_GUARD_BITS`` = 3. The reciprocal's floor costs less than e_max / 2^(M - k) <= 2^-g
    of an output step (g = 3 rather than 8 narrows the reciprocal and the product by 5 bits; it
    moves at most one output step on < 1 % of outputs, see ``hyq softmax-report``); the
    half-step added before the shift rounds to nearest instead of flooring (the notes'
    floor biases every probability down by up to one step) at the cost of one constant.
8b. log2: ``u = (2 * sum + e) // (2 * e)`` (round(sum / e), half up; e = 0 gives the zero
    code), ``f = bit_length(u) - 1``, ``c = f + bit f-1 of u`` (for f >= 1; 0 when u = 1),
    which is FQ-ViT's log-round; codes c >= 2^k - 1 become the zero code 2^k - 1 (FQ-ViT
    keeps 2^-15 and flushes from 16 on; a k-bit code cannot hold both, so 2^-(2^k - 1)
    is flushed as well).

Accuracy note: the range reduction treats x0 * S as -ln2 (-1 for shiftmax), but
x0 = floor(-ln2 / S) misses it by up to S, so every reduction step multiplies by
exp(x0 * S) instead of 1/2. With 8-bit scores at S = 1/16 (x0 * S = -0.75) this, not the
exp polynomial, dominates the error; with finer input scales (I-BERT feeds the 32-bit
QK^T accumulator) the polynomial's own error shows. ``hyq softmax-report`` measures both.

Bit-widths (unsigned unless marked signed; bl(v) = number of bits of v)
----------------------------------------------------------------------
d: B + k + 1 signed; p (shiftmax's d after step 1): bl(|p_min|) + 1 signed with
p_min = d_min + (d_min >> 1) - (d_min >> 4), d_min = -(2^B - 1) * 2^k; q: bl(q_max) with q_max = min(n, |v_min| // |x0|);
r: bl(|x0| - 1) + 1 signed; z: bl(z_max), z_max = b (linmax), c (ibert), -x0 (shiftmax);
ibert's r + b: bl(b) and its product r * (r + b): bl(|x0| - 1) + bl(b) + 1 signed;
e: exp_bits; sum: bl(N * e_max), i.e. exp_bits + ceil(log2 N);
uint: recip: bl(2^M // e_max) (k + g + 1 bits), e * recip: M + 1, out: k;
log2: 2 * sum + e: bl(N * e_max) + 2, u: bl(N * e_max), code: k.
``SoftmaxParams.widths(N)`` returns these numbers for a given row length.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

METHODS = ("linmax", "ibert", "shiftmax")
OUT_FORMATS = ("uint", "log2")
DEFAULT_OUT_BITS = {"uint": 8, "log2": 4}
MAX_LOG2_BITS = 5  # decoded log2 values need 2^k - 2 fractional bits; 5 -> 30 bits
EXP_BITS = 16
RECIP_GUARD_BITS = 3  # recip floor error < 2^-3 output step; hyq softmax-report measures it
MAX_WIDTH = 62  # every intermediate must fit a signed 64-bit integer

LN2 = 0.6931
LINMAX_SLOPE = 0.08947606  # least-squares line of exp(r) / 8 on [-ln2, 0]: slope ...
LINMAX_OFFSET = 0.12121466  # ... and value at r = 0
IBERT_A = 0.35815147
IBERT_B = 0.96963238 / IBERT_A
IBERT_C = 1.0 / IBERT_A
RANGE_STEPS = {"linmax": 30, "ibert": 30, "shiftmax": 15}
COARSE_X0 = 8  # a coarse input is shifted until -x0 >= COARSE_X0 (see _coarse_shift)


@dataclass(frozen=True)
class SoftmaxParams:
    """Integer parameters of one softmax unit, all derived from the input scale ahead of time.

    ``x0``, ``b``, ``c``, ``exp_shift`` depend on the scale; ``n``, ``exp_bits``,
    ``recip_shift`` (M) and ``out_bits`` are fixed per method and format. Unused
    constants are 0 (``b``, ``c`` for shiftmax; ``c`` for linmax; M for log2).
    """

    method: str
    scale: float
    in_bits: int
    out_bits: int
    out_format: str
    n: int  # range-reduction steps (clamp at n * x0, shift base 2^n)
    x0: int  # floor(-ln2 / S) (linmax, ibert) or floor(-1 / S) (shiftmax); negative
    b: int
    c: int
    exp_shift: int  # s: right shift that brings the largest exp to exp_bits bits
    exp_bits: int
    exp_max: int  # e for d = 0, the largest exp value
    recip_shift: int  # M: recip = 2^M // sum (uint only)
    in_shift: int = 0  # k: d is taken as d << k, on the finer scale S / 2^k (coarse inputs)

    @property
    def exp_scale(self) -> float:
        """Scale S / 2^k of the shifted differences the exp constants are computed for."""
        return self.scale / 2**self.in_shift

    @property
    def out_scale(self) -> float:
        """Scale of the linear output integers (uint codes, or decoded log2 codes)."""
        if self.out_format == "uint":
            return 2.0 ** -self.out_bits
        return 2.0 ** -(2**self.out_bits - 2)

    @property
    def z_max(self) -> int:
        """Largest value of the method's exp polynomial z (at r = 0)."""
        return _z_of_r(self, 0)

    def widths(self, row_len: int) -> dict[str, int]:
        """Bit-width of every intermediate for rows of ``row_len`` elements."""
        _check_int("row_len", row_len, 1)
        d_min = -(2**self.in_bits - 1) << self.in_shift
        if self.method == "shiftmax":
            d_min = d_min + (d_min >> 1) - (d_min >> 4)
        v_min = max(d_min, self.n * self.x0)
        q_max = min(self.n, (-v_min) // (-self.x0))
        sum_max = row_len * self.exp_max
        w = {"d": self.in_bits + self.in_shift + 1}
        if self.method == "shiftmax":
            w["p"] = _bl(-d_min) + 1
        w.update({
            "q": max(_bl(q_max), 1),
            "r": _bl(-self.x0 - 1) + 1,
            "z": _bl(self.z_max),
            "exp": self.exp_bits,
            "sum": _bl(sum_max),
        })
        if self.method == "ibert":
            w["r_plus_b"] = _bl(self.b)
            w["r_times_r_plus_b"] = _bl(-self.x0 - 1) + _bl(self.b) + 1
        if self.out_format == "uint":
            w["recip"] = _bl(2**self.recip_shift // self.exp_max)
            w["e_times_recip"] = self.recip_shift + 1
        else:
            w["numerator"] = _bl(sum_max) + 2
            w["ratio"] = _bl(sum_max)
        w["out"] = self.out_bits
        return w

    def as_dict(self) -> dict:
        """Plain-dict form (for ONNX attributes, JSON, hardware generics)."""
        return asdict(self)


def softmax_params(
    scale: float,
    method: str = "linmax",
    out_bits: int | None = None,
    out_format: str = "uint",
    in_bits: int = 8,
    exp_bits: int = EXP_BITS,
) -> SoftmaxParams:
    """Compute the integer constants of a softmax unit for input scale ``scale``.

    ``out_bits`` defaults to 8 for ``uint`` and 4 for ``log2``. Raises ValueError naming
    the bad value for an unknown method or format, bits < 2, or a scale that is not a
    positive finite number or for which the method's constants vanish or overflow int64.
    """
    if method not in METHODS:
        raise ValueError(f"softmax method must be one of {', '.join(METHODS)}; got {method!r}")
    if out_format not in OUT_FORMATS:
        raise ValueError(f"softmax out_format must be one of {', '.join(OUT_FORMATS)}; got {out_format!r}")
    if out_bits is None:
        out_bits = DEFAULT_OUT_BITS[out_format]
    max_out = MAX_LOG2_BITS if out_format == "log2" else 24
    _check_int("out_bits", out_bits, 2, max_out)
    _check_int("in_bits", in_bits, 2, 32)
    _check_int("exp_bits", exp_bits, 2, 32)
    scale = _check_scale(scale)

    n = RANGE_STEPS[method]
    k = 0 if _constants(method, scale)[0] else _coarse_shift(method, scale)
    fine = scale / 2**k
    ok, x0, b, c, z_lo, z_hi = _constants(method, fine)
    if not ok:
        raise ValueError(
            f"softmax scale {scale!r} is too coarse for method {method!r} even after an input shift "
            f"by {k} bits: its exp constants round to zero")
    z_max = max(z_lo, z_hi)
    s = max(0, _bl(z_max) + n - exp_bits)
    exp_max = _shift(z_max, n - s)
    m = exp_bits + out_bits + RECIP_GUARD_BITS if out_format == "uint" else 0
    params = SoftmaxParams(method, scale, in_bits, out_bits, out_format, n, x0, b, c,
                           s, exp_bits, exp_max, m, k)
    too_wide = {k: v for k, v in params.widths(2**16).items() if v > MAX_WIDTH}
    if too_wide or _bl(abs(n * x0)) > MAX_WIDTH:
        raise ValueError(
            f"softmax scale {scale!r} is too fine (or exp_bits={exp_bits}, out_bits={out_bits} too wide) "
            f"for method {method!r}: intermediates {too_wide or {'n*x0': _bl(abs(n * x0))}} "
            f"exceed {MAX_WIDTH} bits")
    return params


def softmax(
    x,
    scale: float,
    method: str = "linmax",
    out_bits: int | None = None,
    out_format: str = "uint",
    axis: int = -1,
    in_bits: int = 8,
) -> np.ndarray:
    """Integer softmax of the integers ``x`` (scale ``scale``) along ``axis``.

    Returns int64: for ``uint`` values in [0, 2^out_bits - 1] with scale 2^-out_bits; for
    ``log2`` the codes described in the module docstring.
    """
    return softmax_with_params(x, softmax_params(scale, method, out_bits, out_format, in_bits), axis)


def softmax_with_params(x, params: SoftmaxParams, axis: int = -1) -> np.ndarray:
    """Integer softmax with precomputed :class:`SoftmaxParams` (the hardware's view)."""
    xi = _as_int_array(x)
    xi = np.moveaxis(xi, axis, -1)
    if xi.shape[-1] == 0:
        raise ValueError("softmax needs at least one element along the axis")
    spread = xi.max(axis=-1) - xi.min(axis=-1)
    if np.any(spread > 2**params.in_bits - 1):
        raise ValueError(
            f"softmax input spans {int(spread.max())} > 2^{params.in_bits} - 1 within a row: "
            f"values are not {params.in_bits}-bit integers (raise in_bits)")
    e = exp_int(xi, params)
    row_sum = e.sum(axis=-1, keepdims=True)
    out = _uint_stage(e, row_sum, params) if params.out_format == "uint" else _log2_stage(e, row_sum, params)
    return np.moveaxis(out, -1, axis)


def exp_int(x: np.ndarray, params: SoftmaxParams) -> np.ndarray:
    """Steps 1-6: integer exp of ``x - max(x)`` along the last axis, ``exp_bits`` wide."""
    d = np.left_shift(x - x.max(axis=-1, keepdims=True), params.in_shift)
    if params.method == "shiftmax":
        d = d + (d >> 1) - (d >> 4)
    v = np.maximum(d, params.n * params.x0)
    q = (-v) // (-params.x0)
    r = v - params.x0 * q
    z = np.maximum(_z_of_r(params, r), 0)
    t = params.n - params.exp_shift - q
    left = np.left_shift(z, np.maximum(t, 0))
    right = np.right_shift(z, np.minimum(np.maximum(-t, 0), 63))
    return np.where(t >= 0, left, right)


def decode_log2(code, out_bits: int = 4) -> np.ndarray:
    """Linear integers (scale 2^-(2^out_bits - 2)) of log2 codes: 2^(2^k - 2 - c), 0 for the zero code."""
    _check_int("out_bits", out_bits, 2, MAX_LOG2_BITS)
    c = _as_int_array(code)
    top = 2**out_bits - 2
    if np.any((c < 0) | (c > top + 1)):
        raise ValueError(f"log2 codes must lie in [0, {top + 1}] for out_bits={out_bits}")
    return np.where(c > top, 0, np.left_shift(np.int64(1), np.minimum(top - c, top)))


def _uint_stage(e: np.ndarray, row_sum: np.ndarray, p: SoftmaxParams) -> np.ndarray:
    """Step 8a: one reciprocal per row, then multiply, round half up, shift, clamp."""
    recip = (np.int64(1) << p.recip_shift) // row_sum
    drop = p.recip_shift - p.out_bits
    out = (e * recip + (np.int64(1) << (drop - 1))) >> drop
    return np.minimum(out, 2**p.out_bits - 1)


def _log2_stage(e: np.ndarray, row_sum: np.ndarray, p: SoftmaxParams) -> np.ndarray:
    """Step 8b: u = round(sum / e), FQ-ViT log-round of u, codes >= 2^k - 1 -> zero code."""
    zero_code = 2**p.out_bits - 1
    safe_e = np.maximum(e, 1)
    u = (2 * row_sum + safe_e) // (2 * safe_e)
    f = _floor_log2(u)
    half_bit = np.where(f >= 1, np.right_shift(u, np.maximum(f - 1, 0)) & 1, 0)
    c = f + half_bit
    return np.where((e == 0) | (c >= zero_code), zero_code, c)


def _floor_log2(u: np.ndarray) -> np.ndarray:
    """bit_length(u) - 1 for u >= 1, exactly, in integers (a leading-one detector)."""
    f = np.zeros_like(u)
    rest = u.copy()
    for step in (32, 16, 8, 4, 2, 1):
        big = rest >= (np.int64(1) << step)
        f = f + np.where(big, step, 0)
        rest = np.where(big, rest >> step, rest)
    return f


def _z_of_r(p: SoftmaxParams, r):
    """Step 5: the method's exp polynomial of the remainder r (integer or int array)."""
    if p.method == "linmax":
        return r + p.b
    if p.method == "ibert":
        return r * (r + p.b) + p.c
    return (r >> 1) - p.x0


def _constants(method: str, scale: float) -> tuple[bool, int, int, int, int, int]:
    """(usable, x0, b, c, z at r = x0 + 1, z at r = 0) of ``method`` at input scale ``scale``."""
    if method == "shiftmax":
        x0, b, c = math.floor(-1.0 / scale), 0, 0
    else:
        x0 = math.floor(-LN2 / scale)
        if method == "linmax":
            b, c = math.floor((LINMAX_OFFSET / LINMAX_SLOPE) / scale), 0
        else:
            b, c = math.floor(IBERT_B / scale), math.floor(IBERT_C / scale**2)
    draft = SoftmaxParams(method, scale, 8, 8, "uint", RANGE_STEPS[method], x0, b, c, 0, EXP_BITS, 0, 0)
    z_lo, z_hi = _z_of_r(draft, x0 + 1), _z_of_r(draft, 0)
    return min(z_lo, z_hi) >= 1, x0, b, c, z_lo, z_hi


def _coarse_shift(method: str, scale: float) -> int:
    """Input shift k for a scale too coarse for ``method``: the least k with S / 2^k <= ln2 / 8.

    A shift only to the edge of usable (x0 = -1) would leave a range-reduction step of a whole
    input step off ln2; with -x0 >= 8 the per-step error of the reduction is below 1/8 of ln2.
    """
    return max(0, math.ceil(math.log2(scale * COARSE_X0 / LN2)))


def _shift(z: int, t: int) -> int:
    """floor(z * 2^t) for a non-negative integer z and any integer t."""
    return z << t if t >= 0 else z >> -t


def _bl(v: int) -> int:
    return int(v).bit_length()


def _check_int(name: str, value, lo: int, hi: int | None = None) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"softmax {name} must be an integer; got {value!r}")
    if value < lo or (hi is not None and value > hi):
        allowed = f">= {lo}" if hi is None else f"in [{lo}, {hi}]"
        raise ValueError(f"softmax {name} must be {allowed}; got {value}")


def _check_scale(scale) -> float:
    try:
        s = float(scale)
    except (TypeError, ValueError):
        raise ValueError(f"softmax scale must be a positive number; got {scale!r}") from None
    if not math.isfinite(s) or s <= 0:
        raise ValueError(f"softmax scale must be a positive finite number; got {scale!r}")
    return s


def _as_int_array(x) -> np.ndarray:
    a = np.asarray(x)
    if a.dtype.kind in "iu":
        return a.astype(np.int64)
    if a.dtype.kind == "f" and np.all(np.isfinite(a)) and np.array_equal(a, np.round(a)):
        return a.astype(np.int64)
    raise ValueError(f"softmax input must hold integers; got dtype {a.dtype} with non-integer values")
