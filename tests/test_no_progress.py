"""Graph passes that never converge end with one line naming the stuck nodes, exit 2, no report."""

from __future__ import annotations

import json
import time

import pytest
from onnx import TensorProto as TP
from onnx import helper as oh
from qonnx.core.datatype import DataType
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.transformation.base import Transformation
from qonnx.transformation.composed import ComposedTransformation

from hyq.export import bounded
from tests.conftest import hyq
from tests.test_cli import _one_line_error

PART = "xc7z020clg400-1"


def _scale_before_transpose(path):
    """Quant -> Mul(0.5) -> Transpose -> output: a scalar scale that no thresholds follow.

    finn-plus' StreamlinePlus moves the Mul below the Transpose (MoveScalarLinearPastInvariants)
    and the Transpose below the Mul again (MoveTransposePastEltwise), for ever: a loop of
    finn-plus' own rewrites, independent of any operator hyq adds.
    """
    nodes = [oh.make_node("Quant", ["x", "s", "z", "b"], ["q"], domain="qonnx.custom_op.general", narrow=0,
                          rounding_mode="ROUND", signed=1),
             oh.make_node("Mul", ["q", "c"], ["m"]),
             oh.make_node("Transpose", ["m"], ["y"], perm=[0, 2, 3, 1])]
    inits = [oh.make_tensor(n, TP.FLOAT, [], [v]) for n, v in (("s", 0.1), ("z", 0.0), ("b", 8.0), ("c", 0.5))]
    g = oh.make_graph(nodes, "loops", [oh.make_tensor_value_info("x", TP.FLOAT, [1, 4, 2, 2])],
                      [oh.make_tensor_value_info("y", TP.FLOAT, [1, 2, 2, 4])], initializer=inits)
    m = ModelWrapper(oh.make_model(g, opset_imports=[oh.make_opsetid("", 13),
                                                     oh.make_opsetid("qonnx.custom_op.general", 1)]))
    m.set_tensor_datatype("x", DataType["INT8"])
    m.save(str(path))
    return path


def test_streamlining_that_cannot_finish_names_the_nodes(tmp_path):
    model = _scale_before_transpose(tmp_path / "loops.onnx")
    out = tmp_path / "o"
    t0 = time.perf_counter()
    proc = hyq("build", str(model), "--part", PART, "--out", str(out), timeout=600)
    assert time.perf_counter() - t0 < 480  # the cycle is found in round 2; the rest is start-up and step 1
    _one_line_error(proc, "FINN step step_hyq_streamline", "makes no progress", "undo each other",
                    "MoveScalarLinearPastInvariants", "MoveTransposePastEltwise", "Mul_0 (Mul)",
                    "Transpose_0 (Transpose)", "quantize or change the layers around them")
    assert "InferDataTypes" not in proc.stderr  # bookkeeping passes are not culprits
    assert not (out / "report.json").exists() and not (out / "report.md").exists()
    assert not list((out / "finn" / "intermediate_models").glob("*streamline*.onnx"))
    assert "step_hyq_streamline" not in json.loads((out / "finn" / "progress.json").read_text())["done"]


class _Grow(Transformation):
    """Appends an Identity at the output each call: always 'changed', never the same graph."""

    def apply(self, model):
        out = model.graph.output[0].name
        new = f"{out}_g"
        model.graph.node.append(oh.make_node("Identity", [out], [new]))
        model.graph.output[0].name = new
        return model, True


def _tiny():
    g = oh.make_graph([oh.make_node("Identity", ["x"], ["y"])], "t", [oh.make_tensor_value_info("x", TP.FLOAT, [2])],
                      [oh.make_tensor_value_info("y", TP.FLOAT, [2])])
    return ModelWrapper(oh.make_model(g))


def test_round_bound_stops_a_pass_that_keeps_changing(monkeypatch):
    monkeypatch.setenv("HYQ_MAX_PASS_ROUNDS", "30")
    with bounded.bounded_passes():
        with pytest.raises(bounded.NoProgress, match="_Grow makes no progress: still changing after 30 rounds"):
            _tiny().transform(_Grow())
        with pytest.raises(bounded.NoProgress, match="still changing after 30 rounds.*Identity"):
            ComposedTransformation([_Grow()]).apply(_tiny())
    assert ModelWrapper.transform is bounded._ORIGINAL[ModelWrapper, "transform"]  # qonnx restored after
    monkeypatch.setenv("HYQ_MAX_PASS_ROUNDS", "zero")
    with pytest.raises(bounded.HyqError, match="HYQ_MAX_PASS_ROUNDS must be a positive integer"):
        bounded.max_rounds(_tiny())
    monkeypatch.delenv("HYQ_MAX_PASS_ROUNDS")
    assert bounded.max_rounds(_tiny()) == 200
