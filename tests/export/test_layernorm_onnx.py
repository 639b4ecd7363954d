"""IntLayerNorm exported to QONNX: a hyq.export.ops node with its constants, executed by
qonnx's executor bit-exactly like Brevitas and the NumPy reference."""

import numpy as np
import pytest
import torch
from brevitas import nn as qnn
from brevitas.export import export_qonnx
from brevitas.quant import Int8ActPerTensorFloat
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.core.onnx_exec import execute_onnx
from qonnx.custom_op.registry import getCustomOp
from qonnx.util.cleanup import cleanup_model

from hyq.integer.layernorm import layernorm
from hyq.nn.layernorm import IntLayerNorm
from tests.integer.test_layernorm import edge_rows


class NormNet(torch.nn.Module):
    """Quantized tokens -> IntLayerNorm (with affine) -> float output."""

    def __init__(self, c, bit_width=8, scaling_init=5.0):
        super().__init__()
        self.quant = qnn.QuantIdentity(act_quant=Int8ActPerTensorFloat, scaling_impl_type="const",
                                       scaling_init=scaling_init, bit_width=bit_width, return_quant_tensor=True)
        self.norm = IntLayerNorm(c)
        with torch.no_grad():
            self.norm.weight.copy_(torch.linspace(-2, 2, c))
            self.norm.bias.copy_(torch.linspace(1, -1, c))

    def forward(self, x):
        return self.norm(self.quant(x))


@pytest.mark.parametrize("c,bits", [(64, 8), (40, 4)])
def test_qonnx_execution_equals_brevitas_and_reference(c, bits, tmp_path):
    net = NormNet(c, bits).eval()
    scale = float(net.quant(torch.zeros(1)).scale)
    rows = edge_rows(c, bits)
    sample = torch.tensor(rows["random"][None] * scale, dtype=torch.float32)
    path = tmp_path / "ln.onnx"
    export_qonnx(net, args=sample, export_path=str(path), dynamo=False)
    model = cleanup_model(ModelWrapper(str(path)))
    (node,) = model.get_nodes_by_op_type("IntLayerNorm")
    assert getCustomOp(node).params() == net.norm.params(scale, bits, True)
    iname, oname = model.graph.input[0].name, model.graph.output[0].name
    for name, ints in rows.items():
        x = torch.tensor(np.resize(ints, rows["random"].shape)[None] * scale, dtype=torch.float32)
        got = execute_onnx(model, {iname: x.numpy()})[oname]
        with torch.no_grad():
            want = net(x).numpy()
        assert np.allclose(got, want, atol=1e-6), name
        # the node's own output is the reference's integers
        z = execute_onnx(model, {iname: x.numpy()}, return_full_exec_context=True)[node.output[0]]
        ref = layernorm(np.rint(x.numpy() / scale).astype(np.int64), scale, in_bits=bits)
        assert np.array_equal(np.rint(z * 2.0 ** getCustomOp(node).params().out_frac).astype(np.int64), ref), name
