"""Tensors to stream beats and back, as FINN packs a HW layer's folded streams."""

from __future__ import annotations

import numpy as np


def pack(value: np.ndarray, inst, idx: int, bits: int) -> list[int]:
    """Beats of input ``idx`` of a HW layer for one sample, packed as FINN packs streams."""
    from finn.util.data_packing import npy_to_rtlsim_input

    folded = np.asarray(value).reshape(inst.get_folded_input_shape(idx))
    return [int(x, 16) if isinstance(x, str) else int(x)
            for x in npy_to_rtlsim_input(folded, inst.get_input_datatype(idx), bits)]


def unpack(beats: list[int], inst, idx: int) -> np.ndarray:
    """Output ``idx`` of a HW layer for one sample from its stream beats."""
    from finn.util.data_packing import rtlsim_output_to_npy

    odt = inst.get_output_datatype(idx)
    shape = inst.get_folded_output_shape(idx)
    out = rtlsim_output_to_npy(beats, None, odt, shape, inst.get_outstream_width(idx), odt.bitwidth())
    out = np.asarray(out, dtype=np.float32)
    if inst.onnx_node.op_type.startswith("ConvolutionInputGenerator") and inst.get_nodeattr("depthwise"):
        # a depthwise SWG streams (.., C/SIMD, K_H*K_W, SIMD), the logical tensor is (.., K_H*K_W, C)
        k = int(np.prod(inst.get_nodeattr("ConvKernelDim")))
        simd = shape[-1]
        out = out.reshape(*shape[:-2], -1, k, simd).swapaxes(-2, -3)
    return out.reshape(inst.get_normal_output_shape(idx))


def beats_per_sample(inst, idx: int, output: bool) -> int:
    shape = inst.get_folded_output_shape(idx) if output else inst.get_folded_input_shape(idx)
    return int(np.prod(shape[:-1]))

