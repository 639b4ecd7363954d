"""hyq's bit-width steps (threshold tables checked in array time) leave the graph finn-plus'
own steps leave: on real builds' saved models, and on tables that reach every branch of
FINN's choice (all zero, negative, signed input, RTL saturation, HLS input width)."""

from __future__ import annotations

import copy

import numpy as np
import pytest
from onnx import TensorProto, helper
from qonnx.core.datatype import DataType
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.util.basic import qonnx_make_model

from hyq.dataflow import bitwidth, finn_env
from hyq.dataflow.build import BuildSpec, _finn_cfg, _resolve

PAIRS = (("step_hyq_minimize_bit_width_initial", "step_minimize_bit_width_initial"),
         ("step_hyq_minimize_bit_width", "step_minimize_bit_width"))


def _step_inputs(finn_dir):
    """(hyq step, FINN step, the saved model the step ran on) of a finished build."""
    models = sorted((finn_dir / "intermediate_models").glob("[0-9][0-9]_*.onnx"))
    for ours, theirs in PAIRS:
        i = next(i for i, m in enumerate(models) if m.stem[3:] in (ours, theirs))
        yield ours, theirs, models[i - 1]


@pytest.mark.parametrize("which", ["default", "hybrid"])
def test_steps_leave_finns_graph_on_real_builds(which, request, tmp_path):
    build = request.getfixturevalue("default_run") / "finn" if which == "default" else \
        request.getfixturevalue("_hybrid_codegen_shared") / "finn"
    with finn_env.build_settings(tmp_path):
        cfg = _finn_cfg(BuildSpec(part="xc7z020clg400-1"), tmp_path)
        for ours, theirs, src in _step_inputs(build):
            theirs_out = _resolve(theirs)(ModelWrapper(str(src)), cfg)
            ours_out = getattr(bitwidth, ours)(ModelWrapper(str(src)), cfg)
            tables = [n for n in ours_out.graph.node if n.op_type.startswith("Thresholding")]
            assert tables, f"{src.name}: no threshold table to compare"
            assert ours_out.model.SerializeToString() == theirs_out.model.SerializeToString(), (which, theirs)


DOMAINS = {"Thresholding": "finn.custom_op.fpgadataflow", "Thresholding_rtl": "finn.custom_op.fpgadataflow.rtl",
           "Thresholding_hls": "finn.custom_op.fpgadataflow.hls"}
#: (input type, thresholds): all zero; negative; signed input with positive thresholds;
#: a narrow table on a wide input (RTL widens it for min - 1, HLS to the input width)
TABLES = [("INT8", [[0, 0, 0], [0, 0, 0]]), ("INT12", [[-300, -2, 5], [-1, 0, 7]]),
          ("INT10", [[1, 2, 3], [4, 5, 6]]), ("INT16", [[-128, 0, 100], [-50, 3, 127]]),
          ("UINT9", [[0, 3, 255], [1, 2, 256]])]


def _graph(op: str, tables=TABLES) -> ModelWrapper:
    nodes, ins, outs = [], [], []
    for k, (idt, t) in enumerate(tables):
        nodes.append(helper.make_node(op, [f"x{k}", f"t{k}"], [f"y{k}"], domain=DOMAINS[op], backend="fpgadataflow",
                                      name=f"{op}_{k}", NumChannels=2, PE=1, numSteps=3, inputDataType=idt,
                                      weightDataType="INT32", outputDataType="UINT2", numInputVectors=[1, 4],
                                      ActVal=0))
        ins.append(helper.make_tensor_value_info(f"x{k}", TensorProto.FLOAT, [1, 4, 2]))
        outs.append(helper.make_tensor_value_info(f"y{k}", TensorProto.FLOAT, [1, 4, 2]))
    model = ModelWrapper(qonnx_make_model(helper.make_graph(nodes, "tables", ins, outs)))
    for k, (idt, t) in enumerate(tables):
        model.set_initializer(f"t{k}", np.array(t, dtype=np.float32))
        model.set_tensor_datatype(f"t{k}", DataType["INT32"])
        model.set_tensor_datatype(f"x{k}", DataType[idt])
        model.set_tensor_datatype(f"y{k}", DataType["UINT2"])
    return model


@pytest.mark.parametrize("op", list(DOMAINS))
def test_weight_pass_chooses_finns_datatypes_on_every_branch(op):
    finn_env.finn_steps()
    from finn.transformation.fpgadataflow.minimize_weight_bit_width import MinimizeWeightBitWidth

    model = _graph(op)
    theirs = copy.deepcopy(model).transform(MinimizeWeightBitWidth())
    ours = copy.deepcopy(model).transform(bitwidth.MinimizeWeightBitWidth())
    widths = [ours.get_tensor_datatype(n.input[1]).name for n in ours.graph.node]
    assert widths == [theirs.get_tensor_datatype(n.input[1]).name for n in theirs.graph.node]
    assert ours.model.SerializeToString() == theirs.model.SerializeToString()
    if op == "Thresholding_hls":  # every narrower table widened to its input
        assert widths == [idt for idt, _ in TABLES]
    else:  # the branches are reached
        assert widths[0] == "INT2" and len(set(widths)) >= 3, widths


def test_a_table_its_type_cannot_hold_is_refused():
    """A non-integer threshold between integer extremes: FINN refuses it, and so does hyq."""
    with pytest.raises(ValueError, match="can't be expressed"):
        _graph("Thresholding_rtl", [("INT8", [[0, 1.5, 3], [0, 1, 3]])]).transform(bitwidth.MinimizeWeightBitWidth())
