"""The Python reference: FINN's Python execution of the HW graph (each specialised layer run
through its generic op), every intermediate tensor of it, reached through the host nodes of
the dataflow parent graph; and which trailing float nodes stay on the host.
"""

from __future__ import annotations

import copy

import numpy as np
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.custom_op.registry import getCustomOp

HW_DOMAIN = "finn.custom_op.fpgadataflow"


#: layers that only move data: identities in Python execution
PASS_THROUGH = ("StreamingFIFO", "StreamingDataWidthConverter")


def _passes(node) -> bool:
    return node.op_type.startswith(PASS_THROUGH)


def generic_model(model: ModelWrapper) -> ModelWrapper:
    """A copy whose ``_rtl``/``_hls`` nodes are FINN's generic HW ops (Python execution).

    Layers read past FIFOs and width converters (still executed, as identities, so their
    tensors exist): FINN's Python execution of some layers looks at the producer (a VVAU
    after a sliding window reorders its input) and must see the one it had before FINN
    inserted FIFOs.
    """
    m = copy.deepcopy(model)
    source = {n.output[0]: n.input[0] for n in m.graph.node if _passes(n)}
    for n in m.graph.node:
        if not _passes(n):
            for i, t in enumerate(n.input):
                while t in source:
                    t = source[t]
                n.input[i] = t
        if n.domain.startswith(HW_DOMAIN) and n.op_type.rsplit("_", 1)[-1] in ("rtl", "hls"):
            n.op_type = n.op_type.rsplit("_", 1)[0]
            n.domain = HW_DOMAIN
    return m


def upstream(model: ModelWrapper, tensor: str):
    """The layer producing ``tensor``, looking through FIFOs and width converters."""
    node = model.find_producer(tensor)
    while node is not None and _passes(node):
        node = model.find_producer(node.input[0])
    return node


def stream_order(model: ModelWrapper | None, node, idx: int, value: np.ndarray) -> np.ndarray:
    """Input ``idx`` of ``node`` as its RTL receives it, from FINN's Python tensor.

    A depthwise sliding window streams (.., C/PE, K*K, PE); FINN's Python execution keeps
    its output as (.., K*K, C) and the VVAU after it reorders internally. Every other
    stream carries the Python tensor's order.
    """
    from hyq.dataflow.ops.registry import family

    if model is None:  # a layer outside any graph: nothing upstream reorders its input
        return value
    src = upstream(model, node.input[idx])
    if family(node.op_type) != "VVAU" or idx != 0 or src is None \
            or family(src.op_type) != "ConvolutionInputGenerator":
        return value
    inst = getCustomOp(node)
    k = int(np.prod(inst.get_nodeattr("Kernel")))
    c, pe = inst.get_nodeattr("Channels"), inst.get_nodeattr("PE")
    v = np.asarray(value)
    return v.reshape(*v.shape[:-1], k, c // pe, pe).swapaxes(-3, -2).reshape(v.shape)


def python_exec(model: ModelWrapper, x: np.ndarray) -> dict[str, np.ndarray]:
    """Every tensor of FINN's Python execution of the HW graph on one sample."""
    from qonnx.core.onnx_exec import execute_onnx

    return execute_onnx(generic_model(model), {model.graph.input[0].name: x}, return_full_exec_context=True)


def host_tail(model: ModelWrapper) -> list:
    """Trailing nodes left to the host: float-output layers without RTL (e.g. the classifier's
    per-channel float scale, ElementwiseMul_hls) and the FIFOs/DWCs carrying their results.

    A float multiply at the very end is one multiply per class on the host CPU and has no
    integer RTL equivalent; keeping it there lets the integer accelerator before it be
    simulated, and its Python execution finishes each simulated output.
    """
    tail = []
    for n in reversed(model.graph.node):
        if len(n.output) != 1 or (tail and tail[-1].input[0] != n.output[0]) \
                or (not tail and n.output[0] != model.graph.output[0].name):
            break
        dt = getCustomOp(n).get_output_datatype(0)
        if dt.is_integer() or (n.op_type.endswith("_rtl") and not n.op_type.startswith(("StreamingFIFO", "StreamingDataWidthConverter"))):
            break
        tail.append(n)
    tail.reverse()
    return tail


def parent_run(parent: ModelWrapper, x: np.ndarray, accel) -> np.ndarray:
    """Execute the parent graph on ``x`` with the dataflow partition replaced by ``accel``."""
    from qonnx.core.onnx_exec import execute_node
    from qonnx.util.basic import get_preferred_qonnx_opset

    ctx = parent.make_empty_exec_context()
    ctx[parent.graph.input[0].name] = x
    opsets = parent.get_opset_imports()
    for n in parent.graph.node:
        if n.op_type == "StreamingDataflowPartition":
            outs = accel([ctx[i] for i in n.input])
            for name, v in zip(n.output, outs):
                ctx[name] = v
        else:
            execute_node(n, ctx, parent.graph, opsets.get(n.domain, get_preferred_qonnx_opset()))
    return ctx[parent.graph.output[0].name]


def reference_contexts(model: ModelWrapper, parent: ModelWrapper, xs: np.ndarray) -> list[dict]:
    """Per network input (batch first), every tensor of FINN's Python execution of the HW graph
    ``model``, reached through the host nodes of ``parent``."""
    ctxs: list[dict] = []
    for x in xs:
        parent_run(parent, x[None], lambda ins: _capture(model, ins, ctxs))
    return ctxs


def _capture(model: ModelWrapper, ins: list[np.ndarray], ctxs: list[dict]) -> list[np.ndarray]:
    """Partition stand-in for the Python reference: run the HW graph, keep all its tensors."""
    ctx = python_exec(model, ins[0])
    ctxs.append(ctx)
    return [ctx[o.name] for o in model.graph.output]

