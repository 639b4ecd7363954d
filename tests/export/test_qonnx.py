import numpy as np
import onnx
import pytest
import torch
from qonnx.core.datatype import DataType
from qonnx.core.modelwrapper import ModelWrapper

from hyq.data import load
from hyq.errors import HyqError
from hyq.export import check, export, load_checked, to_model_input
from hyq.models import build_model
from hyq.nn.quant import BitSpec
from hyq.quantize import calibrate


@pytest.fixture(scope="module")
def calibrated():
    torch.manual_seed(0)
    ds = load("digits")
    m = build_model("mv2-cnn", BitSpec(weight=6, act=6), 1, 10)
    calibrate(m, ds.x_train[:128])
    return m.eval(), ds


def test_export_matches_brevitas_with_uint8_input(calibrated, tmp_path):
    m, ds = calibrated
    path = export(m, ds.x_test[:1], tmp_path / "m.onnx", input_scale=1 / 255)
    mw = ModelWrapper(str(path))
    assert mw.get_tensor_datatype(mw.graph.input[0].name) == DataType["UINT8"]
    assert "Quant" in {n.op_type for n in mw.graph.node}
    raw = to_model_input(ds.x_test[:4], 1 / 255)
    assert raw.min() >= 0 and raw.max() <= 255 and np.array_equal(raw, np.round(raw))
    res = check(m, path, ds.x_test[:16], input_scale=1 / 255)
    assert res.passed and res.samples_differing == 0 and res.argmax_agreement == 1.0, res


def test_check_detects_a_different_model(calibrated, tmp_path):
    m, ds = calibrated
    path = export(m, ds.x_test[:1], tmp_path / "m.onnx", input_scale=1 / 255)
    with torch.no_grad():
        m.classifier.weight.mul_(2.0)  # Brevitas side changes, the ONNX file does not
    try:
        res = check(m, path, ds.x_test[:8], input_scale=1 / 255)
        assert not res.passed and res.samples_differing == 8
    finally:
        with torch.no_grad():
            m.classifier.weight.mul_(0.5)


def test_load_checked_rejects_missing_and_corrupt(tmp_path):
    with pytest.raises(HyqError, match="not found"):
        load_checked(tmp_path / "none.onnx")
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\x00not an onnx file" * 10)
    with pytest.raises(HyqError, match="not a valid ONNX model"):
        load_checked(bad)
    onnx.save(onnx.helper.make_model(onnx.helper.make_graph([], "g", [], [])), str(tmp_path / "empty.onnx"))
    with pytest.raises(HyqError, match="0 inputs"):
        load_checked(tmp_path / "empty.onnx")
    vi = [onnx.helper.make_tensor_value_info(n, onnx.TensorProto.FLOAT, [1, 4]) for n in ("x", "y")]
    g = onnx.helper.make_graph([onnx.helper.make_node("Identity", ["x"], ["y"])], "g", vi[:1], vi[1:])
    onnx.save(onnx.helper.make_model(g), str(tmp_path / "ok.onnx"))
    assert load_checked(tmp_path / "ok.onnx") is not None
