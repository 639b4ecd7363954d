"""hyq.export.scoped: replacements live only inside the outermost block, exceptions included."""

from __future__ import annotations

import pytest
from qonnx.transformation.general import SortGraph

from hyq.export import bounded, fast_cleanup
from hyq.export.scoped import ScopedSwap


class Owner:
    def f(self):
        return "own"


def test_swap_nests_and_restores_after_an_error():
    swap = ScopedSwap({(Owner, "f"): lambda self: "swapped"})
    assert Owner().f() == "own"
    with swap.active():
        with swap.active():
            assert Owner().f() == "swapped"
        assert Owner().f() == "swapped"  # the outer block still holds it
    assert Owner().f() == "own"
    with pytest.raises(RuntimeError), swap.active():
        raise RuntimeError("inside")
    assert Owner.f is swap.original[Owner, "f"]


def test_fast_and_bounded_passes_share_it():
    own = SortGraph.apply
    with fast_cleanup.fast_passes(), bounded.bounded_passes():
        assert SortGraph.apply is fast_cleanup.sort_graph
    assert SortGraph.apply is own
