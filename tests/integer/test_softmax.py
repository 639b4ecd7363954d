"""hyq.integer.softmax: the vectorised reference against a scalar Python-int reading of the
documented steps, against float softmax, on edge cases, and its parameter checks."""

import math

import numpy as np
import pytest

from hyq.integer import METHODS, OUT_FORMATS, decode_log2, softmax, softmax_params
from hyq.integer.softmax import exp_int, softmax_with_params

SCALES = (0.0123, 0.05, 0.1, 0.37)


def scalar_softmax(row, p):
    """One row, Python ints only, step by step as the module docstring writes them."""
    m = max(row)
    es = []
    for xi in row:
        d = xi - m
        if p.method == "shiftmax":
            d = d + (d >> 1) - (d >> 4)
        v = max(d, p.n * p.x0)
        q = (-v) // (-p.x0)
        r = v - p.x0 * q
        if p.method == "linmax":
            z = r + p.b
        elif p.method == "ibert":
            z = r * (r + p.b) + p.c
        else:
            z = (r >> 1) - p.x0
        z = max(z, 0)
        t = p.n - p.exp_shift - q
        es.append(z << t if t >= 0 else z >> -t)
    total = sum(es)
    out = []
    for e in es:
        if p.out_format == "uint":
            recip = (1 << p.recip_shift) // total
            drop = p.recip_shift - p.out_bits
            out.append(min((e * recip + (1 << (drop - 1))) >> drop, 2**p.out_bits - 1))
        else:
            zero = 2**p.out_bits - 1
            if e == 0:
                out.append(zero)
                continue
            u = (2 * total + e) // (2 * e)
            f = u.bit_length() - 1
            c = f + ((u >> (f - 1)) & 1 if f >= 1 else 0)
            out.append(zero if c >= zero else c)
    return out


def edge_rows(rng, in_bits=8):
    lo, hi = -(2 ** (in_bits - 1)), 2 ** (in_bits - 1) - 1
    rows = [
        np.full(197, 3), np.full(256, lo), np.full(1, 7),
        rng.integers(lo, hi + 1, 197), rng.integers(lo, hi + 1, 256),
        np.r_[hi, np.full(196, lo)],  # one dominant logit
        np.r_[np.full(255, lo), lo + 1],  # very negative values, max at the end
        np.array([lo, hi]), rng.integers(-3, 4, 64),
    ]
    return rows


def float_softmax(x, scale):
    z = np.asarray(x, dtype=np.float64) * scale
    z = np.exp(z - z.max(axis=-1, keepdims=True))
    return z / z.sum(axis=-1, keepdims=True)


def value_of(out, p):
    lin = out if p.out_format == "uint" else decode_log2(out, p.out_bits)
    return lin * p.out_scale


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("out_format", OUT_FORMATS)
@pytest.mark.parametrize("scale", SCALES)
def test_vectorised_equals_scalar_steps(method, out_format, scale):
    rng = np.random.default_rng(hash((method, out_format)) % 2**32)
    p = softmax_params(scale, method, out_format=out_format)
    for row in edge_rows(rng):
        got = softmax(row, scale, method, out_format=out_format)
        assert got.tolist() == scalar_softmax([int(v) for v in row], p)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("out_bits", (2, 4, 8, 12))
def test_uint_range_and_rowsum(method, out_bits):
    rng = np.random.default_rng(out_bits)
    x = rng.integers(-128, 128, (50, 197))
    out = softmax(x, 0.05, method, out_bits=out_bits)
    assert out.min() >= 0 and out.max() <= 2**out_bits - 1
    # each element is off by at most its exp error plus half a step, so the row sum too
    assert np.all(np.abs(out.sum(-1) * 2.0**-out_bits - 1) < 0.15 + 197 * 2.0 ** -(out_bits + 1))


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("n", (197, 256))
def test_all_equal_rows_give_equal_outputs(method, n):
    for fmt in OUT_FORMATS:
        out = softmax(np.full((2, n), -5), 0.05, method, out_format=fmt)
        assert np.all(out == out[0, 0])
    # uniform 1/n with 8 output bits rounds to round(256 / n) = 1
    assert softmax(np.full(n, 11), 0.05, method)[0] == round(256 / n)


