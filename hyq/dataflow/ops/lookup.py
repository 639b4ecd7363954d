"""Table activations as a FINN hardware layer: ``HyqLookup`` and ``HyqLookup_rtl``.

``InferTableLookup`` turns a ``TableActivation`` node that reads integers (its input scale
absorbed, :class:`AbsorbScaleIntoTable`) into ``HyqLookup`` -> ``Mul(s_out)``: the layer
streams the output codes, the Mul restores the node's float output (streamlining then
moves it into the thresholds that follow).

Why not finn-plus' ``Lookup``: it is an embedding lookup (Gather: one index per beat
yields a whole embedding vector), HLS-only, without PE lanes over channels; a pointwise
table wants one small ROM per lane, which this layer is (``hw/rtl/hyq_lookup.v``).

- Python execution: :func:`hyq.integer.table.lookup` on the recorded table.
- Memory: block RAM when the table holds more than ``BRAM_BITS`` bits (``ram_style``
  "auto"), else a ROM in LUTs; ``ram_style`` "block"/"distributed" force one.
- Cycles: one beat (PE elements) per cycle. LUT/BRAM: :func:`lookup_luts`, counted from the
  table as Yosys maps it (checked in tests/dataflow/test_lookup_layer.py).
"""

from __future__ import annotations

import math

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
from hyq.dataflow.transforms import AbsorbScaleIntoAttribute  # noqa: E402
from hyq.integer.table import lookup  # noqa: E402

#: tables larger than this many bits go to block RAM under ram_style "auto"
BRAM_BITS = 4096


def lookup_luts(table: np.ndarray, in_bits: int, out_bits: int, pe: int) -> int:
    """LUTs of hyq_lookup as a ROM in LUTs, counted from the table as Yosys/ABC maps it.

    Per lane, the table splits into 64-entry slices (one LUT6's inputs; MUXF7/F8 join the
    slices for free). In a slice, every output bit that is neither constant nor a copy of
    an address bit needs one LUT; output bits equal over the whole table share theirs; a bit
    whose slices are partly constant needs one more LUT to join them. One more
    LUT drives the handshake.
    """
    t = np.asarray(table, dtype=np.int64) & ((1 << out_bits) - 1)
    chunk = min(64, 1 << in_bits)
    columns = {tuple((t >> b) & 1) for b in range(out_bits)}  # equal output bits share their LUTs
    addr = {tuple((np.arange(chunk) >> a) & 1) for a in range(int(math.log2(chunk)))}
    per_lane = 0
    for col in columns:
        used = [int(sl.min() != sl.max() and tuple(sl) not in addr) for sl in np.asarray(col).reshape(-1, chunk)]
        # slices that are all LUTs join through MUXF7/F8; a mix with constant slices needs a LUT
        per_lane += sum(used) + int(0 < sum(used) < len(used))
    return pe * per_lane + 1


class HyqLookup(LastAxisFolded, HWCustomOp):
    """``table[code - min code]`` elementwise over a tensor whose last axis is streamed, PE per beat."""

    def get_nodeattr_types(self):
        attrs = {
            "table": ("ints", True, []),
            "input_data_type": ("s", True, ""),
            "output_data_type": ("s", True, ""),
            "ifm_dim": ("ints", True, []),
            "PE": ("i", False, 1),
            "ram_style": ("s", False, "auto", {"auto", "block", "distributed"}),
        }
        attrs.update(super().get_nodeattr_types())
        return attrs

    def get_output_datatype(self, ind=0):
        return DataType[self.get_nodeattr("output_data_type")]

    def verify_node(self):
        info = []
        dt = self.get_input_datatype()
        if len(self.get_nodeattr("table")) != 2 ** dt.bitwidth():
            info.append(f"HyqLookup: table needs {2 ** dt.bitwidth()} entries for {dt.name}")
        return info

    def table(self) -> np.ndarray:
        return np.asarray(self.get_nodeattr("table"), dtype=np.int64)

    def execute_node(self, context, graph):
        node = self.onnx_node
        x = np.asarray(context[node.input[0]]).reshape(self.get_normal_input_shape())
        y = lookup(np.rint(x).astype(np.int64), self.table(), int(self.get_input_datatype().min()))
        context[node.output[0]] = y.astype(np.float32)

    def get_exp_cycles(self):
        return self.get_number_output_values()

    def use_bram(self) -> bool:
        style = self.get_nodeattr("ram_style")
        bits = len(self.get_nodeattr("table")) * self.get_output_datatype().bitwidth()
        return style == "block" or (style == "auto" and bits > BRAM_BITS)

    def lut_estimation(self, fpgapart=None):
        if self.use_bram():  # handshake, and per lane the BRAM's enable/address glue (Yosys: 4 at PE=2)
            return 1 + self.get_nodeattr("PE")
        return lookup_luts(self.table(), self.get_input_datatype().bitwidth(),
                           self.get_output_datatype().bitwidth(), self.get_nodeattr("PE"))

    def bram_estimation(self, fpgapart=None):
        if not self.use_bram():
            return 0
        bits = len(self.get_nodeattr("table")) * self.get_output_datatype().bitwidth()
        return self.get_nodeattr("PE") * math.ceil(bits / (18 * 1024))

    def bram_efficiency_estimation(self, fpgapart=None):
        b = self.bram_estimation()
        return 1.0 if b == 0 else self.get_nodeattr("PE") * len(self.get_nodeattr("table")) * \
            self.get_output_datatype().bitwidth() / (b * 18 * 1024)

    def get_op_and_param_counts(self):
        return {"op_table_lookup": int(np.prod(self.get_normal_input_shape())),
                "param_table_bits": len(self.get_nodeattr("table")) * self.get_output_datatype().bitwidth()}


