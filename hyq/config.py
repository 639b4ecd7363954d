"""Flow files: YAML -> frozen dataclasses, validated with errors that name the bad key.

A flow file describes one end-to-end job (see ``flows/default.yaml``)::

    name: default
    model:    {name: mv2-cnn, options: {...}}
    quant:    {weight_bits: 8, act_bits: 8, layers: {"blocks.*": {weight: 6}}}
    data:     {dataset: digits, test_fraction: 0.2, seed: 0}
    train:    {epochs: 30, qat_epochs: 5, lr: 0.01, batch_size: 64, calib_samples: 256, seed: 0}
    ptq:      {method: qads, bias_correction: true, layers: ["*"], scale_samples: 100, qads_iters: 1000}
    hardware: {part: xc7z020clg400-1, clock_ns: 10.0, target_fps: 10000, steps: estimate}

Unknown keys are errors (a typo must not be silently ignored).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from hyq.errors import HyqError
from hyq.resources import FLOWS_DIR

DEFAULT_FLOW = FLOWS_DIR / "default.yaml"

#: Named step lists of the FINN dataflow build (``hardware.steps``), each as the finn-plus
#: steps it runs after hyq.dataflow.build's estimate steps; the build derives its lists from this.
STEP_SETS: dict[str, tuple[str, ...]] = {"estimate": (), "codegen": ("step_hw_codegen",)}
REQUANT_MODES = ("auto", "always", "never")


@dataclass(frozen=True)
class ModelConfig:
    name: str = "mv2-cnn"
    options: dict[str, Any] = field(default_factory=dict)
    # float weights the user brings (timm MobileViT or hyq names; relative to the flow file):
    # float training is skipped, PTQ starts from them (hyq.models.checkpoint)
    checkpoint: str | None = None


@dataclass(frozen=True)
class QuantConfig:
    weight_bits: int = 8
    act_bits: int = 8
    layers: dict[str, dict[str, int]] = field(default_factory=dict)


@dataclass(frozen=True)
class DataConfig:
    dataset: str = "digits"
    test_fraction: float = 0.2
    seed: int = 0
    path: str | None = None   # imagefolder / cifar10 folder or npz file (relative to the flow file)
    size: int | None = None   # image side in pixels after resize and centre crop (imagefolder: required)


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 30
    qat_epochs: int = 5
    lr: float = 0.01
    batch_size: int = 64
    calib_samples: int = 256
    seed: int = 0


#: distribution-scaling methods of hyq.quantize.scaling (kept here so validation needs no torch)
PTQ_METHODS = ("none", "qads", "smoothquant", "cle", "awq")
#: where calibration images come from: the training data, or synthesised (data-free)
CALIBRATIONS = ("data", "synthetic")


@dataclass(frozen=True)
class PtqConfig:
    """Post-training quantization between float training and QAT (hyq.quantize.ptq).

    The defaults (no scaling, no bias correction) give the plain calibrate-then-QAT flow.
    """

    method: str = "none"
    bias_correction: bool = False
    layers: tuple[str, ...] = ("*",)   # fnmatch patterns of the pointwise layers to scale
    scale_samples: int = 100          # calibration images the scaling methods look at
    qads_iters: int = 1000
    qads_lr: float = 0.01
    calibration: str = "data"         # data | synthetic (images matched to BN statistics, hyq.quantize.synthetic)


#: the PTQ of a flow with ``model.checkpoint`` and no ``ptq`` section: PTQ of pretrained
#: weights is the point of a checkpoint, so distribution scaling and bias correction are on
CHECKPOINT_PTQ = PtqConfig(method="qads", bias_correction=True)


@dataclass(frozen=True)
class HardwareConfig:
    """The ``hardware`` section; its defaults are hyq's hardware defaults everywhere (BuildSpec,
    ``hyq build``), written only here."""

    part: str = "xc7z020clg400-1"
    clock_ns: float = 10.0
    target_fps: int | None = 10000
    folding: str | None = None
    steps: str | list[str] = "estimate"  # a preset of STEP_SETS, or FINN/hyq step names
    # standalone thresholds let MVAUs specialise to RTL (simulable without HLS tools)
    standalone_thresholds: bool = True
    # fraction of the part to fill: choose the fastest folding within it (hyq.dataflow.fit)
    fit: float | None = None
    # threshold tables -> integer requantization: auto (where proven exact and cheaper),
    # always (wherever proven exact), never (hyq.dataflow.ops.requant)
    requant: str = "auto"


@dataclass(frozen=True)
class FlowConfig:
    name: str = "default"
    model: ModelConfig = ModelConfig()
    quant: QuantConfig = QuantConfig()
    data: DataConfig = DataConfig()
    train: TrainConfig = TrainConfig()
    ptq: PtqConfig = PtqConfig()
    hardware: HardwareConfig = HardwareConfig()
    source: Path | None = None

    def as_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d.pop("source")
        return d


_SECTIONS = {
    "model": ModelConfig, "quant": QuantConfig, "data": DataConfig,
    "train": TrainConfig, "ptq": PtqConfig, "hardware": HardwareConfig,
}


def _build(cls, raw: Any, where: str):
    if raw is None:
        return cls()
    if not isinstance(raw, dict):
        raise HyqError(f"{where}: expected a mapping, got {type(raw).__name__}")
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(raw) - names)
    if unknown:
        raise HyqError(f"{where}: unknown key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(names))}")
    return cls(**raw)


def _check_type(where: str, value: Any, types: tuple, what: str) -> None:
    if isinstance(value, bool) and bool not in types:
        raise HyqError(f"{where} must be {what}, got {value!r}")
    if not isinstance(value, types):
        raise HyqError(f"{where} must be {what}, got {value!r}")


def _validate_ptq(p: PtqConfig, where: str) -> None:
    if p.method not in PTQ_METHODS:
        raise HyqError(f"{where}: ptq.method must be one of {', '.join(PTQ_METHODS)}, got {p.method!r}")
    _check_type(f"{where}: ptq.bias_correction", p.bias_correction, (bool,), "true or false")
    if p.calibration not in CALIBRATIONS:
        raise HyqError(f"{where}: ptq.calibration must be one of {', '.join(CALIBRATIONS)}, got {p.calibration!r}")
    if not isinstance(p.layers, tuple) or not p.layers or not all(isinstance(x, str) and x for x in p.layers):
        raise HyqError(f"{where}: ptq.layers must be a non-empty list of layer-name patterns, got {p.layers!r}")
    for key in ("scale_samples", "qads_iters"):
        v = getattr(p, key)
        _check_type(f"{where}: ptq.{key}", v, (int,), "an integer")
        if v < 1:
            raise HyqError(f"{where}: ptq.{key} must be >= 1, got {v}")
    _check_type(f"{where}: ptq.qads_lr", p.qads_lr, (int, float), "a number")
    if not p.qads_lr > 0:
        raise HyqError(f"{where}: ptq.qads_lr must be > 0, got {p.qads_lr}")


#: data sets of hyq.data (kept here so validation needs no torch); the last three read data.path
DATASETS = ("digits", "imagefolder", "cifar10", "npz")


def _validate_data(d: DataConfig, where: str) -> None:
    if d.dataset not in DATASETS:
        raise HyqError(f"{where}: data.dataset must be one of {', '.join(DATASETS)}, got {d.dataset!r}")
    if d.dataset != "digits" and d.path is None:
        raise HyqError(f"{where}: data.dataset {d.dataset} needs data.path (its folder or file)")
    if d.path is not None:
        _check_type(f"{where}: data.path", d.path, (str,), "a path")
    if d.dataset == "imagefolder" and d.size is None:
        raise HyqError(f"{where}: data.dataset imagefolder needs data.size (image side in pixels)")
    if d.size is not None:
        _check_type(f"{where}: data.size", d.size, (int,), "an integer")
        if d.size < 1:
            raise HyqError(f"{where}: data.size must be >= 1, got {d.size}")


def validate(cfg: FlowConfig, where: str = "flow") -> FlowConfig:
    """Check value ranges; raise HyqError naming the first bad key."""
    q, t, h, d = cfg.quant, cfg.train, cfg.hardware, cfg.data
    _check_type(f"{where}: model.name", cfg.model.name, (str,), "a model name string")
    _check_type(f"{where}: model.options", cfg.model.options, (dict,), "a mapping of model options")
    _check_type(f"{where}: quant.layers", q.layers, (dict,), "a mapping of layer-name patterns")
    _check_type(f"{where}: data.dataset", d.dataset, (str,), "a data set name string")
    _check_type(f"{where}: data.seed", d.seed, (int,), "an integer")
    _check_type(f"{where}: hardware.steps", h.steps, (str, list), "a step-list name or a list of step names")
    if isinstance(h.steps, list) and not all(isinstance(n, str) for n in h.steps):
        raise HyqError(f"{where}: hardware.steps must list step names as strings, got {h.steps!r}")
    _check_type(f"{where}: hardware.standalone_thresholds", h.standalone_thresholds, (bool,), "true or false")
    for key in ("weight_bits", "act_bits"):
        v = getattr(q, key)
        _check_type(f"{where}: quant.{key}", v, (int,), "an integer")
        if not 2 <= v <= 16:
            raise HyqError(f"{where}: quant.{key} must be in [2, 16], got {v}")
    for pat, o in q.layers.items():
        if not isinstance(o, dict) or set(o) - {"weight", "act"}:
            raise HyqError(f"{where}: quant.layers['{pat}'] must map weight/act to bit-widths, got {o!r}")
        for k, v in o.items():
            if isinstance(v, bool) or not isinstance(v, int) or not 2 <= v <= 16:
                raise HyqError(f"{where}: quant.layers['{pat}'].{k} must be an integer in [2, 16], got {v!r}")
    for key in ("epochs", "qat_epochs", "batch_size", "calib_samples", "seed"):
        v = getattr(t, key)
        _check_type(f"{where}: train.{key}", v, (int,), "an integer")
        if v < (1 if key in ("batch_size", "calib_samples") else 0):
            raise HyqError(f"{where}: train.{key} must be >= {1 if key in ('batch_size', 'calib_samples') else 0}, got {v}")
    _check_type(f"{where}: train.lr", t.lr, (int, float), "a number")
    if not t.lr > 0:
        raise HyqError(f"{where}: train.lr must be > 0, got {t.lr}")
    _validate_ptq(cfg.ptq, where)
    _validate_data(d, where)
    if cfg.model.checkpoint is not None:
        _check_type(f"{where}: model.checkpoint", cfg.model.checkpoint, (str,), "a file path")
    _check_type(f"{where}: data.test_fraction", d.test_fraction, (int, float), "a number")
    if not 0 < d.test_fraction < 1:
        raise HyqError(f"{where}: data.test_fraction must be in (0, 1), got {d.test_fraction}")
    _check_type(f"{where}: hardware.part", h.part, (str,), "a part name string")
    _check_type(f"{where}: hardware.clock_ns", h.clock_ns, (int, float), "a number")
    if not h.clock_ns > 0:
        raise HyqError(f"{where}: hardware.clock_ns must be > 0, got {h.clock_ns}")
    if h.target_fps is None and h.folding is None:
        raise HyqError(f"{where}: hardware needs target_fps or folding")
    if h.target_fps is not None and h.folding is not None:
        raise HyqError(f"{where}: hardware.target_fps and hardware.folding exclude each other; keep one")
    if h.target_fps is not None:
        _check_type(f"{where}: hardware.target_fps", h.target_fps, (int,), "an integer")
        if h.target_fps <= 0:
            raise HyqError(f"{where}: hardware.target_fps must be > 0, got {h.target_fps}")
    if h.fit is not None:
        _check_type(f"{where}: hardware.fit", h.fit, (int, float), "a fraction of the part")
        if not 0 < h.fit <= 1:
            raise HyqError(f"{where}: hardware.fit must be in (0, 1], got {h.fit}")
    if h.requant not in REQUANT_MODES:
        raise HyqError(f"{where}: hardware.requant must be one of {', '.join(REQUANT_MODES)}, got {h.requant!r}")
    if isinstance(h.steps, str) and h.steps not in STEP_SETS:
        raise HyqError(f"{where}: hardware.steps must be one of {', '.join(STEP_SETS)}, got {h.steps!r}")
    return cfg


def load(path: Path | str | None = None) -> FlowConfig:
    """Load and validate a flow file (default: the embedded ``flows/default.yaml``)."""
    path = Path(path) if path is not None else DEFAULT_FLOW
    if not path.is_file():
        raise HyqError(f"flow file not found: {path}")
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}" if mark else ""
        raise HyqError(f"{path}: not valid YAML{at}; fix the syntax") from exc
    if not isinstance(raw, dict):
        raise HyqError(f"{path}: a flow file must be a mapping of sections ({', '.join(_SECTIONS)})")
    unknown = sorted(set(raw) - set(_SECTIONS) - {"name"})
    if unknown:
        raise HyqError(f"{path}: unknown section(s) {', '.join(unknown)}; allowed: name, {', '.join(_SECTIONS)}")
    try:
        sections = {k: _build(cls, raw.get(k), f"{path}: {k}") for k, cls in _SECTIONS.items()}
    except TypeError as exc:
        raise HyqError(f"{path}: {exc}") from exc
    if sections["model"].checkpoint is not None and "ptq" not in raw:
        sections["ptq"] = CHECKPOINT_PTQ  # pretrained weights: full PTQ unless the flow says otherwise
    if isinstance(layers := sections["ptq"].layers, (list, str)):
        layers = [layers] if isinstance(layers, str) else layers
        sections["ptq"] = dataclasses.replace(sections["ptq"], layers=tuple(layers))
    for sec, key in (("model", "checkpoint"), ("data", "path")):
        if isinstance(rel := getattr(sections[sec], key), str) and not Path(rel).expanduser().is_absolute():
            sections[sec] = dataclasses.replace(sections[sec], **{key: str(path.parent / Path(rel).expanduser())})
    if (folding := sections["hardware"].folding) is not None:
        _check_type(f"{path}: hardware.folding", folding, (str,), "the path of a folding file")
        if not folding:
            raise HyqError(f"{path}: hardware.folding must be the path of a folding file, got ''")
        fpath = Path(folding)
        if not fpath.is_absolute():
            fpath = path.parent / fpath
        sections["hardware"] = dataclasses.replace(sections["hardware"], folding=str(fpath), target_fps=None)
    name = raw.get("name", path.stem)
    if not isinstance(name, str) or not name:
        raise HyqError(f"{path}: name must be a non-empty string")
    return validate(FlowConfig(name=name, source=path, **sections), where=str(path))
