"""hyq.integer.requant: the requantization found for a threshold table equals qonnx's
MultiThreshold on every integer of the input range (checked exhaustively here, apart from
the proof), and tables it cannot reproduce are refused."""

import numpy as np
import pytest
from qonnx.custom_op.general.multithreshold import multithreshold

from hyq.integer.requant import apply, prove_equal, requant, requant_from_thresholds, threshold_count


def _exhaustive(thresholds, lo, hi, offset=0):
    """qonnx's MultiThreshold (channels last) over every integer in [lo, hi], per channel."""
    c = thresholds.shape[0]
    x = np.repeat(np.arange(lo, hi + 1, dtype=np.float64)[:, None], c, axis=1)[None]  # (1, N, C)
    return x[0].astype(np.int64), multithreshold(x, thresholds, out_bias=offset, channels_last=True)[0]


def _scaled_table(rng, channels, n, lo, hi):
    """What streamlining makes of an n+1-level quantizer after an accumulator: per channel
    thresholds (k + 0.5) / scale - bias, rounded up to integers (RoundAndClipThresholds)."""
    scale = rng.uniform(0.01, 0.5, channels)
    bias = rng.uniform(-20, 20, channels)
    k = np.arange(n) + 0.5
    return np.ceil(k[None, :] / scale[:, None] - bias[:, None] * 3).clip(lo, hi + 1)


@pytest.mark.parametrize("n,lo,hi,offset", [(255, -2**15, 2**15 - 1, -128), (15, -4096, 4095, 0),
                                            (3, 0, 1023, 0), (1, -100, 100, -1)])
def test_requant_equals_multithreshold_on_every_input(n, lo, hi, offset):
    rng = np.random.default_rng(n)
    t = _scaled_table(rng, 6, n, lo, hi)
    p, why = requant_from_thresholds(t, (lo, hi), offset)
    assert p is not None, why
    x, want = _exhaustive(t, lo, hi, offset)
    assert np.array_equal(apply(x, p), want.astype(np.int64))
    # the widths a circuit needs hold every intermediate
    q = x * p.M + p.B
    assert q.min() >= -(1 << (p.sum_bits - 1)) and q.max() < (1 << (p.sum_bits - 1))
    assert p.M.max() < (1 << p.m_bits) and p.param_bits == 6 * (p.m_bits + p.b_bits)
    # smallest shift: one less fails the proof for some channel
    if p.shift > 0:
        less, _ = requant_from_thresholds(t, (lo, hi), offset, max_shift=p.shift - 1)
        assert less is None


def test_far_fewer_bits_than_the_table():
    t = _scaled_table(np.random.default_rng(0), 16, 255, -2**17, 2**17 - 1)
    p, _ = requant_from_thresholds(t, (-2**17, 2**17 - 1))
    assert p is not None
    assert p.param_bits * 10 < t.size * 18  # 255 thresholds of 18 bits per channel


def test_unevenly_spaced_thresholds_are_refused():
    t = np.array([[0, 1, 2, 3, 4, 5, 6, 30], [0, 4, 8, 12, 16, 20, 24, 28]], dtype=np.float64)
    p, why = requant_from_thresholds(t, (-64, 63))
    assert p is None and "channel 0" in why
    # the second channel alone is a requantization
    p, _ = requant_from_thresholds(t[1:], (-64, 63))
    assert p is not None and p.shift == 2 and int(p.M[0]) == 1


def test_uneven_thresholds_outside_the_range_do_not_matter():
    t = np.array([[-500, 0, 4, 8, 12, 900]], dtype=np.float64)
    p, why = requant_from_thresholds(t, (0, 15), offset=0)
    assert p is not None, why
    x, want = _exhaustive(t, 0, 15)
    assert np.array_equal(apply(x, p), want)


def test_constant_channel_and_duplicates():
    t = np.array([[100, 100, 100], [-5, -5, 20]], dtype=np.float64)
    p, why = requant_from_thresholds(t, (-10, 50))
    x, want = _exhaustive(t, -10, 50)
    if p is not None:  # whatever is returned must be exact
        assert np.array_equal(apply(x, p), want)
    assert int(p.M[0]) == 0 if p is not None else "channel 1" in why


def test_proof_catches_an_off_by_one():
    t = np.arange(15, dtype=np.float64)[None, :] * 8 + 3
    p, _ = requant_from_thresholds(t, (-128, 127))
    assert prove_equal(t, (-128, 127), p.M, p.B, p.shift) is None
    wrong = prove_equal(t, (-128, 127), p.M, p.B + 1, p.shift)
    assert wrong is not None and "channel 0" in wrong
    x = np.arange(-128, 128)[:, None]
    assert not np.array_equal(requant(x, p.M, p.B + 1, p.shift, 15), threshold_count(x, t))
    assert prove_equal(t, (-128, 127), -p.M, p.B, p.shift) is not None


def test_fractional_thresholds_count_like_multithreshold():
    # unrounded thresholds: x counts T <= x, i.e. ceil(T) <= x for integer x
    t = np.arange(7)[None, :] * 2.5 + 0.3
    p, why = requant_from_thresholds(t, (-5, 30))
    x, want = _exhaustive(t, -5, 30)
    if p is not None:
        assert np.array_equal(apply(x, p), want)
    else:  # ceil makes the steps 2 or 3 apart: only a proven requantization may be returned
        assert "channel 0" in why


def half_even_table(a: int, b: int, d: int, n: int, lo: int, hi: int) -> np.ndarray:
    """Thresholds (1, n) of ``clip(round_half_even((a x + b) / d), 0, n)`` on [lo, hi], from
    every input in exact integer arithmetic (what Brevitas' round does at exact ties)."""
    x = np.arange(lo, hi + 1, dtype=np.int64)
    p = a * x + b
    f = p // d
    rem = p - f * d
    y = np.clip(f + (2 * rem > d) + ((2 * rem == d) & (f % 2 == 1)), 0, n)
    return np.array([[x[np.argmax(y >= k)] if (y >= k).any() else hi + 1 for k in range(1, n + 1)]], dtype=np.float64)


def test_ties_to_even_get_the_tie_term_and_equal_on_every_input():
    """Slope 13/200 hits exact half-integers: an odd code's step is one input later than the
    affine ceiling, so no plain multiply-shift exists; with the tie remainders W it is exact."""
    lo, hi = -2048, 2047
    t = half_even_table(13, 4100, 200, 255, lo, hi)
    p, why = requant_from_thresholds(t, (lo, hi))
    assert p is not None and p.W is not None and p.w_bits > 0 and "ties to even" in why, why
    x, want = _exhaustive(t, lo, hi)
    assert np.array_equal(apply(x, p), want.astype(np.int64))
    assert p.param_bits == p.m_bits + p.b_bits + p.w_bits
    # without the tie term the same M, B are off at a tie (and no plain requantization exists)
    assert not np.array_equal(requant(x, p.M, p.B, p.shift, p.n), want.astype(np.int64))
    assert prove_equal(t, (lo, hi), p.M, p.B, p.shift) is not None
    # the parity is the output code's: with an offset of one the same table rounds ties to odd, refused
    q, why = requant_from_thresholds(t, (lo, hi), offset=1)
    assert q is None and "channel 0" in why
