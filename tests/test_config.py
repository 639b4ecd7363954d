import pytest

from hyq import config
from hyq.errors import HyqError


def test_default_flow_loads():
    cfg = config.load()
    assert cfg.name == "default"
    assert cfg.model.name == "mv2-cnn"
    assert cfg.quant.weight_bits == 8 and cfg.quant.act_bits == 8
    assert cfg.hardware.part.startswith("xc")


def _write(tmp_path, text):
    p = tmp_path / "flow.yaml"
    p.write_text(text)
    return p


@pytest.mark.parametrize(
    "text, expected",
    [
        ("quant: {weight_bits: 1}", "quant.weight_bits"),
        ("quant: {act_bits: 'eight'}", "quant.act_bits"),
        ("quant: {layers: {'blocks.*': {weight: 40}}}", "quant.layers"),
        ("quant: {wbits: 8}", "unknown key"),
        ("hardware: {clock_ns: -1}", "hardware.clock_ns"),
        ("hardware: {target_fps: 0}", "hardware.target_fps"),
        ("hardware: {steps: bitfile}", "hardware.steps"),
        ("hardware: {steps: [step_tidy_up, 3]}", "hardware.steps"),
        ("hardware: {fit: 1.5}", "hardware.fit"),
        ("hardware: {fit: yes}", "hardware.fit"),
        ("hardware: {requant: sometimes}", "hardware.requant"),
        ("hardware: {target_fps: null}", "target_fps or folding"),
        ("train: {epochs: -3}", "train.epochs"),
        ("train: {lr: 0}", "train.lr"),
        ("data: {test_fraction: 1.5}", "data.test_fraction"),
        ("modle: {}", "unknown section"),
        ("[1, 2]", "mapping"),
        ("quant: {weight_bits: 8\n", "not valid YAML"),
    ],
)
def test_invalid_flow_names_the_problem(tmp_path, text, expected):
    with pytest.raises(HyqError, match=expected):
        config.load(_write(tmp_path, text))


def test_missing_flow_file(tmp_path):
    with pytest.raises(HyqError, match="flow file not found"):
        config.load(tmp_path / "nope.yaml")


def test_folding_path_is_relative_to_flow_file(tmp_path):
    (tmp_path / "fold.json").write_text("{}")
    cfg = config.load(_write(tmp_path, "hardware: {target_fps: null, folding: fold.json}"))
    assert cfg.hardware.folding == str(tmp_path / "fold.json")
    assert cfg.hardware.target_fps is None


def test_hardware_fit_is_read(tmp_path):
    assert config.load(_write(tmp_path, "hardware: {fit: 0.8}")).hardware.fit == 0.8


def test_checkpoint_turns_on_scaling_and_bias_correction_unless_ptq_is_given(tmp_path):
    cfg = config.load(_write(tmp_path, "model: {checkpoint: w.pth}\n"))
    assert cfg.ptq == config.CHECKPOINT_PTQ and cfg.ptq.method == "qads" and cfg.ptq.bias_correction
    assert cfg.model.checkpoint == str(tmp_path / "w.pth")
    own = config.load(_write(tmp_path, "model: {checkpoint: w.pth}\nptq: {method: none}\n"))
    assert own.ptq == config.PtqConfig()
    assert config.load(_write(tmp_path, "train: {epochs: 1}\n")).ptq == config.PtqConfig()


def test_hardware_requant_is_read_and_defaults_to_auto(tmp_path):
    assert config.load(_write(tmp_path, "hardware: {requant: never}")).hardware.requant == "never"
    assert config.load(_write(tmp_path, "hardware: {fit: 0.8}")).hardware.requant == "auto"
