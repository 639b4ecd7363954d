"""Static storage in the report == sum over stored parameters of count x bit-width,
recomputed here from the built ONNX file with onnx alone (not hyq's or qonnx's code)."""

import re

import numpy as np
import onnx
from onnx import numpy_helper

from hyq.models import build_model
from hyq.nn.quant import BitSpec


def _width(dtype: str) -> int:
    if dtype == "BIPOLAR" or dtype == "BINARY":
        return 1
    if dtype.startswith("FLOAT"):
        return int(dtype[5:] or 32)
    return int(re.fullmatch(r"U?INT(\d+)", dtype).group(1))


def _recompute(path):
    m = onnx.load(str(path))
    ann = {a.tensor_name: {kv.key: kv.value for kv in a.quant_parameter_tensor_names}["finn_datatype"]
           for a in m.graph.quantization_annotation}
    inits = {i.name: numpy_helper.to_array(i) for i in m.graph.initializer}
    w = t = r = o = 0
    for node in m.graph.node:
        base = node.op_type.split("_")[0].removeprefix("Hyq")  # hyq's RTL stand-ins: HyqVVAU_rtl
        attrs = {a.name: a for a in node.attribute}
        for idx, name in enumerate(node.input):
            if name not in inits:
                continue
            n = inits[name].size
            if base in ("MVAU", "VVAU") and idx == 1:
                w += n * _width(attrs["weightDataType"].s.decode())
            elif (base in ("MVAU", "VVAU") and idx == 2) or (base == "Thresholding" and idx == 1):
                t += n * _width(ann[name])
            elif base == "Requant" and idx in (1, 2, 3):  # HyqRequant_rtl: M, B (and ties W) at their annotated widths
                r += n * _width(ann[name])
            else:
                o += n * _width(ann.get(name, "FLOAT32"))
    return w, t, r, o


def test_report_storage_equals_recomputation(default_run, default_report):
    steps = default_report["flow"]  # the report is assembled from the last step's model
    final = default_run / "finn" / "intermediate_models" / f"{len(steps) - 1:02d}_{steps[-1]}.onnx"
    w, t, r, o = _recompute(final)
    s = default_report["static_storage"]
    assert (s["weight_bits"], s["threshold_bits"], s["requant_bits"], s["other_bits"]) == (w, t, r, o)
    assert s["total_bits"] == w + t + r + o and s["bytes"] == (w + t + r + o) / 8
    assert w > 0 and t > 0


def test_w8_weights_are_a_quarter_of_fp32(default_report):
    s = default_report["static_storage"]
    ref = build_model("mv2-cnn", BitSpec(), 1, 10, **default_report["flow_config"]["model"]["options"])
    n_weights = sum(p.numel() for name, p in ref.named_parameters() if name.endswith("weight") and p.dim() > 1)
    assert s["weight_count"] == n_weights
    assert s["weight_bits"] == 8 * n_weights
    assert np.isclose(s["weight_ratio_vs_fp32"], 0.25)
    assert s["fp32_bytes"] >= 4 * n_weights


def test_default_cnn_requantized_within_the_storage_target(default_report):
    """Issue 12's target: the default CNN at most 0.35 of FP32's storage, every table proven
    and every choice with its reason. With the exact quantizer thresholds
    (ExactQuantThresholds) no channel needs a tie term: the "ties" of float32 thresholds
    (HyqRequant_rtl_3) were thresholds rounded onto an integer."""
    layers = default_report["requant"]["layers"]
    assert default_report["static_storage"]["ratio_vs_fp32"] <= 0.35
    assert all(d["reason"].startswith("proven") for d in layers), [d["reason"] for d in layers]
    assert all(d["w_bits"] == 0 for d in layers)
