"""IntSoftmax exported to QONNX: a hyq.export.ops node with its constants, executed by
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

from hyq.integer import METHODS, OUT_FORMATS, decode_log2, softmax
from hyq.nn.softmax import IntSoftmax


class SoftmaxNet(torch.nn.Module):
    """Quantized input -> IntSoftmax -> plain tensor (value), as an attention score path."""

    def __init__(self, scaling_init=6.0, bit_width=8, **kwargs):
        super().__init__()
        self.quant = qnn.QuantIdentity(act_quant=Int8ActPerTensorFloat, scaling_impl_type="const",
                                       scaling_init=scaling_init, bit_width=bit_width, return_quant_tensor=True)
        self.softmax = IntSoftmax(**kwargs)

    def forward(self, x):
        return self.softmax(self.quant(x)).value


def export_and_load(net, x, tmp_path):
    path = tmp_path / "softmax.onnx"
    export_qonnx(net, args=x, export_path=str(path), dynamo=False)
    return cleanup_model(ModelWrapper(str(path)))


def run(model, x):
    name_in, name_out = model.graph.input[0].name, model.graph.output[0].name
    return execute_onnx(model, {name_in: x.numpy()})[name_out]


def inputs(scale, n):
    rng = np.random.default_rng(n)
    ints = [rng.integers(-127, 128, (2, 3, n)), np.full((2, 3, n), 7), np.full((2, 3, n), -127),
            np.concatenate([np.full((2, 3, n - 1), -127), np.full((2, 3, 1), 127)], -1)]
    return [torch.tensor(i * scale, dtype=torch.float32) for i in ints]


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("out_format", OUT_FORMATS)
@pytest.mark.parametrize("n", (197, 256))
def test_qonnx_execution_equals_brevitas_and_reference(method, out_format, n, tmp_path):
    net = SoftmaxNet(method=method, out_format=out_format).eval()
    scale = float(net.quant(torch.zeros(1)).scale)
    model = export_and_load(net, inputs(scale, n)[0], tmp_path)
    for x in inputs(scale, n):
        got = run(model, x)
        brevitas = net(x).detach().numpy()
        assert np.array_equal(got, brevitas)
        ref = softmax(np.rint(x.numpy() / scale).astype(np.int64), scale, method, out_format=out_format)
        lin = ref if out_format == "uint" else decode_log2(ref, 4)
        params = net.softmax.params(scale, 8)
        assert np.array_equal(np.rint(got / params.out_scale).astype(np.int64), lin)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("out_format", OUT_FORMATS)
def test_coarse_scale_qonnx_equals_brevitas_and_reference(method, out_format, tmp_path):
    """A 4-bit score scale of 10.64 (too coarse for the exp constants): the input shift is a
    node attribute, and QONNX execution, Brevitas and the reference agree bit for bit."""
    net = SoftmaxNet(scaling_init=10.64 * 7, bit_width=4, method=method, out_format=out_format).eval()
    scale = float(net.quant(torch.zeros(1)).scale)
    ints = np.random.default_rng(4).integers(-7, 8, (2, 3, 16))
    x = torch.tensor(ints * scale, dtype=torch.float32)
    model = export_and_load(net, x, tmp_path)
    params = net.softmax.params(scale, 4)
    assert params.in_shift == (0 if method == "shiftmax" else 7)
    (node,) = [n for n in model.graph.node if n.op_type == "IntSoftmax"]
    assert getCustomOp(node).params() == params
    got = run(model, x)
    assert np.array_equal(got, net(x).detach().numpy())
    ref = softmax(ints, scale, method, out_format=out_format, in_bits=4)
    lin = ref if out_format == "uint" else decode_log2(ref, 4)
    assert np.array_equal(np.rint(got / params.out_scale).astype(np.int64), lin)


@pytest.mark.parametrize("method", METHODS)
def test_node_carries_the_reference_constants(method, tmp_path):
    net = SoftmaxNet(method=method, out_bits=6).eval()
    scale = float(net.quant(torch.zeros(1)).scale)
    model = export_and_load(net, inputs(scale, 8)[0], tmp_path)
    nodes = [n for n in model.graph.node if n.op_type == "IntSoftmax"]
    assert len(nodes) == 1 and nodes[0].domain == "hyq.export.ops"
    assert getCustomOp(nodes[0]).params() == net.softmax.params(scale, 8)
    after = model.find_consumer(nodes[0].output[0])
    assert after.op_type == "Quant"
    assert model.get_initializer(after.input[1]) == 2.0**-6
    assert model.get_initializer(after.input[3]) == 6
    assert getCustomOp(after).get_nodeattr("signed") == 0


def test_downstream_quantizer_composes(tmp_path):
    """A Brevitas quantizer after IntSoftmax exports and runs (Quant -> IntSoftmax -> Quant -> Quant)."""

    class Net(SoftmaxNet):
        def __init__(self):
            super().__init__(method="linmax", out_bits=8)
            self.post = qnn.QuantIdentity(act_quant=Int8ActPerTensorFloat, scaling_impl_type="const",
                                          scaling_init=1.0, return_quant_tensor=True)

        def forward(self, x):
            return self.post(self.softmax(self.quant(x))).value

    net = Net().eval()
    x = torch.randn(2, 4, 64) * 3
    model = export_and_load(net, x, tmp_path)
    assert [n.op_type for n in model.graph.node] == ["Quant", "IntSoftmax", "Quant", "Quant"]
    assert np.array_equal(run(model, x), net(x).detach().numpy())
