"""hyq.nn.integerize on a user's own Brevitas transformer: swapped, calibrated, and mapped completely by hyq build."""

from __future__ import annotations

import json

import pytest
import torch
from brevitas import nn as qnn
from torch import nn

from hyq.nn import integerize
from hyq.nn.attention import _value
from hyq.nn.swap import IntegerAttention, IntegerSoftmax, TableActivation
from tests.conftest import hyq


class UserTransformer(nn.Module):
    """Tokens -> embedding -> [LayerNorm] -> Brevitas MHA (packed in-projection) -> SiLU ->
    classifier -> softmax, written the way a user would, with Brevitas' default quantizers."""

    def __init__(self, fin: int = 8, dim: int = 16, heads: int = 2, classes: int = 4, act=nn.SiLU,
                 norm: bool = False):
        super().__init__()
        self.inp = qnn.QuantIdentity(return_quant_tensor=True)
        self.embed = qnn.QuantLinear(fin, dim, bias=True)
        self.norm = nn.LayerNorm(dim) if norm else nn.Identity()
        self.attn = qnn.QuantMultiheadAttention(dim, heads, batch_first=True, packed_in_proj=True)
        self.act = act()
        self.head = qnn.QuantLinear(dim, classes, bias=True)
        self.softmax = nn.Softmax(dim=-1)

    def forward(self, x):
        x = self.norm(self.embed(self.inp(x)))
        x, _ = self.attn(x, x, x, need_weights=False)
        return self.softmax(self.head(self.act(x)))


def _user_model(**kw):
    torch.manual_seed(0)
    m = UserTransformer(**kw)
    with torch.no_grad():  # non-zero biases, so that copying them is checked
        for p in m.parameters():
            if p.dim() == 1:
                p.uniform_(-0.1, 0.1)
        if kw.get("norm"):  # a positive gamma (FINN folds a positive per-channel scale into thresholds)
            m.norm.weight.uniform_(0.5, 1.5)
    return m


def test_layernorm_becomes_integer_layernorm_with_the_same_affine():
    from brevitas.graph.calibrate import quantization_status_manager

    from hyq.nn.layernorm import IntLayerNorm
    from hyq.nn.swap import IntegerLayerNorm

    m = _user_model(norm=True)
    gamma, beta = m.norm.weight.detach().clone(), m.norm.bias.detach().clone()
    x = torch.randn(64, 6, 8)
    rep = integerize(m, calib=x)
    assert rep.swapped["norm"] == "layernorm" and isinstance(m.norm, IntegerLayerNorm)
    assert isinstance(m.norm.norm, IntLayerNorm)
    assert torch.equal(m.norm.norm.weight, gamma) and torch.equal(m.norm.norm.bias, beta)
    t = torch.as_tensor(_value(m.embed(m.inp(x[:8])))).detach()  # what the norm reads, in its calibrated range
    with quantization_status_manager(m.norm, disable_act_quant=True, is_training=False):
        ref = nn.functional.layer_norm(t, (16,), gamma, beta, eps=m.norm.norm.eps)
        assert torch.allclose(m.norm(t), ref, atol=1e-5)  # float function when quantization is off
    got = m.norm(t)  # integer LayerNorm between two 8-bit quantizers: a few output steps off
    step = float(m.norm.out_q.act_quant.scale())
    assert (got - ref).abs().max() < 4 * step
    with pytest.raises(ValueError, match="last axis"):
        integerize(nn.Sequential(nn.LayerNorm((4, 16))), calib=torch.randn(2, 4, 16))


