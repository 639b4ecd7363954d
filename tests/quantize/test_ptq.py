import json

import onnx
import pytest
import torch

from hyq import config
from hyq.errors import HyqError
from hyq.export import export
from hyq.nn.quant import BitSpec
from hyq.quantize import calibrate
from hyq.jobs.quantize import quantize_flow as quantize
from hyq.quantize.ptq import bias_correct, layer_widths

from tests.conftest import hyq
from tests.quantize.conftest import mv2


def test_bias_correction_lands_in_batchnorm_only(tmp_path):
    x = torch.rand(64, 1, 8, 8)
    m = mv2(BitSpec(weight=4, act=4))
    calibrate(m, x)
    keys = set(m.state_dict())
    means = {n: b.running_mean.clone() for n, b in m.named_modules() if isinstance(b, torch.nn.BatchNorm2d)}
    ref = export(m, x[:1], tmp_path / "before.onnx", input_scale=1 / 255)
    corrected, dropped = bias_correct(m, x)
    # bias-free convs followed by a BatchNorm: corrected through the BN; the classifier has neither
    assert "blocks.0.project" in corrected and "stem.conv" in corrected
    assert dropped == ["classifier"]
    assert all(getattr(mod, "bias", None) is None for n, mod in m.named_modules() if n in corrected + dropped)
    assert set(m.state_dict()) == keys
    moved = [n for n, b in m.named_modules() if n in means and not torch.equal(b.running_mean, means[n])]
    assert "blocks.0.project_bn" in moved and "stem.bn" in moved
    after = export(m, x[:1], tmp_path / "after.onnx", input_scale=1 / 255)
    count = [sorted(n.op_type for n in onnx.load(str(p)).graph.node) for p in (ref, after)]
    assert count[0] == count[1]


def test_quantize_report_and_widths(tiny_flow, digits):
    cfg = config.load(tiny_flow)
    res = quantize(cfg, digits, method="qads", wbits=6, abits=5, qat_epochs=1, bias_correction=True)
    rep = res.report
    assert rep["method"] == "qads" and rep["wbits"] == 6 and rep["abits"] == 5
    for key in ("accuracy_float", "accuracy_ptq", "accuracy_quantized"):
        assert 0.0 <= rep[key] <= 1.0
    assert rep["accuracy_float"] > 0.5  # 3 epochs on digits learn something
    names = {layer["name"]: layer for layer in rep["layers"]}
    assert names["blocks.0.project"] == {"name": "blocks.0.project", "wbits": 6, "abits": 5}
    assert names["stem.conv"]["abits"] == 8  # the raw-pixel input quantizer
    assert layer_widths(res.model) == rep["layers"]
    assert len(rep["scaling"]["regions"]) == 4 and rep["bias_dropped"] == ["classifier"]
    json.dumps(rep)  # JSON-ready


def test_quantize_bad_widths(tiny_flow, digits):
    with pytest.raises(HyqError, match="bit-width"):
        quantize(config.load(tiny_flow), digits, wbits=1)


def test_hyq_quantize_cli(tiny_flow, tmp_path):
    out = tmp_path / "q"
    proc = hyq("quantize", "--config", str(tiny_flow), "--method", "qads", "--wbits", "4", "--abits", "4",
               "--out", str(out))
    assert proc.returncode == 0, proc.stderr[-2000:]
    rep = json.loads((out / "quantize.json").read_text())
    assert {"method", "wbits", "abits", "accuracy_float", "accuracy_quantized", "layers"} <= set(rep)
    assert rep["method"] == "qads" and (rep["wbits"], rep["abits"]) == (4, 4)
    assert all({"name", "wbits", "abits"} <= set(layer) for layer in rep["layers"])
    assert f"PTQ {rep['accuracy_ptq']:.4f}" in proc.stdout
    state = torch.load(out / "model.pt", weights_only=True)
    assert "blocks.0.project.weight" in state


def test_hyq_quantize_bad_input(tiny_flow, tmp_path):
    proc = hyq("quantize", "--config", str(tiny_flow), "--out", str(tmp_path / "x"), "--wbits", "1")
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == ["hyq: error: --wbits must be in [2, 16], got 1"]
    proc = hyq("quantize", "--config", str(tiny_flow), "--out", str(tmp_path / "x"), "--method", "magic")
    assert proc.returncode == 2 and "invalid choice: 'magic'" in proc.stderr
