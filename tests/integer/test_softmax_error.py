"""The softmax error analysis: the measured table, its claims, and `hyq softmax-report`."""

import numpy as np
import pytest

from hyq.cli import main
from hyq.integer.softmax_error import error_table, guard_table, measure, row_sets, width_table

FINE = (16, 2.0**-12)  # 16-bit scores: x0 and b are exact to 0.03 %, the exp approximation shows


def by(table, **keys):
    return [r for r in table if all(r[k] == v for k, v in keys.items())]


def test_linmax_within_its_exp_error_and_ibert_smaller():
    in_bits, scale = FINE
    rows = error_table(scale, in_bits, outputs=(("uint", 8), ("uint", 12)))
    # a +-eps relative exp error moves p by at most 2 eps / (1 - eps); eps: 5.3 % line error plus
    # the integer constants (b floor 1.43 S, x0 floor over up to n = 30 steps: 30 S)
    eps = 0.053 + 1.43 * scale + 30 * scale
    for bits in (8, 12):
        for name in ("uniform N=197", "gauss sd=2 N=197", "long N=4096"):
            lin = by(rows, method="linmax", bits=bits, rows=name)[0]
            ib = by(rows, method="ibert", bits=bits, rows=name)[0]
            assert lin["max_err"] <= 2 * eps / (1 - eps) + 2.0**-bits
            assert ib["max_err"] <= lin["max_err"] and ib["mean_err"] <= lin["mean_err"]
        gauss = {m: by(rows, method=m, bits=bits, rows="gauss sd=2 N=197")[0]["max_err"] for m in ("linmax", "ibert")}
        assert gauss["ibert"] < 0.5 * gauss["linmax"]


def test_measure_matches_a_direct_computation():
    x = np.array([[10, 0, -30, 5]])
    m = measure(x, 0.1, "ibert", "uint", 8)
    p = np.exp(x * 0.1) / np.exp(x * 0.1).sum()
    from hyq.integer import softmax
    got = softmax(x, 0.1, "ibert") / 256
    assert m["max_err"] == pytest.approx(np.abs(got - p).max())
    assert m["rowsum_dev"] == pytest.approx(abs(got.sum() - 1))


def test_row_sets_cover_the_adversarial_cases():
    sets = row_sets(8, 1 / 16)
    assert np.all(sets["all equal N=256"] == 3) and sets["all equal N=256"].shape[1] == 256
    assert sets["long N=4096"].shape[1] == 4096
    assert np.all(sets["one dominant"][:, 0] == 127) and np.all(sets["one dominant"][:, 1:] == -128)
    assert sets["very negative"].max() < -100
    for x in sets.values():
        assert x.min() >= -128 and x.max() <= 127


def test_width_table_lists_every_method():
    rows = width_table(1 / 16, 8, 197)
    assert {r["method"] for r in rows} == {"linmax", "ibert", "shiftmax"}
    assert all(r["exp"] == 16 and r["sum"] <= 16 + 8 for r in rows)


def test_cli_softmax_report_prints_the_tables(capsys):
    assert main(["softmax-report", "--in-bits", "8", "--scale", "0.0625"]) == 0
    out = capsys.readouterr().out
    assert "max_err" in out and "rowsum_dev" in out and "e_times_recip" in out
    assert "narrow reciprocal" in out and "moved %" in out
    for method in ("linmax", "ibert", "shiftmax"):
        assert method in out
    assert main(["softmax-report", "--in-bits", "8", "--scale", "0"]) == 2
    assert "scale must be a positive" in capsys.readouterr().err


def test_guard_table_bounds_the_narrow_reciprocal():
    """The accuracy argument for RECIP_GUARD_BITS: against 8 guard bits, under 1 % of the uint
    outputs move, by one step at most, and the mean error vs float softmax barely changes."""
    rows = guard_table(1 / 16, 8, outputs=(("uint", 8), ("log2", 4)))
    assert {r["method"] for r in rows} == {"linmax", "ibert", "shiftmax"} and {r["bits"] for r in rows} == {8}
    for r in rows:
        assert 0 < r["moved %"] < 1 and r["max move"] == 1
        assert abs(r["mean_err"] - r["mean_err wide"]) < 0.02 * r["mean_err wide"]