@pytest.mark.parametrize("method", METHODS)
def test_one_dominant_logit(method):
    row = np.r_[127, np.full(196, -128)]
    out = softmax(row, 0.1, method)
    assert out[0] == 255 and np.all(out[1:] == 0)
    code = softmax(row, 0.1, method, out_format="log2")
    assert code[0] == 0 and np.all(code[1:] == 15)


@pytest.mark.parametrize("method", METHODS)
def test_axis_and_shift_invariance(method):
    rng = np.random.default_rng(3)
    x = rng.integers(-100, 100, (4, 5, 6))
    ref = softmax(x, 0.07, method, axis=-1)
    assert np.array_equal(np.moveaxis(softmax(np.moveaxis(x, -1, 1), 0.07, method, axis=1), 1, -1), ref)
    assert np.array_equal(softmax(x + 20, 0.07, method), ref)


def test_params_follow_formulas():
    s = 0.043
    lin = softmax_params(s, "linmax")
    assert lin.x0 == math.floor(-0.6931 / s) and lin.b == math.floor(1.354718 / s) and lin.n == 30
    ib = softmax_params(s, "ibert")
    a = 0.35815147
    assert ib.b == math.floor(0.96963238 / a / s) and ib.c == math.floor(1 / a / s**2)
    sh = softmax_params(s, "shiftmax")
    assert sh.x0 == math.floor(-1 / s) and sh.n == 15
    for p in (lin, ib, sh):
        assert 2 ** (p.exp_bits - 1) <= p.exp_max < 2**p.exp_bits
        assert p.recip_shift == p.exp_bits + p.out_bits + 3   # RECIP_GUARD_BITS = 3


@pytest.mark.parametrize("method", METHODS)
def test_narrow_reciprocal_stays_within_a_quarter_step(method):
    """With 3 guard bits the floored reciprocal moves an output by less than 2^-3 of a step
    before rounding: |out - e * 2^k / sum| <= 1/2 + 1/8 (clamp aside), the bound the
    module docstring states for RECIP_GUARD_BITS."""
    from hyq.integer.softmax import RECIP_GUARD_BITS, exp_int
    rng = np.random.default_rng(7)
    x = rng.integers(-128, 128, (64, 197))
    x[:4] = 0   # all equal: e = sum / N
    x[4:8, 1:] = -128   # one dominant: out rounds against the clamp
    for scale in (1 / 16, 0.01):
        p = softmax_params(scale, method)
        out = softmax_with_params(x, p)
        e = exp_int(x, p)
        exact = e * 2.0**p.out_bits / e.sum(-1, keepdims=True)
        dev = np.abs(out - np.minimum(exact, 2**p.out_bits - 1))
        assert dev.max() <= 0.5 + 2.0**-RECIP_GUARD_BITS + 1e-9


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("scale", SCALES)
def test_intermediates_fit_documented_widths(method, scale):
    rng = np.random.default_rng(5)
    p = softmax_params(scale, method)
    rows = np.stack([np.r_[127, np.full(255, -128)], np.full(256, 9), rng.integers(-128, 128, 256),
                     np.r_[np.arange(-128, 128)]])
    w = p.widths(256)
    e = exp_int(rows.astype(np.int64), p)
    assert int(e.max()).bit_length() <= w["exp"] and int(e.max()) == p.exp_max
    assert int(e.sum(-1).max()).bit_length() <= w["sum"]
    assert int(p.z_max).bit_length() == w["z"]
    recip = (1 << p.recip_shift) // e.sum(-1)
    assert int(recip.max()).bit_length() <= w["recip"]
    assert int((e * recip[:, None]).max()).bit_length() <= w["e_times_recip"]
    assert w["sum"] <= p.exp_bits + math.ceil(math.log2(256))


