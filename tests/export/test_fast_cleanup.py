"""hyq.export.fast_cleanup: the linear-time passes give exactly qonnx's results."""

import contextlib
import copy
import random

import numpy as np
from onnx import TensorProto, helper
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.transformation.general import GiveReadableTensorNames, GiveUniqueNodeNames, SortGraph
from qonnx.util.basic import qonnx_make_model

from hyq.export import fast_cleanup


def residual_graph(blocks: int = 12, seed: int = 0) -> ModelWrapper:
    """Chains of Mul/Add with forks and joins (residuals), shared and private initializers,
    a dangling value_info; node order shuffled."""
    nodes, x = [], "x"
    for b in range(blocks):
        nodes += [helper.make_node("Mul", [x, f"w{b}"], [f"m{b}"]),
                  helper.make_node("Add", [f"m{b}", "shared"], [f"a{b}"]),
                  helper.make_node("Add", [f"a{b}", x], [f"r{b}"])]
        x = f"r{b}"
    nodes.append(helper.make_node("Relu", [x], ["y"]))
    random.Random(seed).shuffle(nodes)
    shape = (1, 4)
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, shape)],
                              value_info=[helper.make_tensor_value_info("m0", TensorProto.FLOAT, shape)])
    model = ModelWrapper(qonnx_make_model(graph))
    for b in range(blocks):
        model.set_initializer(f"w{b}", np.full(shape, b, dtype=np.float32))
    model.set_initializer("shared", np.ones(shape, dtype=np.float32))
    return model


def run(model: ModelWrapper, transformation, fast: bool) -> bytes:
    with fast_cleanup.fast_passes() if fast else contextlib.nullcontext():
        out = copy.deepcopy(model).transform(transformation, cleanup=False)
    return out.model.SerializeToString(deterministic=True)


def test_sort_graph_same_order_as_qonnx():
    for seed in range(5):
        model = residual_graph(seed=seed)
        assert run(model, SortGraph(), fast=True) == run(model, SortGraph(), fast=False)


def test_readable_tensor_names_same_as_qonnx():
    model = residual_graph().transform(GiveUniqueNodeNames())
    fast = run(model, GiveReadableTensorNames(), fast=True)
    assert fast == run(model, GiveReadableTensorNames(), fast=False)
    renamed = ModelWrapper(fast)
    assert renamed.graph.input[0].name == "global_in" and renamed.graph.output[0].name == "global_out"
    assert all(o.endswith("_out0") or o == "global_out" for n in renamed.graph.node for o in n.output)


def test_fast_passes_are_scoped_and_nest():
    from qonnx.transformation import general

    own = general.SortGraph.apply
    with fast_cleanup.fast_passes():
        with fast_cleanup.fast_passes():
            assert general.SortGraph.apply is fast_cleanup.sort_graph
        assert general.SortGraph.apply is fast_cleanup.sort_graph  # the outer block still holds
    assert general.SortGraph.apply is own  # qonnx's own pass again for everyone else
