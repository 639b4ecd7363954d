"""QuantMultiheadSelfAttention: IntSoftmax inside equals the reference, float baseline,
gradients, QONNX export executed by qonnx, and parameter errors."""

import numpy as np
import pytest
import torch
from brevitas.export import export_qonnx
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.core.onnx_exec import execute_onnx
from qonnx.util.cleanup import cleanup_model

from hyq.integer import decode_log2, softmax
from hyq.nn.attention import QuantMultiheadSelfAttention
from hyq.nn.softmax import IntSoftmax


def calibrated(**kwargs):
    torch.manual_seed(0)
    m = QuantMultiheadSelfAttention(32, 4, **kwargs)
    m.train()
    with torch.no_grad():
        for _ in range(3):
            m(torch.randn(2, 17, 32))
    return m.eval()


@pytest.mark.parametrize("method, fmt", [("linmax", "uint"), ("ibert", "log2"), ("shiftmax", "uint")])
def test_int_softmax_inside_equals_reference(method, fmt):
    m = calibrated(softmax=method, softmax_format=fmt)
    seen = {}
    m.softmax.register_forward_hook(lambda mod, args, out: seen.update(x=args[0], y=out))
    y = m(torch.randn(2, 17, 32))
    assert y.shape == (2, 17, 32) and isinstance(m.softmax, IntSoftmax)
    x = seen["x"]
    want = softmax(x.int().numpy(), float(x.scale), method, out_format=fmt)
    want = want if fmt == "uint" else decode_log2(want, 4)
    assert np.array_equal(seen["y"].int().numpy(), want)
    assert seen["y"].value.shape == (2, 4, 17, 17)


def test_float_baseline_is_selectable_and_close():
    x = torch.randn(2, 17, 32)
    base = calibrated(softmax="float")
    lin = calibrated(softmax="linmax")
    assert isinstance(base.softmax, torch.nn.Softmax)
    yb, yl = base(x), lin(x)
    # same weights (same seed); only the softmax differs, so the outputs stay close
    assert torch.equal(base.q_proj.weight, lin.q_proj.weight)
    assert (yb - yl).abs().mean() < 0.1 * yb.abs().mean()


def test_gradients_reach_projections_through_int_softmax():
    m = calibrated(softmax="linmax").train()
    m(torch.randn(2, 17, 32)).pow(2).mean().backward()
    for proj in (m.q_proj, m.k_proj, m.v_proj, m.out_proj):
        assert proj.weight.grad is not None and proj.weight.grad.abs().sum() > 0


@pytest.mark.parametrize("softmax_kind", ["linmax", "float"])
def test_qonnx_export_matches_brevitas(softmax_kind, tmp_path):
    m = calibrated(softmax=softmax_kind)
    x = torch.randn(2, 17, 32)
    path = tmp_path / "attention.onnx"
    export_qonnx(m, args=x, export_path=str(path), dynamo=False)
    model = cleanup_model(ModelWrapper(str(path)))
    ops = [n.op_type for n in model.graph.node]
    assert ops.count("MatMul") == 6 and ("IntSoftmax" in ops) == (softmax_kind != "float")
    got = execute_onnx(model, {model.graph.input[0].name: x.numpy()})[model.graph.output[0].name]
    want = m(x).detach().numpy()
    # float matmul order may differ between torch and onnxruntime; quantizers make it vanish
    assert np.allclose(got, want, atol=1e-5)


@pytest.mark.parametrize("kwargs, message", [
    (dict(dim=30, heads=4), "multiple of heads"), (dict(dim=32, heads=0), "multiple of heads"),
    (dict(dim=32, heads=4, softmax="softermax"), "softmax must be one of"),
    (dict(dim=32, heads=4, softmax_bits=1), "out_bits"),
])
def test_invalid_parameters_raise_value_error(kwargs, message):
    with pytest.raises(ValueError, match=message):
        QuantMultiheadSelfAttention(**kwargs)
