"""The command line as a user meets it: real runs, and one-line errors for bad input."""

import json

import onnx
import pytest
import torch
from brevitas import nn as qnn
from brevitas.quant import Int8ActPerTensorFloat

from hyq.export import export
from tests.conftest import hyq

REQUIRED = {"model", "part", "clock_ns", "flow", "vendor_tools", "layers", "total", "static_storage",
            "throughput_fps", "latency_ns", "unmapped_nodes", "accuracy"}


class _MLP(torch.nn.Module):
    """A Brevitas model that is not in hyq's zoo (TFC-like MLP), optionally with a float op inside."""

    def __init__(self, float_op: bool = False):
        super().__init__()
        self.float_op = float_op
        self.inp = qnn.QuantIdentity(act_quant=Int8ActPerTensorFloat, return_quant_tensor=True)
        self.fc1 = qnn.QuantLinear(64, 32, bias=False, weight_bit_width=4)
        self.act = qnn.QuantReLU(bit_width=4, return_quant_tensor=True)
        self.mid = qnn.QuantIdentity(act_quant=Int8ActPerTensorFloat, bit_width=4, return_quant_tensor=True)
        self.fc2 = qnn.QuantLinear(32, 10, bias=False, weight_bit_width=4)

    def forward(self, x):
        x = self.act(self.fc1(self.inp(x)))
        if self.float_op:
            x = torch.cumsum(x.value, dim=1)  # a float operator FINN cannot map, and not pointwise
        return self.fc2(self.mid(x))


def _export(tmp_path, name, **kw):
    torch.manual_seed(0)
    m = _MLP(**kw).eval()
    return export(m, torch.rand(1, 64), tmp_path / name)


def _one_line_error(proc, *needles):
    assert proc.returncode == 2, proc.stdout[-2000:] + proc.stderr[-2000:]
    err = proc.stderr.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("hyq: error:"), proc.stderr
    assert "Traceback" not in proc.stderr
    for n in needles:
        assert n in err[0], err[0]


def test_hyq_run_default_report(default_run, default_report):
    assert REQUIRED <= set(default_report)
    assert default_report["vendor_tools"] is False and "no vendor synthesis" in default_report["note"]
    assert default_report["unmapped_nodes"] == []
    assert default_report["layers"] and all({"name", "op_type", "LUT", "BRAM_18K", "URAM", "DSP", "cycles"}
                                             <= set(layer) for layer in default_report["layers"])
    assert default_report["total"]["LUT"] == pytest.approx(sum(layer["LUT"] for layer in default_report["layers"]))
    assert default_report["throughput_fps"] > 0 and default_report["latency_ns"] > 0
    acc = default_report["accuracy"]
    assert acc["dataset"] == "digits" and acc["samples"] > 300
    assert acc["float"] > 0.9 and acc["quantized"] > 0.9
    assert default_report["export_check"]["passed"]
    assert "step_generate_estimate_reports" in default_report["flow"]
    md = (default_run / "report.md").read_text()
    assert "LUT" in md and "static storage" in md


def test_hyq_build_external_brevitas_model(tmp_path):
    model = _export(tmp_path, "mlp.onnx")
    out = tmp_path / "out"
    proc = hyq("build", str(model), "--part", "xczu3eg-sbva484-1-e", "--target-fps", "100000", "--out", str(out))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    rep = json.loads((out / "report.json").read_text())
    assert rep["part"] == "xczu3eg-sbva484-1-e" and rep["unmapped_nodes"] == []
    assert {layer["op_type"].split("_")[0] for layer in rep["layers"]} >= {"MVAU"}
    assert rep["static_storage"]["weight_bits"] == 4 * (64 * 32 + 32 * 10)
    assert "accuracy" not in rep


def test_missing_model_file(tmp_path):
    proc = hyq("build", str(tmp_path / "nope.onnx"), "--part", "xc7z020clg400-1", "--out", str(tmp_path / "o"))
    _one_line_error(proc, "not found")


def test_corrupt_onnx(tmp_path):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"this is not protobuf" * 50)
    proc = hyq("build", str(bad), "--part", "xc7z020clg400-1", "--out", str(tmp_path / "o"))
    _one_line_error(proc, "not a valid ONNX model")


def test_unmappable_float_op_fails_cleanly_and_leaves_no_report(tmp_path):
    model = _export(tmp_path, "cumsum.onnx", float_op=True)
    assert "CumSum" in {n.op_type for n in onnx.load(str(model)).graph.node}
    out = tmp_path / "out"
    out.mkdir()
    (out / "report.json").write_text("{}")  # a stale report from an earlier run
    proc = hyq("build", str(model), "--part", "xc7z020clg400-1", "--out", str(out))
    _one_line_error(proc, "cannot map", "CumSum")
    assert not (out / "report.json").exists() and not (out / "report.md").exists()


def test_unknown_part(tmp_path):
    model = _export(tmp_path, "mlp.onnx")
    proc = hyq("build", str(model), "--part", "zynq", "--out", str(tmp_path / "o"))
    _one_line_error(proc, "unknown FPGA part")
    # a well-formed name of a device that does not exist names the known devices
    proc = hyq("build", str(model), "--part", "xc7z999clg400-1", "--out", str(tmp_path / "o"))
    _one_line_error(proc, "unknown FPGA part 'xc7z999clg400-1'", "xczu9eg")


def test_invalid_flow_file_and_debug_traceback(tmp_path):
    flow = tmp_path / "bad.yaml"
    flow.write_text("quant: {weight_bits: 99}\n")
    _one_line_error(hyq("run", "--config", str(flow), "--out", str(tmp_path / "o")), "quant.weight_bits")
    proc = hyq("--debug", "run", "--config", str(flow), "--out", str(tmp_path / "o"))
    assert proc.returncode == 2 and "Traceback" in proc.stderr
