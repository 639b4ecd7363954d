"""HyQ's integer softmax as a FINN hardware layer: ``HyqSoftmax`` and its ``HyqSoftmax_rtl``.

``InferIntSoftmax`` turns an ``IntSoftmax`` node that reads integers (its dequantizing
scale absorbed, see :class:`hyq.dataflow.transforms.AbsorbScaleIntoIntSoftmax`) into
``HyqSoftmax`` -> ``Mul(2^-k)``: the layer streams the k-bit integers the RTL emits, the
Mul restores the node's float output, so graph execution is unchanged. Only the ``uint``
output format is converted; ``log2`` nodes stay ``IntSoftmax`` (outside the dataflow).

- Python execution: :func:`hyq.integer.softmax_with_params` with the node's recorded
  constants (the one integer reference); ``HyqSoftmax_rtl`` in ``rtlsim`` mode runs the
  RTL in Verilator instead (:func:`hyq.tools.softmax.simulate`), no Vivado needed.
- Cycles: rows x :func:`hyq.tools.softmax.cycles_per_row` (measured equal by the tests).
- LUT/DSP/BRAM: :mod:`hyq.costs.softmax_cost`, fitted to Yosys runs of the same RTL.
- Code generation (``_rtl``, :class:`hyq.dataflow.ops.rtl.HyqRTLBackend`): a wrapper
  around ``hw/rtl/hyq_softmax_<method>.v`` whose parameters are the node's constants, plus
  the softmax RTL sources copied next to it.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from onnx import helper
from qonnx.core.datatype import DataType
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.custom_op.registry import getCustomOp
from qonnx.transformation.base import Transformation

from hyq.dataflow.finn_env import finn_steps as _finn_steps

_finn_steps()
from finn.custom_op.fpgadataflow.hwcustomop import HWCustomOp  # noqa: E402

from hyq.dataflow.ops.registry import declare  # noqa: E402
from hyq.dataflow.ops.last_axis import LastAxisFolded  # noqa: E402
from hyq.dataflow.ops.rtl import HyqRTLBackend  # noqa: E402
from hyq.tools import softmax as _eda  # noqa: E402
from hyq.costs import multiplier  # noqa: E402
from hyq.costs import softmax_cost as _cost  # noqa: E402
from hyq.integer import softmax_schema  # noqa: E402
from hyq.integer.softmax import SoftmaxParams, softmax_with_params  # noqa: E402



class HyqSoftmax(LastAxisFolded, HWCustomOp):
    """Integer softmax over the last axis (rows of N), SIMD elements per cycle."""

    def get_nodeattr_types(self):
        attrs = softmax_schema.attribute_types()  # the SoftmaxParams fields
        attrs.update({
            "ifm_dim": ("ints", True, []),
            "SIMD": ("i", False, 1),
            "input_data_type": ("s", True, ""),
        })
        attrs.update(super().get_nodeattr_types())
        return attrs

    # ---- the reference's view ----
    def params(self) -> SoftmaxParams:
        """The node's integer constants; in_bits follows the input datatype (the RTL's lanes)."""
        p = softmax_schema.params(self.get_nodeattr)
        return dataclasses.replace(p, in_bits=max(p.in_bits, self.get_input_datatype().bitwidth()))

    def row_len(self) -> int:
        return int(self.get_normal_input_shape()[-1])

    def n_rows(self) -> int:
        return int(np.prod(self.get_normal_input_shape()[:-1]))

    # ---- shapes and types (the rest: LastAxisFolded) ----
    FOLD_ATTR, LAST_AXIS = "SIMD", "the row length"

    def get_output_datatype(self, ind=0):
        return DataType[f"UINT{self.get_nodeattr('out_bits')}"]

    def verify_node(self):
        info = []
        try:
            p = self.params()
            info.append(f"HyqSoftmax {p.method}/{p.out_format}, {p.out_bits} bits, SIMD {self.get_nodeattr('SIMD')}")
            self.get_folded_input_shape()
        except Exception as exc:  # noqa: BLE001 - verify_node reports, it does not raise
            info.append(f"HyqSoftmax attributes invalid: {exc}")
        return info

    # ---- execution, performance, resources ----
    def execute_node(self, context, graph):
        node = self.onnx_node
        p = self.params()
        x = np.rint(np.asarray(context[node.input[0]], dtype=np.float64) / p.scale).astype(np.int64)
        x = x.reshape(self.get_normal_input_shape())
        context[node.output[0]] = softmax_with_params(x, p).astype(np.float32)

    def get_exp_cycles(self):
        return self.n_rows() * _eda.cycles_per_row(self.row_len(), self.get_nodeattr("SIMD"), self.params())

    def lut_estimation(self, fpgapart=None):
        return _cost.lut_estimate(self.params(), self.row_len(), self.get_nodeattr("SIMD"))

    def dsp_estimation(self, fpgapart=None):
        return _cost.dsp_estimate(self.params(), self.get_nodeattr("SIMD"), multiplier.family(fpgapart))

    def bram_estimation(self, fpgapart=None):
        return _cost.bram_estimate(self.params(), self.row_len(), self.get_nodeattr("SIMD"))

    def bram_efficiency_estimation(self, fpgapart=None):
        bram = self.bram_estimation()
        return 1.0 if bram == 0 else self.row_len() * self.params().in_bits / (bram * 18 * 1024)

    def get_op_and_param_counts(self):
        return {f"op_softmax_{self.get_nodeattr('method')}": self.n_rows() * self.row_len()}


class HyqSoftmax_rtl(HyqRTLBackend, HyqSoftmax):  # noqa: N801 - FINN's naming of specialisations
    """HyqSoftmax implemented by hw/rtl/hyq_softmax_<method>.v."""

    # the generic op's fitted estimates, ahead of HyqRTLBackend's zeros
    bram_estimation = HyqSoftmax.bram_estimation
    bram_efficiency_estimation = HyqSoftmax.bram_efficiency_estimation
    dsp_estimation = HyqSoftmax.dsp_estimation

    def rtl_sources(self):
        return _eda.rtl_sources()

    def verilog_params(self) -> dict[str, int]:
        dt = self.get_input_datatype()
        return _eda.verilog_params(self.params(), self.row_len(), self.get_nodeattr("SIMD"), dt.signed())

    def wrapper_body(self) -> str:
        return self.axis_core(f"hyq_softmax_{self.params().method}", self.verilog_params(),
                              self.get_instream_width(), self.get_outstream_width())

    def execute_rtlsim(self, context, graph):
        """The RTL in Verilator (:func:`hyq.tools.softmax.simulate`), no Vivado needed."""
        node = self.onnx_node
        p = self.params()
        x = np.rint(np.asarray(context[node.input[0]], dtype=np.float64) / p.scale).astype(np.int64)
        x = x.reshape(self.get_normal_input_shape())
        y, _ = _eda.simulate(x, p, pe=self.get_nodeattr("SIMD"), in_signed=self.get_input_datatype().signed())
        context[node.output[0]] = y.astype(np.float32)


class InferIntSoftmax(Transformation):
    """``IntSoftmax`` on integers (input_scale 1, last axis, uint) -> ``HyqSoftmax`` -> ``Mul(2^-k)``."""

    def apply(self, model: ModelWrapper):
        for node in model.graph.node:
            if node.op_type != "IntSoftmax":
                continue
            inst = getCustomOp(node)
            dt = model.get_tensor_datatype(node.input[0])
            shape = model.get_tensor_shape(node.input[0])
            axis = inst.get_nodeattr("axis")
            if (inst.get_nodeattr("out_format") != "uint" or not dt.is_integer()
                    or float(inst.get_nodeattr("input_scale")) != 1.0 or axis not in (-1, len(shape) - 1)):
                continue
            codes = model.make_new_valueinfo_name()
            scale = model.make_new_valueinfo_name()
            attrs = softmax_schema.attributes(inst.params())  # uint output, input_scale 1.0 (checked)
            hw = helper.make_node(
                "HyqSoftmax", [node.input[0]], [codes], domain="finn.custom_op.fpgadataflow",
                backend="fpgadataflow", name=f"HyqSoftmax_{node.name}",
                ifm_dim=list(shape), SIMD=1, input_data_type=dt.name, **attrs)
            mul = helper.make_node("Mul", [codes, scale], [node.output[0]], name=f"Mul_{node.name}")
            model.set_initializer(scale, np.asarray(2.0 ** -attrs["out_bits"], dtype=np.float32))
            idx = list(model.graph.node).index(node)
            model.graph.node.remove(node)
            model.graph.node.insert(idx, mul)
            model.graph.node.insert(idx, hw)
            model.set_tensor_shape(codes, shape)
            model.set_tensor_datatype(codes, DataType[f"UINT{attrs['out_bits']}"])
            return model, True
        return model, False


declare(HyqSoftmax, HyqSoftmax_rtl)

__all__ = ["HyqSoftmax", "HyqSoftmax_rtl", "InferIntSoftmax"]
