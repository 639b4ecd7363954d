"""Static storage of a built dataflow graph: every stored parameter at its hardware width.

Classes of parameters:
- weights: the weight matrix of MVAU / VVAU layers, at the layer's ``weightDataType``;
- thresholds: threshold tables (standalone Thresholding layers, or MVAU/VVAU with
  embedded thresholds), at the annotated width of the table after bit-width minimisation;
- requant: the per-channel multiplier M, bias B (and tie remainder W) of requantization layers (HyqRequant),
  each at its annotated width (the shift is a constant of the circuit, not stored);
- other: every other constant a HW layer stores (e.g. the per-channel scale of an
  ElementwiseMul, FLOAT32 = 32 bits).

``fp32_params`` counts the float model's parameters in the exported QONNX graph: all
float initializers except quantizer scale / zero-point / bit-width inputs.
"""

from __future__ import annotations

import numpy as np
from qonnx.core.datatype import DataType
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.custom_op.registry import getCustomOp

_MATRIX_OPS = ("MVAU", "VVAU")


def storage_bits(model: ModelWrapper) -> dict[str, int]:
    """Bits of weights, thresholds, requantization parameters and other constants over the HW
    layers of ``model``."""
    from hyq.dataflow.ops import register
    from hyq.dataflow.ops.registry import family

    register()  # hyq's RTL stand-ins (HyqVVAU_rtl is a VVAU)

    bits = {"weight_bits": 0, "threshold_bits": 0, "requant_bits": 0, "other_bits": 0, "weight_count": 0}
    for node in model.graph.node:
        base = family(node.op_type)
        for idx, name in enumerate(node.input):
            init = model.get_initializer(name)
            if init is None:
                continue
            count = int(np.prod(init.shape))
            if base in _MATRIX_OPS and idx == 1:
                width = getCustomOp(node).get_nodeattr("weightDataType")
                bits["weight_bits"] += count * DataType[width].bitwidth()
                bits["weight_count"] += count
            elif (base in _MATRIX_OPS and idx == 2) or (base == "Thresholding" and idx == 1):
                bits["threshold_bits"] += count * model.get_tensor_datatype(name).bitwidth()
            elif base == "HyqRequant" and idx in (1, 2, 3):  # M, B and the tie remainders W
                bits["requant_bits"] += count * model.get_tensor_datatype(name).bitwidth()
            else:
                bits["other_bits"] += count * model.get_tensor_datatype(name).bitwidth()
    return bits


def fp32_params(qonnx_model: ModelWrapper) -> tuple[int, int]:
    """(all float parameters, weight parameters) of an exported QONNX model.

    Weights are the float tensors quantized by a Quant node feeding a Conv/MatMul/Gemm.
    """
    skip = set()
    weights = 0
    consumers_of = {}
    for node in qonnx_model.graph.node:
        for i in node.input:
            consumers_of.setdefault(i, []).append(node)
    for node in qonnx_model.graph.node:
        if node.op_type in ("Quant", "BipolarQuant", "Trunc"):
            skip.update(node.input[1:])
            init = qonnx_model.get_initializer(node.input[0])
            if init is not None and any(
                c.op_type in ("Conv", "MatMul", "Gemm") for c in consumers_of.get(node.output[0], [])
            ):
                weights += int(np.prod(init.shape))
        if node.op_type in ("Reshape", "Resize", "Slice", "Expand", "Tile", "Pad"):
            skip.update(node.input[1:])
    total = 0
    for init in qonnx_model.graph.initializer:
        if init.name in skip or init.data_type not in (1, 10, 11):  # float, float16, double
            continue
        n = int(np.prod(init.dims)) if len(init.dims) else 1
        if n > 1 or any(c.op_type in ("Conv", "MatMul", "Gemm") for c in consumers_of.get(init.name, [])):
            total += n
    return total, weights


def static_storage(hw_model: ModelWrapper, qonnx_model: ModelWrapper) -> dict[str, float]:
    """The report's ``static_storage`` section."""
    b = storage_bits(hw_model)
    total_bits = b["weight_bits"] + b["threshold_bits"] + b["requant_bits"] + b["other_bits"]
    fp32_count, fp32_weights = fp32_params(qonnx_model)
    fp32_bytes = fp32_count * 4
    return {
        "weight_bits": b["weight_bits"],
        "threshold_bits": b["threshold_bits"],
        "requant_bits": b["requant_bits"],
        "other_bits": b["other_bits"],
        "total_bits": total_bits,
        "bytes": total_bits / 8,
        "fp32_bytes": fp32_bytes,
        "ratio_vs_fp32": (total_bits / 8) / fp32_bytes if fp32_bytes else None,
        "weight_count": b["weight_count"],
        "weight_ratio_vs_fp32": b["weight_bits"] / (32 * fp32_weights) if fp32_weights else None,
    }