@pytest.mark.parametrize("out_bits", (8, 12))
def test_error_against_float_softmax(out_bits):
    """LinMax stays within what a ~5.3 % exp error allows; I-BERT's 0.33 % does better."""
    rng = np.random.default_rng(11)
    scale = 1 / 32
    x = np.concatenate([rng.integers(-128, 128, (200, 64)), rng.normal(0, 30, (200, 64)).round().clip(-128, 127)])
    ref = float_softmax(x, scale)
    dev = {m: np.abs(softmax(x, scale, m, out_bits=out_bits) * 2.0**-out_bits - ref) for m in METHODS}
    err = {m: d.max() for m, d in dev.items()}
    # exp relative error eps: the line (5.3 %) plus the floor of b (< slope*S / min exp/8 = 1.43 S);
    # softmax of exps with errors in [-eps, eps] moves by at most 2 eps / (1 - eps) of p <= 1
    eps = 0.053 + 1.43 * scale
    assert err["linmax"] <= 2 * eps / (1 - eps) + 2.0**-out_bits
    assert err["ibert"] < err["linmax"] and dev["ibert"].mean() < dev["linmax"].mean()


def test_log2_decode():
    assert decode_log2(np.array([0, 1, 14, 15]), 4).tolist() == [2**14, 2**13, 1, 0]
    with pytest.raises(ValueError, match="log2 codes"):
        decode_log2(np.array([16]), 4)


@pytest.mark.parametrize("kwargs, message", [
    (dict(scale=0.0), "positive"), (dict(scale=-0.1), "positive"), (dict(scale=float("nan")), "positive"),
    (dict(scale="abc"), "positive"), (dict(out_bits=1), "out_bits must be in"),
    (dict(out_bits=6, out_format="log2"), "out_bits must be in"), (dict(in_bits=1), "in_bits"),
    (dict(method="exp"), "method must be one of"), (dict(out_format="int"), "out_format must be one of"),
    (dict(out_bits=8.0), "must be an integer"),
    (dict(scale=1e-12, method="ibert"), "too fine"),
])
def test_invalid_parameters_raise_value_error(kwargs, message):
    args = dict(scale=0.05, method="linmax", out_bits=None, out_format="uint", in_bits=8) | kwargs
    with pytest.raises(ValueError, match=message):
        softmax_params(**args)


@pytest.mark.parametrize("method", ["linmax", "ibert"])
@pytest.mark.parametrize("scale", [2.0, 5.0, 10.64, 300.0])
def test_coarse_scale_is_an_exact_input_shift(method, scale):
    """A scale too coarse for the exp constants is moved to S / 2^k by x << k: the result is
    the reference's softmax of the shifted integers at the finer scale, bit for bit."""
    p = softmax_params(scale, method, in_bits=4)
    assert p.in_shift >= 1 and -p.x0 >= 8 and p.exp_scale == scale / 2**p.in_shift
    x = np.random.default_rng(1).integers(-8, 8, size=(64, 10))
    fine = softmax_params(scale / 2**p.in_shift, method, in_bits=4 + p.in_shift)
    assert fine.in_shift == 0 and (fine.x0, fine.b, fine.c, fine.exp_shift) == (p.x0, p.b, p.c, p.exp_shift)
    np.testing.assert_array_equal(softmax_with_params(x, p), softmax_with_params(x << p.in_shift, fine))
    for fmt in ("uint", "log2"):
        out = softmax(x, scale, method, out_format=fmt, in_bits=4)
        assert out.shape == x.shape and out.min() >= 0


def test_fine_enough_scale_keeps_no_shift():
    assert all(softmax_params(s, m).in_shift == 0 for m in ("linmax", "ibert", "shiftmax") for s in (0.01, 0.2, 1.0))
    assert softmax_params(1000.0, "shiftmax").in_shift == 0  # shiftmax's constants never vanish


def test_invalid_inputs_raise_value_error():
    with pytest.raises(ValueError, match="spans 300"):
        softmax(np.array([-150, 150]), 0.05)
    with pytest.raises(ValueError, match="integers"):
        softmax(np.array([0.5, 1.0]), 0.05)
    assert softmax(np.array([300, 400]), 0.05, in_bits=9).shape == (2,)
