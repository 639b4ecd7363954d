"""hyq.costs.multiplier: the one multiplier model, checked against Yosys' DSP mapping."""

from __future__ import annotations

from pathlib import Path

import pytest

from hyq.costs import multiplier
from hyq.errors import HyqError

MUL_V = """module mul #(parameter A = 8, parameter B = 8)
  (input signed [A-1:0] a, input signed [B-1:0] b, output signed [A+B-1:0] y);
  assign y = a * b;
endmodule
"""


def test_family_of_parts():
    assert multiplier.family("xc7z020clg400-1") == "xc7"
    assert multiplier.family(None) == "xc7"
    assert multiplier.family("xczu3eg-sbva484-1-e") == "xcup"
    assert multiplier.family("xcu250-figd2104-2L-e") == "xcup"
    assert multiplier.family("xcvu9p-flga2104-2L-e") == "xcup"
    assert multiplier.family("xcvc1902-vsva2197-2MP-e-S") == "versal"
    with pytest.raises(HyqError, match="no DSP family"):
        multiplier.family("ice40up5k")


def test_tiles_follow_the_ports_of_each_family():
    # 26 x 18 fits UltraScale's 27 x 18 port, needs two 25 x 18 DSP48E1s, one 27 x 24 DSP58
    assert [multiplier.dsp_tiles(26, 18, f) for f in ("xc7", "xcup", "xc6s", "versal")] == [2, 1, 2, 1]
    assert multiplier.dsp_tiles(18, 26, "xc7") == 2  # operand order does not matter
    # below Yosys' thresholds (an operand under 2 bits, a product under 9 bits) it stays in LUTs
    assert multiplier.cost(8, 1) == (8, 0)
    assert multiplier.cost(4, 4) == (16, 0)
    assert multiplier.cost(5, 4) == (0, 1)


def test_a_split_operand_is_cut_into_narrower_unsigned_slices():
    # past the A port, mul2dsp cuts 17-bit unsigned slices (18-bit signed ports) plus a signed rest
    assert [multiplier.dsp_tiles(a, 18, "xc7") for a in (25, 26, 42, 43, 50)] == [1, 2, 2, 3, 3]
    assert multiplier.dsp_tiles(30, 20, "xc7") == 4 and multiplier.dsp_tiles(36, 36, "xc7") == 6
    assert multiplier.dsp_tiles(19, 19, "xc7") == 2 and multiplier.dsp_tiles(40, 30, "xcup") == 4


@pytest.mark.parametrize("a, b, script", [(26, 18, "xc7"), (26, 18, "xcup"), (4, 4, "xc7"), (43, 18, "xc7"),
                                          (36, 36, "xc7"), (40, 30, "xcup")])
def test_dsp_count_equals_yosys(tmp_path, monkeypatch, a, b, script):
    """Synthesise a signed a x b multiplier with Yosys (hw/synth/<script>.ys): the DSP count
    is the model's, for products split over several DSPs too (43 x 18 and 36 x 36 on xc7 were
    2 and 4 DSPs under the old ceil(a/25) * ceil(b/18) tiling; Yosys makes 3 and 6)."""
    from hyq.tools.yosys import synth

    monkeypatch.setenv("HYQ_CACHE", str(tmp_path / "cache"))
    src = tmp_path / "mul.v"
    src.write_text(MUL_V)
    r = synth("mul", [Path(src)], {"A": a, "B": b}, script=script)
    assert r["DSP"] == multiplier.dsp_tiles(a, b, script)
    if r["DSP"] == 0:
        assert r["LUT"] >= multiplier.lut_multiplier(a, b)  # the LUT figure is a lower bound
