"""Part capacities: full part names map to their device, unknown parts are errors, and the
report's utilisation and fits follow from the totals."""

import json

import pytest

from hyq.dataflow import BuildSpec, parts
from hyq.errors import HyqError
from hyq.report.report import part_fit

TABLE = ("xc7z020", "xc7z045", "xczu3eg", "xczu7ev", "xczu9eg", "xck26", "xcvu9p", "xcvc1902")


@pytest.mark.parametrize("part, dev", [
    ("xczu9eg-ffvb1156-2-e", "xczu9eg"), ("xck26-sfvc784-2LV-c", "xck26"), ("xc7z020clg400-1", "xc7z020"),
    ("xc7z045ffg900-2", "xc7z045"), ("xcvc1902-vsva2197-2MP-e-S", "xcvc1902"), ("xcvu9p-flga2104-2L-e", "xcvu9p"),
])
def test_full_part_names_map_to_their_device(part, dev):
    assert parts.device(part) == dev
    assert parts.capacity(part) == json.loads(parts._TABLE.read_text())[dev]


def test_table_has_the_parts_users_target_with_every_resource():
    for dev in TABLE:
        cap = parts.capacity(dev)
        assert set(cap) == set(parts.RESOURCES) and cap["LUT"] > 0 and cap["DSP"] > 0
    assert parts.capacity("xczu9eg")["URAM"] == 0 and parts.capacity("xck26")["URAM"] == 64


def test_parts_only_finn_plus_knows_come_from_its_platform_models():
    # xczu28dr (ZCU111) is not in hyq's table; finn-plus' ZU28DR_Platform gives it
    cap = parts.capacity("xczu28dr-ffvg1517-2-e")
    assert cap["LUT"] == 425000 and cap["DSP"] == 4272


def test_unknown_part_is_an_error_naming_the_known_ones():
    with pytest.raises(HyqError, match=r"unknown FPGA part 'xc7z999clg400-1'.*xc7z020.*xczu9eg"):
        BuildSpec(part="xc7z999clg400-1")


def test_utilisation_and_fits():
    cap = parts.capacity("xc7z020clg400-1")
    rep = part_fit("xc7z020clg400-1", {"LUT": 26600.0, "BRAM_18K": 28.0, "URAM": 0.0, "DSP": 0.0})
    assert rep["part_resources"] == cap
    assert rep["utilisation"]["LUT"] == pytest.approx(0.5) and rep["utilisation"]["BRAM_18K"] == pytest.approx(0.1)
    assert rep["fits"] is True
    assert part_fit("xc7z020clg400-1", {"LUT": 60000.0, "BRAM_18K": 0.0, "URAM": 0.0, "DSP": 0.0})["fits"] is False
    # URAM on a part that has none does not fit
    no_uram = part_fit("xczu9eg-ffvb1156-2-e", {"LUT": 1.0, "BRAM_18K": 0.0, "URAM": 2.0, "DSP": 0.0})
    assert no_uram["fits"] is False and no_uram["utilisation"]["URAM"] == float("inf")


def test_default_report_has_utilisation(default_run, default_report):
    rep = default_report
    assert rep["part_resources"]["LUT"] == 53200
    assert rep["utilisation"]["LUT"] == pytest.approx(rep["total"]["LUT"] / 53200)
    assert rep["fits"] is True
    assert f"of {53200:,}" in (default_run / "report.md").read_text()


def test_report_json_stays_strict_when_the_part_lacks_a_resource(tmp_path):
    from hyq.report.report import _strict

    no_uram = part_fit("xczu9eg-ffvb1156-2-e", {"LUT": 1.0, "BRAM_18K": 0.0, "URAM": 2.0, "DSP": 0.0})
    assert _strict(no_uram)["utilisation"]["URAM"] is None and _strict(no_uram)["fits"] is False
    text = json.dumps(_strict({"utilisation": no_uram["utilisation"]}), allow_nan=False)
    assert "Infinity" not in text and json.loads(text)["utilisation"]["URAM"] is None
