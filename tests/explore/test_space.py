"""Space files: product and explicit points, and one precise error per kind of mistake."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from hyq.errors import HyqError
from hyq.explore import load_space
from hyq.explore.runner import point_key
from tests.conftest import ROOT, hyq

SPACES = ROOT / "flows" / "spaces"
DEFAULT = ROOT / "flows" / "default.yaml"


def write(tmp_path: Path, body: dict) -> Path:
    p = tmp_path / "space.yaml"
    p.write_text(yaml.safe_dump({"flow": str(DEFAULT), "objectives": {"accuracy": "max"}, **body}))
    return p


@pytest.mark.parametrize("name", ["small", "tiny", "hybrid"])
def test_shipped_spaces_load(name):
    s = load_space(SPACES / f"{name}.yaml")
    assert s.points and s.objectives
    assert len({point_key(p) for p in s.points}) == len(s.points)


def test_product_of_axes(tmp_path):
    s = load_space(write(tmp_path, {"axes": {"quant.weight_bits": [4, 6, 8],
                                             "hardware.target_fps": [1000, 10000]},
                                    "fixed": {"train.epochs": 3}}))
    assert len(s.points) == 6
    assert {(p.flow["quant"]["weight_bits"], p.flow["hardware"]["target_fps"]) for p in s.points} == \
        {(w, f) for w in (4, 6, 8) for f in (1000, 10000)}
    assert all(p.flow["train"]["epochs"] == 3 for p in s.points)
    assert s.points[0].flow["quant"]["act_bits"] == 8   # untouched values come from the base flow


def test_explicit_points_and_nested_keys(tmp_path):
    s = load_space(write(tmp_path, {"points": [{"model.options.expand": 3},
                                               {"quant.layers": {"blocks.*": {"weight": 4}}}]}))
    assert s.points[0].flow["model"]["options"]["expand"] == 3
    assert s.points[0].flow["model"]["options"]["stem"] == 16
    assert s.points[1].flow["quant"]["layers"] == {"blocks.*": {"weight": 4}}


@pytest.mark.parametrize("body, message", [
    ({"axes": {"quant.wieght_bits": [4]}}, "unknown key 'quant.wieght_bits'"),
    ({"axes": {"qaunt.weight_bits": [4]}}, "no flow section 'qaunt'"),
    ({"axes": {"quant.weight_bits": []}}, "'quant.weight_bits' must be a non-empty list"),
    ({"axes": {"quant.weight_bits": [4, 4]}}, "lists a value twice"),
    ({"axes": {"quant.weight_bits.x": [4]}}, "takes no sub-keys"),
    ({"axes": {"quant.weight_bits": [4]}, "objectives": {"accuracy": "maximise"}}, "must be min or max"),
    ({"axes": {"quant.weight_bits": [4]}, "objectives": {"luts": "min"}}, "unknown metric 'luts'"),
    ({"axes": {"quant.weight_bits": [4]}, "objectives": {}}, "objectives must name"),
    ({"axes": {"quant.weight_bits": [4]}, "points": [{}]}, "either axes"),
    ({"axes": {"quant.weight_bits": [4]}, "sweep": 1}, "unknown key(s) sweep"),
    ({"axes": {"quant.weight_bits": [4]}, "flow": "nowhere.yaml"}, "base flow file not found"),
])
def test_precise_errors(tmp_path, body, message):
    with pytest.raises(HyqError) as exc:
        load_space(write(tmp_path, body))
    assert message in str(exc.value)


def test_bad_point_value_is_named_before_any_work(tmp_path):
    """A value the flow validation rejects fails at once, naming the point."""
    space = write(tmp_path, {"axes": {"quant.weight_bits": [4, 1]}})
    proc = hyq("explore", "--space", str(space), "--out", str(tmp_path / "out"), timeout=300)
    assert proc.returncode == 2
    assert "point 1 (weight_bits=1)" in proc.stderr and "quant.weight_bits must be in [2, 16]" in proc.stderr
    assert not (tmp_path / "out" / "points.csv").exists()
