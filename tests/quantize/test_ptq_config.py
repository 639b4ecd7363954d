import pytest
import yaml

from hyq import config
from hyq.errors import HyqError


def _flow(tmp_path, ptq):
    raw = yaml.safe_load(config.DEFAULT_FLOW.read_text())
    raw["ptq"] = ptq
    p = tmp_path / "f.yaml"
    p.write_text(yaml.safe_dump(raw))
    return p


def test_flows_without_ptq_keep_the_plain_pipeline():
    cfg = config.load()
    assert cfg.ptq == config.PtqConfig() and cfg.ptq.method == "none" and not cfg.ptq.bias_correction


def test_shipped_qads_flow_loads():
    cfg = config.load(config.FLOWS_DIR / "qads.yaml")
    assert cfg.ptq.method == "qads" and cfg.ptq.bias_correction and cfg.ptq.layers == ("*",)


def test_layers_accept_a_string_or_a_list(tmp_path):
    assert config.load(_flow(tmp_path, {"layers": "*.project"})).ptq.layers == ("*.project",)
    assert config.load(_flow(tmp_path, {"layers": ["a", "b"]})).ptq.layers == ("a", "b")


@pytest.mark.parametrize("ptq, message", [
    ({"method": "magic"}, "ptq.method must be one of none, qads, smoothquant, cle, awq"),
    ({"bias_correction": "yes"}, "ptq.bias_correction must be true or false"),
    ({"layers": []}, "ptq.layers must be a non-empty list"),
    ({"layers": 3}, "ptq.layers must be a non-empty list"),
    ({"qads_iters": 0}, "ptq.qads_iters must be >= 1"),
    ({"scale_samples": 2.5}, "ptq.scale_samples must be an integer"),
    ({"qads_lr": -1}, "ptq.qads_lr must be > 0"),
    ({"alpha": 1}, "unknown key(s) alpha"),
])
def test_bad_ptq_sections(tmp_path, ptq, message):
    with pytest.raises(HyqError) as err:
        config.load(_flow(tmp_path, ptq))
    assert message in str(err.value) and "\n" not in str(err.value)


def test_calibration_source_is_validated(tmp_path):
    flow = tmp_path / "f.yaml"
    flow.write_text("ptq: {calibration: synthetic}\n")
    assert config.load(flow).ptq.calibration == "synthetic"
    flow.write_text("ptq: {calibration: imagenet}\n")
    with pytest.raises(HyqError, match="ptq.calibration must be one of data, synthetic"):
        config.load(flow)
