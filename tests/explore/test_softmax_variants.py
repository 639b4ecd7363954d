"""hyq explore --softmax: the table and plot of the softmax variants (NumPy reference + Yosys)."""

from __future__ import annotations

import csv

import pytest

from hyq.integer.softmax_error import measure, row_sets
from tests.conftest import hyq


@pytest.mark.slow
def test_softmax_variants_table_and_plot(tmp_path):
    proc = hyq("explore", "--softmax", "--n", "8", "--out", str(tmp_path), timeout=1800)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    with open(tmp_path / "softmax.csv") as f:
        rows = list(csv.DictReader(f))
    assert {(r["method"], r["format"]) for r in rows} == {(m, f) for m in ("linmax", "ibert", "shiftmax")
                                                          for f in ("uint", "log2")}
    x = row_sets(8, 1 / 16)["gauss sd=2 N=197"]
    for r in rows:   # errors are the reference's own measurement
        assert float(r["max_err"]) == measure(x, 1 / 16, r["method"], r["format"], int(r["bits"]), 8)["max_err"]
        assert int(r["LUT"]) > 0 and int(r["DSP"]) == 0   # no-DSP script: multipliers land in LUTs
    lut = {(r["method"], r["format"]): int(r["LUT"]) for r in rows}
    assert lut["linmax", "uint"] < lut["ibert", "uint"]   # the linear exp saves the multiplier
    for ext in ("png", "svg"):
        assert (tmp_path / "plots" / f"softmax_lut_vs_error.{ext}").stat().st_size > 1000


def test_softmax_sweep_table_and_plot(tmp_path):
    """A tiny hardware sweep (N = 8, uint, xc7): the CSV holds every method with its ratio to
    I-BERT at the same point, and the plot files are written."""
    proc = hyq("explore", "--softmax", "--sweep", "--n", "8", "--formats", "uint", "--out", str(tmp_path),
               timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    with open(tmp_path / "softmax_sweep.csv") as f:
        rows = {r["method"]: r for r in csv.DictReader(f)}
    assert set(rows) == {"linmax", "ibert", "shiftmax"}
    assert float(rows["ibert"]["vs ibert nodsp"]) == 1.0
    lin, ib = rows["linmax"], rows["ibert"]
    assert float(lin["vs ibert nodsp"]) == pytest.approx(int(lin["LUT nodsp"]) / int(ib["LUT nodsp"]))
    assert int(lin["LUT nodsp"]) < int(ib["LUT nodsp"])
    for ext in ("png", "svg"):
        assert (tmp_path / "plots" / f"softmax_sweep.{ext}").stat().st_size > 1000
