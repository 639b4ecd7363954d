"""Memory choices respect the part: FINN's URAM choices move to block RAM where there is none."""

import pytest
from onnx import TensorProto, helper
from qonnx.core.datatype import DataType
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.custom_op.registry import getCustomOp

from hyq.dataflow.finn_env import finn_steps
from hyq.dataflow.part_memory import AvoidURAM, has_uram

finn_steps()


def _model(channels=128):
    """MobileViT-XXS's Thresholding_rtl_37 (128 channels, INT18 thresholds) and a 4096-deep FIFO."""
    import finn.custom_op.fpgadataflow.rtl  # noqa: F401 - registers Thresholding_rtl

    thr = helper.make_node("Thresholding_rtl", ["x", "t"], ["y"], name="Thresholding_rtl_0",
                           domain="finn.custom_op.fpgadataflow.rtl", backend="fpgadataflow",
                           NumChannels=channels, PE=1, numSteps=255, inputDataType="INT21",
                           weightDataType="INT18", outputDataType="UINT8", numInputVectors=[1, 1, 1], ActVal=0)
    fifo = helper.make_node("StreamingFIFO_rtl", ["y"], ["z"], name="StreamingFIFO_rtl_0",
                            domain="finn.custom_op.fpgadataflow.rtl", backend="fpgadataflow",
                            depth=4096, folded_shape=[1, channels, 1], normal_shape=[1, channels], dataType="UINT8")
    g = helper.make_graph([thr, fifo], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, channels])],
                          [helper.make_tensor_value_info("z", TensorProto.FLOAT, [1, channels])],
                          value_info=[helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, channels])])
    m = ModelWrapper(helper.make_model(g))
    m.set_initializer("t", __import__("numpy").zeros((channels, 255), dtype="float32"))
    m.set_tensor_datatype("x", DataType["INT21"])
    m.set_tensor_datatype("t", DataType["INT18"])
    return m


def _uram(m, part):
    return sum(getCustomOp(n).uram_estimation(part) for n in m.graph.node)


def _bram(m, part):
    return sum(getCustomOp(n).bram_estimation(part) for n in m.graph.node)


def test_no_uram_on_a_part_without_uram():
    part = "xczu9eg-ffvb1156-2-e"  # Zynq UltraScale+ EG: BRAM only (parts.json: URAM 0)
    assert not has_uram(part)
    m = _model()
    assert _uram(m, part) > 0  # what FINN chooses by itself
    bram_before = _bram(m, part)
    m = m.transform(AvoidURAM(part))
    assert _uram(m, part) == 0
    assert _bram(m, part) > bram_before  # the storage is still counted, now as BRAM
    thr, fifo = (getCustomOp(n) for n in m.graph.node)
    assert thr.get_nodeattr("depth_trigger_uram") > max(d for _, d in thr.get_pe_mem_geometries())
    assert fifo.resolve_ram_style() == "block"


@pytest.mark.parametrize("part", ["xck26-sfvc784-2LV-c", "xczu7ev-ffvc1156-2-e"])
def test_parts_with_uram_keep_finns_choice(part):
    m = _model()
    before = [[(a.name, a) for a in n.attribute] for n in m.graph.node]
    m = m.transform(AvoidURAM(part))
    assert has_uram(part) and _uram(m, part) > 0
    assert [[(a.name, a) for a in n.attribute] for n in m.graph.node] == before


def test_dynamic_mvau_matrix_buffer_is_lutram():
    """XXS's MVAU_rtl_16 (attention, mem_mode dynamic): FINN counts URAM + BRAM for a matrix
    that dynamic_load.sv keeps in distributed RAM; the report counts its LUTRAM instead."""
    import finn.custom_op.fpgadataflow.rtl  # noqa: F401 - registers MVAU_rtl

    from hyq.costs.memory import lutram
    from hyq.dataflow.part_memory import dynload_layer

    node = helper.make_node("MVAU_rtl", ["a", "b"], ["c"], name="MVAU_rtl_16", domain="finn.custom_op.fpgadataflow.rtl",
                            backend="fpgadataflow", MW=16, MH=256, SIMD=8, PE=1, inputDataType="INT8",
                            weightDataType="INT8", outputDataType="INT32", mem_mode="dynamic", noActivation=1,
                            numInputVectors=[1, 4, 64])
    inst = getCustomOp(node)
    part = "xczu9eg-ffvb1156-2-e"
    row = {"LUT": float(inst.lut_estimation(part)), "BRAM_18K": float(inst.bram_estimation(part)),
           "URAM": float(inst.uram_estimation(part)), "DSP": 0.0}
    assert row["URAM"] > 0 and row["BRAM_18K"] > 0  # FINN's estimate
    out = dynload_layer(row, node)
    assert out["URAM"] == 0 and out["BRAM_18K"] == 0
    # 2 banks x 8 SIMD RAMs of 2**clog2(2 x 256) = 512 words x 8 bits
    assert out["LUT"] == row["LUT"] + 16 * lutram(512, 8)
    static = helper.make_node("MVAU_rtl", ["a", "b"], ["c"], name="MVAU_rtl_0", domain="finn.custom_op.fpgadataflow.rtl",
                              backend="fpgadataflow", MW=16, MH=256, SIMD=8, PE=1, inputDataType="INT8",
                              weightDataType="INT8", outputDataType="INT32", mem_mode="internal_decoupled")
    assert dynload_layer(row, static) is row
