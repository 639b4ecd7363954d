"""``hyq run`` from the data users bring (image folder, CIFAR-10 batches, .npz) and from a checkpoint.

Each run is the real command: training (or the checkpoint), QONNX export and check, and a
finn-plus estimate build whose report has LUTs. The flow is ``tests/data/tiny.yaml``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import yaml

from tests.conftest import hyq
from tests.data.user_data import cifar_batches, image_folder, npz_file

TINY = Path(__file__).with_name("tiny.yaml")


def _flow(tmp_path: Path, data: dict, **model) -> Path:
    flow = yaml.safe_load(TINY.read_text())
    flow["data"] = data
    flow["model"].update(model)
    path = tmp_path / "flow.yaml"
    path.write_text(yaml.safe_dump(flow))
    return path


def _run(flow: Path, out: Path) -> tuple[dict, str]:
    proc = hyq("run", "--config", str(flow), "--out", str(out))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return json.loads((out / "report.json").read_text()), proc.stdout + proc.stderr


DATA = {
    "imagefolder": (lambda d: image_folder(d / "imgs", per_class=10), lambda p: {"path": "imgs", "size": 12}, 3),
    "cifar10": (lambda d: cifar_batches(d / "cifar-10-batches-py"),
                lambda p: {"path": "cifar-10-batches-py", "size": 16}, 4),
    "npz": (lambda d: npz_file(d / "d.npz"), lambda p: {"path": "d.npz"}, 3),
}


@pytest.mark.slow
@pytest.mark.parametrize("dataset", DATA)
def test_run_trains_and_builds_from_each_data_set(dataset, tmp_path):
    write, section, classes = DATA[dataset]
    path = write(tmp_path)
    flow = _flow(tmp_path, {"dataset": dataset, "seed": 0, **section(path)})
    rep, log = _run(flow, tmp_path / "out")
    assert "float epoch 2/2" in log and "QAT epoch 1/1" in log  # it trained
    assert rep["accuracy"]["dataset"].startswith(dataset) and rep["accuracy"]["samples"] > 0
    assert rep["complete"] and rep["unmapped_nodes"] == []
    assert rep["total"]["LUT"] > 0 and any(layer["op_type"].startswith("MVAU") for layer in rep["layers"])
    assert rep["export_check"]["passed"]
    # the classifier has one output per class of the user's data
    assert rep["flow_config"]["data"]["dataset"] == dataset
    model = rep["static_storage"]["weight_count"]
    assert model > 8 * classes


def _tiny_model(ds):
    from hyq.models import build_model
    from hyq.nn.quant import BitSpec

    opts = yaml.safe_load(TINY.read_text())["model"]["options"]
    torch.manual_seed(123)
    return build_model("mv2-cnn", BitSpec(), ds.input_shape[0], ds.num_classes, **opts)


@pytest.mark.slow
def test_run_with_checkpoint_skips_float_training(tmp_path):
    from hyq.data import load
    from hyq.quantize import accuracy

    npz_file(tmp_path / "d.npz")
    ds = load("npz", 0.2, 0, path=tmp_path / "d.npz")
    model = _tiny_model(ds)
    with torch.no_grad():  # BN statistics that are not the defaults, so loading them matters
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 2.0)
    torch.save(model.state_dict(), tmp_path / "weights.pth")
    expected = accuracy(model, ds.x_test, ds.y_test, quantized=False)
    flow = _flow(tmp_path, {"dataset": "npz", "path": "d.npz", "seed": 0}, checkpoint="weights.pth")
    rep, log = _run(flow, tmp_path / "out")
    assert "float training skipped" in log and "PTQ from checkpoint" in log
    assert "float epoch" not in log  # no float training happened
    assert rep["accuracy"]["float"] == expected
    assert rep["flow_config"]["model"]["checkpoint"].endswith("weights.pth")
    # no ptq section: PTQ of pretrained weights with QADS scaling and bias correction
    assert rep["flow_config"]["ptq"]["method"] == "qads" and rep["flow_config"]["ptq"]["bias_correction"]
    assert rep["complete"] and rep["total"]["LUT"] > 0


def test_run_with_wrong_checkpoint_is_one_error_line(tmp_path):
    from tests.test_cli import _one_line_error

    npz_file(tmp_path / "d.npz")
    torch.save({"features.0.weight": torch.zeros(3)}, tmp_path / "other.pth")
    flow = _flow(tmp_path, {"dataset": "npz", "path": "d.npz"}, checkpoint="other.pth")
    out = tmp_path / "out"
    _one_line_error(hyq("run", "--config", str(flow), "--out", str(out)), "other.pth", "features.0.weight")
    assert not (out / "report.json").exists()