def test_swaps_split_packed_projection_and_report_change():
    m = _user_model()
    packed = m.attn.in_proj.weight.detach().clone()
    x = torch.randn(64, 6, 8)
    rep = integerize(m, softmax="linmax", calib=x)
    assert rep.swapped == {"attn": "attention", "act": "silu", "softmax": "softmax"}
    assert isinstance(m.attn, IntegerAttention) and isinstance(m.act, TableActivation)
    assert isinstance(m.softmax, IntegerSoftmax) and m.softmax.softmax.method == "linmax"
    block = m.attn.block
    split = torch.cat([block.q_proj.weight, block.k_proj.weight, block.v_proj.weight])
    assert torch.equal(split, packed)
    # the outputs are probabilities before and after; the integer model stays close
    assert 0 < rep.max_abs_change < 0.5 and 0 < rep.rel_change < 0.5 and rep.argmax_agreement > 0.5
    assert "attention" in str(rep) and "arg-max agreement" in str(rep)
    y = m(x[:4])
    assert y.shape == (4, 6, 4)
    # IntSoftmax output on its 8-bit grid
    assert torch.allclose(y * 256, torch.round(y * 256), atol=1e-4)


def test_attention_float_function_is_the_brevitas_modules():
    """With every quantizer off, the swapped attention computes what Brevitas' MHA did."""
    from brevitas.graph.calibrate import quantization_status_manager

    torch.manual_seed(1)
    mha = qnn.QuantMultiheadAttention(16, 2, batch_first=False, packed_in_proj=True)
    with torch.no_grad():
        mha.in_proj.bias.uniform_(-0.1, 0.1)
    from hyq.nn.swap import _attention

    new = _attention(mha, "linmax", 8)
    x = torch.randn(5, 3, 16)  # (tokens, batch, dim): batch_first=False
    off = dict(disable_act_quant=True, disable_weight_quant=True, disable_bias_quant=True, is_training=False)
    with quantization_status_manager(mha, **off), quantization_status_manager(new, **off):
        ref, _ = mha(x, x, x, need_weights=False)
        got, _ = new(x, x, x)
    assert torch.allclose(torch.as_tensor(got), torch.as_tensor(ref), atol=1e-5)


def test_gelu_becomes_a_table_activation_and_bad_calls_raise():
    m = _user_model(act=nn.GELU)
    rep = integerize(m, calib=torch.randn(16, 6, 8))
    assert rep.swapped["act"] == "gelu" and isinstance(m.act.act, nn.GELU)
    with pytest.raises(ValueError, match="calib"):
        integerize(_user_model(), calib=None)
    x = torch.randn(2, 6, 16)
    with pytest.raises(ValueError, match="self-attention"):
        m.attn(x, torch.randn(2, 6, 16), x)


@pytest.mark.slow
def test_integerized_export_maps_completely_with_hyq_build(tmp_path):
    from hyq.export import check, export

    m = _user_model(norm=True)
    x = torch.randn(64, 6, 8)
    integerize(m, softmax="linmax", calib=x)
    path = export(m, x[:1], tmp_path / "user.onnx")
    chk = check(m, path, x[:8])
    assert chk.passed, chk
    out = tmp_path / "build"
    proc = hyq("build", str(path), "--part", "xc7z020clg400-1", "--out", str(out), "--target-fps", "1000")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    rep = json.loads((out / "report.json").read_text())
    assert rep["complete"] and rep["unmapped_nodes"] == []
    ops = {layer["op_type"] for layer in rep["layers"]}
    assert any(op.startswith("HyqSoftmax") for op in ops), ops  # the attention's and the classifier's softmax
    assert sum(op.startswith("HyqSoftmax") for op in (layer["op_type"] for layer in rep["layers"])) == 2
    assert any("Lookup" in op or "Table" in op for op in ops), ops  # SiLU as a table
    assert any(op.startswith("HyqLayerNorm") for op in ops), ops
    assert rep["total"]["LUT"] > 0


def test_unintegerized_model_does_not_map(tmp_path):
    """The same model before integerize leaves float operators outside the accelerator (why the call exists)."""
    from hyq.export import export

    m = _user_model().eval()
    path = export(m, torch.randn(1, 6, 8), tmp_path / "float.onnx")
    import onnx

    ops = {n.op_type for n in onnx.load(str(path)).graph.node}
    assert "Softmax" in ops and "Sigmoid" in ops
