"""Memory choices that respect the part: no UltraRAM on a part that has none.

finn-plus chooses URAM in three places without looking at the part's resources:

- ``Thresholding_rtl`` with both depth triggers 0 (the default) estimates with every
  primitive, URAM included, and its deep tables (a wide channel count times 2^bits) land in
  URAM;
- ``StreamingFIFO`` with ``ram_style`` "auto" resolves a FIFO deeper than
  ``URAM_DEPTH_THRESHOLD`` to "ultra";
- MVAU/VVAU/ConvolutionInputGenerator with ``ram_style`` "ultra" (from a folding file).

On a part whose capacity lists 0 URAM (Zynq-7000, xczu3eg, xczu9eg, ...), :class:`AvoidURAM`
moves each of these to block RAM: thresholds get a BRAM depth trigger at the shallowest
table that would have gone to URAM and a URAM trigger no table reaches (the RTL reads the
same two parameters, so the generated threshold memory is what the estimate counts), FIFOs
and weight memories get ``ram_style`` "block". A part with URAM, or one whose capacity is
unknown, is left as FINN chose.
"""

from __future__ import annotations

from qonnx.custom_op.registry import getCustomOp
from qonnx.transformation.base import Transformation

from hyq.dataflow import parts

#: a URAM depth trigger no threshold table reaches (the RTL's parameter is an int unsigned)
NEVER = 2**31 - 1


def has_uram(part: str) -> bool:
    """True unless the part's capacity is known and lists no URAM."""
    cap = parts.capacity(part)
    return cap is None or cap.get("URAM", 0) > 0


def _threshold_uram_depth(inst) -> int | None:
    """The shallowest table depth FINN's estimate puts in URAM, None if it uses none."""
    from finn.util.memutil import get_memutil_alternatives, mem_primitives_versal

    depths = [depth for width, depth in inst.get_pe_mem_geometries()
              if get_memutil_alternatives((width, depth), mem_primitives_versal)[0][0].startswith("URAM")]
    return int(min(depths)) if depths else None


class AvoidURAM(Transformation):
    """Move every URAM choice to block RAM on a part without URAM (see the module doc)."""

    def __init__(self, part: str):
        super().__init__()
        self.part = part

    def apply(self, model):
        if has_uram(self.part):
            return model, False
        for node in model.graph.node:
            if not node.domain.startswith("finn.custom_op.fpgadataflow"):
                continue
            inst = getCustomOp(node)
            if node.op_type.startswith("Thresholding") and hasattr(inst, "get_pe_mem_geometries"):
                if inst.get_nodeattr("depth_trigger_uram") == 0 and inst.get_nodeattr("depth_trigger_bram") == 0:
                    depth = _threshold_uram_depth(inst)
                    if depth is not None:
                        inst.set_nodeattr("depth_trigger_bram", depth)
                        inst.set_nodeattr("depth_trigger_uram", NEVER)
                elif inst.get_nodeattr("depth_trigger_uram") != 0:
                    if inst.get_nodeattr("depth_trigger_bram") == 0:
                        inst.set_nodeattr("depth_trigger_bram", inst.get_nodeattr("depth_trigger_uram"))
                    inst.set_nodeattr("depth_trigger_uram", NEVER)
                continue
            try:
                style = inst.get_nodeattr("ram_style")
            except AttributeError:
                continue
            if style == "ultra" or (hasattr(inst, "resolve_ram_style") and inst.resolve_ram_style() == "ultra"):
                inst.set_nodeattr("ram_style", "block")
        return model, False


def dynload_layer(layer: dict, node) -> dict:
    """``layer`` (a report row of LUT/BRAM_18K/URAM/DSP) with FINN's weight-memory estimate of a
    ``mem_mode="dynamic"`` MVAU replaced by what its RTL builds.

    finn-plus' ``MVAU.uram_estimation``/``bram_estimation`` treat a dynamic MVAU's matrix like
    stored weights (URAM/BRAM), but the streamed matrix lands in ``dynamic_load.sv``'s double
    buffer, 2 banks x SIMD RAMs of ``2**clog2(MW/SIMD * MH/PE)`` x PE*W bits, which the
    wrapper instantiates with its default ``RAM_STYLE = "distributed"``: LUTRAM
    (:func:`hyq.costs.memory.lutram`), no BRAM, no URAM. Other layers are returned unchanged.
    """
    if not node.op_type.startswith("MVAU"):
        return layer
    from hyq.costs.memory import lutram

    inst = getCustomOp(node)
    if inst.get_nodeattr("mem_mode") != "dynamic":
        return layer
    pe, simd = inst.get_nodeattr("PE"), inst.get_nodeattr("SIMD")
    tiles = (inst.get_nodeattr("MW") // simd) * (inst.get_nodeattr("MH") // pe)
    depth = 2 ** max(1, (tiles - 1).bit_length())
    width = pe * inst.get_input_datatype(1).bitwidth()
    return {**layer, "BRAM_18K": 0.0, "URAM": 0.0, "LUT": float(layer["LUT"]) + 2 * simd * lutram(depth, width)}
