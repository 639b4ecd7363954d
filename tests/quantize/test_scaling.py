import copy

import numpy as np
import onnx
import pytest
import torch
from brevitas import nn as qnn
from brevitas.quant import Int8WeightPerTensorFloat, Uint8ActPerTensorFloat
from torch import nn

from hyq.export import check, export
from hyq.nn.quant import BitSpec
from hyq.quantize import calibrate, float_mode
from hyq.quantize.regions import find_regions
from hyq.quantize.scaling import METHODS, ScalingOptions, region_mse, scale

from tests.conftest import hyq
from tests.quantize.conftest import mv2

FAST = ScalingOptions(qads_iters=60, qads_lr=0.05, awq_grid=6, cle_iterations=3)


class Skewed(nn.Module):
    """BN -> 4-bit QuantReLU -> 4-bit 1x1 conv, with channel ranges spread over three decades."""

    def __init__(self, channels: int = 16, out: int = 8):
        super().__init__()
        self.bn = nn.BatchNorm2d(channels)
        self.act = qnn.QuantReLU(act_quant=Uint8ActPerTensorFloat, bit_width=4, return_quant_tensor=True)
        self.conv = qnn.QuantConv2d(channels, out, 1, bias=False, weight_quant=Int8WeightPerTensorFloat,
                                    weight_bit_width=4, weight_scaling_per_output_channel=True)
        with torch.no_grad():
            self.bn.weight.copy_(torch.logspace(-2, 1, channels))  # channel c's range ~ 10^(-2 + 3c/C)
            self.bn.bias.fill_(0.05)
        self.eval()

    def forward(self, x):
        return self.conv(self.act(self.bn(x)))


def _float_out(model, x):
    with float_mode(model, training=False):
        y = model(x)
    return torch.as_tensor(y.value if hasattr(y, "value") else y).detach()


def test_qads_lowers_the_layer_mse_on_skewed_channels():
    torch.manual_seed(0)
    m = Skewed()
    x = torch.randn(64, 16, 4, 4)
    res = scale(m, "qads", x, options=ScalingOptions(qads_iters=150, qads_lr=0.05))
    (r,) = res.regions
    assert r.region.sinks == ("conv",) and r.region.srcs == ("bn",) and r.region.abits == (4,)
    assert r.mse_scaled < 0.5 * r.mse_unscaled, (r.mse_unscaled, r.mse_scaled)
    # the reported numbers are the objective itself, recomputed from the folded weights
    assert float(res.regions[0].alpha.min()) > 0


@pytest.mark.parametrize("method", METHODS)
def test_every_method_keeps_the_float_function(method):
    m = mv2(BitSpec(weight=4, act=4))
    x = torch.rand(32, 1, 8, 8)
    before = _float_out(m, x)
    res = scale(m, method, x, options=FAST)
    after = _float_out(m, x)
    assert len(res.regions) == 4
    assert torch.allclose(before, after, rtol=1e-5, atol=1e-5 * float(before.abs().max()))
    if method != "none":  # something was actually scaled
        assert any(float((r.alpha - 1).abs().max()) > 1e-3 for r in res.regions)


def _quant_error(model, x):
    """MSE of the Brevitas quantized output against the float output, after calibration."""
    calibrate(model, x)
    model.eval()
    with torch.no_grad():
        y = model(x)
    y = torch.as_tensor(y.value if hasattr(y, "value") else y)
    return float(((y - _float_out(model, x)) ** 2).mean())


def test_qads_lowers_the_quantized_error_measured_after_folding():
    """Not QADS' own bookkeeping: the real Brevitas model, folded and re-calibrated, against
    the same model left at alpha = 1, on a layer with skewed channel ranges."""
    torch.manual_seed(0)
    x = torch.randn(64, 16, 4, 4)
    plain = Skewed()
    scaled = copy.deepcopy(plain)
    scale(scaled, "qads", x, options=ScalingOptions(qads_iters=150, qads_lr=0.05))
    assert torch.allclose(_float_out(plain, x), _float_out(scaled, x), rtol=1e-4, atol=1e-5)
    e_plain, e_qads = _quant_error(plain, x), _quant_error(scaled, x)
    assert e_qads < 0.7 * e_plain, (e_plain, e_qads)


def _nodes(path):
    g = onnx.load(str(path)).graph
    return sorted(n.op_type for n in g.node)


def test_folded_export_has_the_same_nodes(tmp_path):
    x = torch.rand(64, 1, 8, 8)
    plain, scaled = mv2(), mv2()
    scale(scaled, "qads", x, options=FAST)
    paths = []
    for name, m in (("plain", plain), ("qads", scaled)):
        calibrate(m, x)
        p = export(m, x[:1], tmp_path / f"{name}.onnx", input_scale=1 / 255)
        assert check(m, p, x[:8], input_scale=1 / 255).passed
        paths.append(p)
    assert _nodes(paths[0]) == _nodes(paths[1])
    # and the folded weights differ: the scaling is in the file, not lost
    w = [np.concatenate([onnx.numpy_helper.to_array(t).ravel() for t in onnx.load(str(p)).graph.initializer
                         if t.data_type == onnx.TensorProto.FLOAT]) for p in paths]
    assert w[0].shape == w[1].shape and not np.allclose(w[0], w[1])


def test_unknown_method_and_selection():
    with pytest.raises(ValueError, match="unknown scaling method"):
        scale(mv2(), "magic", torch.rand(4, 1, 8, 8))
    res = scale(mv2(), "qads", torch.rand(8, 1, 8, 8), layers=("*.project",), options=FAST)
    assert sorted(r.region.sinks for r in res.regions) == [("blocks.0.project",), ("blocks.1.project",)]
    assert find_regions(mv2(), ("nothing",))[0] == []


def _layer_types(report: dict) -> list[str]:
    return sorted(layer.get("op_type", layer.get("type", "?")) for layer in report["layers"])


@pytest.mark.slow
def test_folded_model_maps_to_the_same_finn_layers(tmp_path):
    """The scaled model's FINN estimate build has the same hardware layers, none left unmapped."""
    import json

    x = torch.rand(64, 1, 8, 8)
    reports = []
    for name, method in (("plain", "none"), ("qads", "qads")):
        m = mv2()
        scale(m, method, x, options=FAST)
        calibrate(m, x)
        p = export(m, x[:1], tmp_path / f"{name}.onnx", input_scale=1 / 255)
        # thresholds everywhere: requant: auto chooses per table, by its values
        proc = hyq("build", str(p), "--part", "xc7z020clg400-1", "--target-fps", "10000", "--requant", "never",
                   "--out", str(tmp_path / name))
        assert proc.returncode == 0, proc.stderr[-2000:]
        reports.append(json.loads((tmp_path / name / "report.json").read_text()))
    assert reports[0]["unmapped_nodes"] == reports[1]["unmapped_nodes"] == []
    assert _layer_types(reports[0]) == _layer_types(reports[1])
