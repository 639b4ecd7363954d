"""hyq.integer.table: tables of SiLU/GELU/Hardswish equal Brevitas' quantizers on every code."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hyq.integer.table import FUNCTIONS, TableSpec, build_table, code_range, lookup
from hyq.nn.quant import BitSpec, ident

TORCH = {"silu": torch.nn.functional.silu, "gelu": torch.nn.functional.gelu,
         "hardswish": torch.nn.functional.hardswish}


@pytest.mark.parametrize("function", sorted(FUNCTIONS))
@pytest.mark.parametrize("bits", [2, 4, 8])
def test_table_equals_brevitas_on_every_input_code(function, bits):
    """Every input code through Brevitas (in_q -> f -> out_q) equals the table's entry."""
    torch.manual_seed(bits)
    in_q, out_q = ident("a", BitSpec(act=bits)), ident("b", BitSpec(act=bits))
    calib = torch.randn(256) * 3
    in_q.train(); out_q.train()
    for _ in range(3):
        out_q(TORCH[function](in_q(calib).value))
    in_q.eval(); out_q.eval()
    s_in = float(in_q(calib).scale)
    lo, hi = code_range(bits, True)
    x = torch.arange(lo, hi + 1, dtype=torch.float32) * s_in
    qx = in_q(x)
    assert torch.equal(qx.int().flatten(), torch.arange(lo, hi + 1))  # every code reached
    qy = out_q(TORCH[function](qx.value))
    spec = TableSpec(function, bits, True, s_in, bits, True, float(qy.scale))
    assert np.array_equal(build_table(spec), qy.int().numpy())


def test_table_rounds_half_to_even_and_clips():
    # identity-like check through hardswish on x >= 3 (hardswish(x) = x there)
    spec = TableSpec("hardswish", 4, False, 1.0, 3, False, 2.0, in_zero=0)
    t = build_table(spec)
    # codes 3..15 -> x / 2: 1.5 -> 2, 2 -> 2, 2.5 -> 2, 3 -> 3, 3.5 -> 4, then clipped at 7
    assert list(t[3:9]) == [2, 2, 2, 3, 4, 4] and t[-1] == 7 and t.min() >= 0


def test_lookup_indexes_from_the_smallest_code_and_rejects_others():
    table = np.arange(16) * 3
    assert list(lookup(np.array([-8, 0, 7]), table, -8)) == [0, 24, 45]
    with pytest.raises(ValueError, match="outside"):
        lookup(np.array([8]), table, -8)


def test_spec_rejects_wide_inputs_and_unknown_functions():
    with pytest.raises(ValueError, match="1..8 bits"):
        TableSpec("silu", 9, True, 0.1, 8, True, 0.1)
    with pytest.raises(ValueError, match="must be one of"):
        TableSpec("tanh", 8, True, 0.1, 8, True, 0.1)
