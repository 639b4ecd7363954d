"""The integer LayerNorm reference: exact pieces, edge cases, widths, and error vs float."""

import math

import numpy as np
import pytest

from hyq.integer.layernorm import (float_reference, isqrt, isqrt_newton, layernorm, layernorm_params,
                                   layernorm_with_params)


def edge_rows(c, bits=8, signed=True, seed=0):
    lo, hi = (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1) if signed else (0, 2**bits - 1)
    rng = np.random.default_rng(seed)
    outlier = np.full(c, lo // 2 + 1 if signed else 3)
    outlier[c // 3] = hi
    two = np.r_[np.full(c // 2, lo), np.full(c - c // 2, hi)]
    return {"random": rng.integers(lo, hi + 1, (5, c)), "equal": np.full((2, c), hi), "equal_lo": np.full((1, c), lo),
            "one_off": np.r_[np.full(c - 1, lo), lo + 1][None], "outlier": outlier[None], "extremes": two[None]}


def test_isqrt_is_exact_floor_root():
    rng = np.random.default_rng(1)
    v = np.r_[0, 1, 2, 3, 4, 15, 16, 2**62 - 1, rng.integers(0, 2**62, 2000)]
    r = isqrt(v)
    assert [int(a) for a in r] == [math.isqrt(int(b)) for b in v]
    with pytest.raises(ValueError, match="non-negative"):
        isqrt(np.array([-1]))


@pytest.mark.parametrize("c,bits,signed", [(64, 8, True), (197, 8, True), (256, 8, False), (3, 2, True),
                                           (16, 16, True)])
def test_equals_correctly_rounded_float_layernorm_on_edge_rows(c, bits, signed):
    """Within one output step of float64 LayerNorm everywhere, and equal on almost all elements;
    constant rows (variance 0) give 0, the outlier channel saturates like float does."""
    scale = 0.05 if bits <= 8 else 0.0005
    p = layernorm_params(c, scale, bits, signed)
    for name, x in edge_rows(c, bits, signed).items():
        o = layernorm(x, scale, in_bits=bits, in_signed=signed)
        f = float_reference(x, p)
        assert np.abs(o - f).max() <= 1, name
        assert (o != f).mean() <= 0.02, name
        assert o.min() >= -p.out_max and o.max() <= p.out_max
        if name.startswith("equal"):
            assert not o.any(), name


def test_error_on_random_tokens_is_measured_small():
    p = layernorm_params(64, 0.05)
    x = np.random.default_rng(2).integers(-128, 128, (4000, 64))
    o, f = layernorm_with_params(x, p), float_reference(x, p)
    assert np.abs(o - f).max() == 1 and (o != f).mean() < 0.005  # 0.22 % of elements one step off


def test_newton_square_root_of_ivit_falls_short_on_wide_inputs():
    """I-ViT's 10 Newton steps from 2^16 miss the root for wide radicands; the exact root does not."""
    p = layernorm_params(16, 0.0005, in_bits=16)
    x = edge_rows(16, 16)["extremes"]
    exact = layernorm_with_params(x, p)
    assert np.abs(exact - float_reference(x, p)).max() <= 1
    newton = layernorm_with_params(x, p, sqrt=isqrt_newton)
    assert np.abs(newton - float_reference(x, p)).max() > 1


def test_every_intermediate_fits_its_documented_width():
    for c, bits, signed in [(64, 8, True), (255, 8, False), (16, 16, True)]:
        p = layernorm_params(c, 0.01, bits, signed)
        w = p.widths()
        for x in edge_rows(c, bits, signed).values():
            x = x.astype(np.int64)
            s1, s2 = x.sum(-1, keepdims=True), (x * x).sum(-1, keepdims=True)
            q = c * s2 - s1 * s1
            r = isqrt(p.radicand(q))
            recip = (1 << p.recip_shift) // np.maximum(r, 1)
            d = c * x - s1
            for name, v, sgn in [("sum", s1, 1), ("sum_squares", s2, 0), ("q", q, 0), ("radicand", p.radicand(q), 0), ("root", r, 0),
                                 ("recip", recip, 0), ("d", d, 1), ("product", d * recip, 1)]:
                need = max(int(abs(int(a))).bit_length() for a in np.ravel(v)) + sgn
                assert need <= w[name], (name, need, w[name])
            nonconst = q[:, 0] > 0
            assert np.all(r[nonconst] >= 2 ** (p.out_bits + 4))


def test_axis_and_output_grid():
    x = np.random.default_rng(3).integers(-128, 128, (4, 32, 3))
    a = layernorm(x, 0.1, axis=1)
    b = np.moveaxis(layernorm(np.moveaxis(x, 1, -1), 0.1), -1, 1)
    assert np.array_equal(a, b)
    p = layernorm_params(32, 0.1, out_bits=6, out_frac=2)
    assert p.out_scale == 0.25 and p.out_max == 31


@pytest.mark.parametrize("kwargs,match", [
    ({"channels": 0, "scale": 0.1}, "channels"), ({"channels": 8, "scale": -1.0}, "scale"),
    ({"channels": 8, "scale": 0.1, "in_bits": 1}, "in_bits"),
    ({"channels": 4096, "scale": 1e-6, "in_bits": 24}, "wider than 62 bits"),
])
def test_bad_parameters_name_the_problem(kwargs, match):
    with pytest.raises(ValueError, match=match):
        layernorm_params(**kwargs)


def test_inputs_out_of_range_or_not_integer_are_refused():
    p = layernorm_params(4, 0.1, in_bits=4)
    with pytest.raises(ValueError, match="outside"):
        layernorm_with_params(np.array([[0, 1, 2, 9]]), p)
    with pytest.raises(ValueError, match="integers"):
        layernorm_with_params(np.array([[0.5, 1, 2, 3]]), p)
    with pytest.raises(ValueError, match="4 channels"):
        layernorm_with_params(np.zeros((1, 5), dtype=int), p)


def test_negate_flips_flagged_channels_exactly_in_the_symmetric_range():
    """A negative gamma's sign taken into the layer: the flagged channels come out as -o, on
    edge rows too (saturated outputs stay in range), and a wrong flag count is refused."""
    c = 12
    p = layernorm_params(c, 0.05)
    flags = np.arange(c) % 3 == 0
    for name, x in edge_rows(c).items():
        o = layernorm_with_params(x, p)
        got = layernorm_with_params(x, p, negate=flags)
        assert np.array_equal(got, np.where(flags, -o, o)), name
        assert np.abs(got).max() <= p.out_max
    with pytest.raises(ValueError, match="12 channel flags"):
        layernorm_with_params(edge_rows(c)["random"], p, negate=flags[:5])