class HyqLookup_rtl(HyqRTLBackend, HyqLookup):  # noqa: N801 - FINN's naming
    """HyqLookup implemented by hw/rtl/hyq_lookup.v."""

    CORES = ("hyq_lookup.v",)
    bram_estimation = HyqLookup.bram_estimation
    bram_efficiency_estimation = HyqLookup.bram_efficiency_estimation

    def verilog_params(self) -> dict:
        dt, odt = self.get_input_datatype(), self.get_output_datatype()
        ob = odt.bitwidth()
        packed = 0
        for i, v in enumerate(self.table()):
            packed |= (int(v) & ((1 << ob) - 1)) << (i * ob)
        width = len(self.table()) * ob
        return {"PE": self.get_nodeattr("PE"), "IN_BITS": dt.bitwidth(), "IN_SIGNED": int(dt.signed()),
                "OUT_BITS": ob, "USE_BRAM": int(self.use_bram()), "TABLE": f"{width}'h{packed:0{(width + 3) // 4}x}"}

    def wrapper_body(self) -> str:
        return self.axis_core("hyq_lookup", self.verilog_params(), self.get_instream_width(),
                              self.get_outstream_width())


class AbsorbScaleIntoTable(AbsorbScaleIntoAttribute):
    """``Mul(x, s_in) -> TableActivation(in_scale=s_in)`` -> ``TableActivation(in_scale=1)`` on x."""

    op_type = "TableActivation"
    attr = "in_scale"


class InferTableLookup(Transformation):
    """``TableActivation`` on integer codes (input scale 1, zero points 0) -> ``HyqLookup`` -> ``Mul(s_out)``."""

    def apply(self, model: ModelWrapper):
        for node in model.graph.node:
            if node.op_type != "TableActivation":
                continue
            inst = getCustomOp(node)
            s = inst.spec()
            dt = model.get_tensor_datatype(node.input[0])
            in_dt = DataType[f"{'INT' if s.in_signed else 'UINT'}{s.in_bits}"]
            if (float(inst.get_nodeattr("in_scale")) != 1.0 or s.in_zero or s.out_zero or s.in_narrow
                    or not dt.is_integer() or dt.min() < in_dt.min() or dt.max() > in_dt.max()):
                continue
            out_dt = DataType[f"{'INT' if s.out_signed else 'UINT'}{s.out_bits}"]
            shape = model.get_tensor_shape(node.input[0])
            codes, scale = model.make_new_valueinfo_name(), model.make_new_valueinfo_name()
            hw = helper.make_node("HyqLookup", [node.input[0]], [codes], domain="finn.custom_op.fpgadataflow",
                                  backend="fpgadataflow", name=f"HyqLookup_{node.name}",
                                  table=list(inst.get_nodeattr("table")), input_data_type=in_dt.name,
                                  output_data_type=out_dt.name, ifm_dim=list(shape), PE=1)
            mul = helper.make_node("Mul", [codes, scale], [node.output[0]], name=f"Mul_{node.name}")
            model.set_initializer(scale, np.asarray(s.out_scale, dtype=np.float32))
            idx = list(model.graph.node).index(node)
            model.graph.node.remove(node)
            model.graph.node.insert(idx, mul)
            model.graph.node.insert(idx, hw)
            model.set_tensor_shape(codes, shape)
            model.set_tensor_datatype(codes, out_dt)
            return model, True
        return model, False


class MoveTransposePastLookup(Transformation):
    """``Transpose -> HyqLookup`` -> ``HyqLookup -> Transpose``: a pointwise table commutes
    with any permutation, and moving the layout change behind it lets streamlining absorb it
    into the thresholds that follow (a lowered 1x1 conv leaves NHWC -> NCHW in front of the
    SiLU of its output)."""

    def apply(self, model: ModelWrapper):
        for node in model.graph.node:
            if node.op_type != "HyqLookup":
                continue
            tr = model.find_producer(node.input[0])
            if tr is None or tr.op_type != "Transpose" or len(model.find_consumers(tr.output[0])) != 1:
                continue
            src, mid, out = tr.input[0], tr.output[0], node.output[0]
            shape = model.get_tensor_shape(src)
            getCustomOp(node).set_nodeattr("ifm_dim", list(shape))
            node.input[0], node.output[0] = src, mid
            tr.input[0], tr.output[0] = mid, out
            model.set_tensor_shape(mid, shape)
            model.set_tensor_datatype(mid, getCustomOp(node).get_output_datatype())
            idx = list(model.graph.node).index(tr)
            model.graph.node.remove(node)
            model.graph.node.insert(idx, node)
            return model, True
        return model, False


declare(HyqLookup, HyqLookup_rtl)

__all__ = ["AbsorbScaleIntoTable", "BRAM_BITS", "HyqLookup", "HyqLookup_rtl", "InferTableLookup", "MoveTransposePastLookup",
           "lookup_luts"]
