import pytest
import torch

from hyq import config
from hyq.errors import HyqError
from hyq.nn.quant import BitSpec
from hyq.quantize.mixed import WeightLayer, assign, mixed_precision, storage_bits, weight_layers
from hyq.jobs.quantize import float_model, new_model


def test_weight_layers_name_every_layer(tiny_flow, digits):
    cfg = config.load(tiny_flow)
    layers = weight_layers(float_model(cfg, digits))
    by_module = {layer.module: layer for layer in layers}
    # the BitSpec name of the projection conv differs from its module path
    assert by_module["blocks.0.project"].name == "blocks.0.project.conv"
    model = new_model(cfg, digits, BitSpec())
    params = {n: m.weight.numel() for n, m in model.named_modules() if hasattr(m, "quant_weight")}
    assert {layer.module: layer.params for layer in layers} == params


def test_greedy_keeps_the_sensitive_layer_wide():
    layers = [WeightLayer("a", "a", 100), WeightLayer("b", "b", 100), WeightLayer("c", "c", 100)]
    table = {"a": {8: {"mse": 0.0}, 6: {"mse": 10.0}, 4: {"mse": 50.0}},
             "b": {8: {"mse": 0.0}, 6: {"mse": 0.1}, 4: {"mse": 0.2}},
             "c": {8: {"mse": 0.0}, 6: {"mse": 0.2}, 4: {"mse": 0.4}}}
    chosen = assign(layers, table, (8, 6, 4), budget_bits=100 * (8 + 4 + 4))
    assert chosen == {"a": 8, "b": 4, "c": 4}
    assert storage_bits(layers, chosen) <= 1600
    with pytest.raises(HyqError, match="below"):
        assign(layers, table, (8, 6, 4), budget_bits=100 * 4 * 3 - 1)


def test_mixed_precision_respects_the_budget(tiny_flow, digits):
    cfg = config.load(tiny_flow)
    layers = weight_layers(float_model(cfg, digits))
    full = storage_bits(layers, {layer.name: 8 for layer in layers})
    budget = int(full * 0.7)
    res = mixed_precision(float_model(cfg, digits), digits, budget, (8, 6, 4), cfg.quant.act_bits)
    assert res.storage_bits <= budget < full
    assert set(res.widths.values()) <= {8, 6, 4} and min(res.widths.values()) < 8
    # a model built from the reported overrides has exactly that storage
    model = new_model(cfg, digits, BitSpec(8, 8, overrides=res.overrides))
    measured = sum(m.weight.numel() * int(m.quant_weight().bit_width)
                   for m in model.modules() if hasattr(m, "quant_weight"))
    assert measured == res.storage_bits
    assert all(set(res.sensitivity[name]) == {8, 6, 4} for name in res.widths)
    with pytest.raises(HyqError, match="below"):
        mixed_precision(float_model(cfg, digits), digits, 10, (8, 4), cfg.quant.act_bits)


@pytest.mark.slow
def test_hyq_quantize_with_a_budget(tiny_flow, digits, tmp_path):
    import json

    from tests.conftest import hyq

    layers = weight_layers(float_model(config.load(tiny_flow), digits))
    budget = int(storage_bits(layers, {layer.name: 8 for layer in layers}) * 0.6)
    out = tmp_path / "mixed"
    proc = hyq("quantize", "--config", str(tiny_flow), "--method", "qads", "--budget-bits", str(budget),
               "--widths", "8,6,4", "--out", str(out))
    assert proc.returncode == 0, proc.stderr[-2000:]
    rep = json.loads((out / "quantize.json").read_text())
    mixed = rep["mixed_precision"]
    assert mixed["storage_bits"] <= budget == mixed["budget_bits"]
    chosen = {layer["module"]: layer["wbits"] for layer in mixed["layers"]}
    assert {layer["name"]: layer["wbits"] for layer in rep["layers"]} == chosen
    assert sum(layer["params"] * layer["wbits"] for layer in mixed["layers"]) == mixed["storage_bits"]
