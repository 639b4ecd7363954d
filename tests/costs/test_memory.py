"""hyq.costs.memory: the one buffer model, at the boundary measured with Yosys 0.23."""

from __future__ import annotations

from hyq.costs import memory


def test_buffers_go_to_bram_where_yosys_put_them():
    assert memory.row_buffer(197, 12) == (0, 1)  # block RAM
    for depth, width in ((197, 8), (512, 4), (64, 32)):  # distributed RAM
        lut, bram = memory.row_buffer(depth, width)
        assert bram == 0 and lut == memory.lutram(depth, width) > 0


def test_lutram_primitives():
    assert memory.lutram(32, 12) == 8  # two RAM32M (6 bits x 32 words)
    assert memory.lutram(33, 12) == 16  # four RAM64M (3 bits x 64 words)
    assert memory.lutram(129, 3) == 12  # three 64-word blocks
