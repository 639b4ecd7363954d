"""``hyq quantize`` and the flow file's view of quantization.

:mod:`hyq.quantize` takes a model and data in plain terms (:class:`~hyq.quantize.ptq.FloatModel`);
this job reads them from a flow file: :func:`float_model` (the flow's model, its builder and
cache identity), :func:`quantize_flow` (the flow's widths and PTQ settings, each overridable),
:func:`quantize_to_dir` (``hyq quantize``'s output folder).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from hyq import config
from hyq.data import Dataset
from hyq.data import fingerprint as data_fingerprint
from hyq.data import from_config as load_data
from hyq.errors import HyqError
from hyq.models import build_model
from hyq.models.checkpoint import fingerprint as checkpoint_fingerprint
from hyq.models.checkpoint import model_options
from hyq.nn.quant import BitSpec
from hyq.progress import info
from hyq.quantize.mixed import mixed_precision
from hyq.quantize.ptq import FloatModel, QuantizeResult, quantize
from hyq.quantize.scaling import ScalingOptions


def inputs_payload(cfg: config.FlowConfig) -> dict[str, Any]:
    """What the user's files contribute to cache keys: checkpoint contents, data file list."""
    ck = cfg.model.checkpoint
    return {"checkpoint": checkpoint_fingerprint(ck) if ck else None, "data_files": data_fingerprint(cfg.data.path)}


def new_model(cfg: config.FlowConfig, ds: Dataset, bits: BitSpec) -> torch.nn.Module:
    """The flow's model at widths ``bits``, freshly built with the flow's seed."""
    torch.manual_seed(cfg.train.seed)
    options = model_options(cfg.model.checkpoint, cfg.model.options)
    try:
        return build_model(cfg.model.name, bits, ds.input_shape[0], ds.num_classes, **options)
    except ValueError as exc:
        raise HyqError(f"{cfg.source}: model: {exc}") from None


def float_model(cfg: config.FlowConfig, ds: Dataset) -> FloatModel:
    """The flow's model for :mod:`hyq.quantize`: its builder, and its model and data sections
    (with the user's files' fingerprints) as the float cache's identity."""
    identity: dict[str, Any] = {"model": dataclasses.asdict(cfg.model), "data": dataclasses.asdict(cfg.data)}
    if cfg.model.checkpoint or cfg.data.path:
        identity["inputs"] = inputs_payload(cfg)
    return FloatModel(build=lambda bits: new_model(cfg, ds, bits), identity=identity, train=cfg.train,
                      checkpoint=cfg.model.checkpoint, name=cfg.model.name)


def quantize_flow(cfg: config.FlowConfig, ds: Dataset, method: str | None = None, wbits: int | None = None,
                  abits: int | None = None, overrides: Mapping[str, Mapping[str, int]] | None = None,
                  qat_epochs: int | None = None, bias_correction: bool | None = None,
                  options: ScalingOptions | None = None) -> QuantizeResult:
    """:func:`hyq.quantize.ptq.quantize` of the flow's model with its quant and ptq sections.

    Arguments that are None take the flow file's value. ``overrides`` are BitSpec per-layer
    overrides added to the flow's own (e.g. the output of :mod:`hyq.quantize.mixed`).
    """
    ptq = dataclasses.replace(cfg.ptq, **{k: v for k, v in
                                          {"method": method, "bias_correction": bias_correction}.items()
                                          if v is not None})
    wbits = cfg.quant.weight_bits if wbits is None else wbits
    abits = cfg.quant.act_bits if abits is None else abits
    try:
        bits = BitSpec(wbits, abits, overrides={**cfg.quant.layers, **(overrides or {})})
    except ValueError as exc:
        raise HyqError(str(exc)) from None
    return quantize(float_model(cfg, ds), ds, bits, ptq, qat_epochs, options)


def _parse_widths(text: str) -> tuple[int, ...]:
    try:
        widths = tuple(int(w) for w in str(text).split(",") if w.strip())
    except ValueError:
        raise HyqError(f"--widths must be comma-separated integers such as 8,6,4, got {text!r}") from None
    if not widths:
        raise HyqError("--widths is empty; give candidate weight widths such as 8,6,4")
    return widths


def quantize_to_dir(config_path: Path | None, out: Path, method: str | None = None, wbits: int | None = None,
                    abits: int | None = None, qat_epochs: int | None = None, bias_correction: bool | None = None,
                    budget_bits: int | None = None, widths: str = "8,6,4") -> dict[str, Any]:
    """``hyq quantize``: quantize the flow's model, print the accuracies, write model.pt and quantize.json."""
    if qat_epochs is not None and qat_epochs < 0:
        raise HyqError(f"--qat-epochs must be >= 0, got {qat_epochs}")
    for flag, v in (("--wbits", wbits), ("--abits", abits)):
        if v is not None and not 2 <= v <= 16:
            raise HyqError(f"{flag} must be in [2, 16], got {v}")
    cfg = config.load(config_path)
    ds = load_data(cfg.data)
    mixed = None
    if budget_bits is not None:
        ws = _parse_widths(widths)
        mixed = mixed_precision(float_model(cfg, ds), ds, budget_bits, ws,
                                cfg.quant.act_bits if abits is None else abits, cfg.quant.layers)
        wbits = max(ws)
        info(f"mixed precision: {mixed.storage_bits} of {budget_bits} budget bits; widths "
             + ", ".join(f"{k}={v}" for k, v in mixed.widths.items()))
    res = quantize_flow(cfg, ds, method, wbits, abits, mixed.overrides if mixed else None, qat_epochs,
                        bias_correction)
    rep = res.report
    if mixed:
        rep["mixed_precision"] = mixed.as_dict()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    torch.save(res.model.state_dict(), out / "model.pt")
    (out / "quantize.json").write_text(json.dumps(rep, indent=1))
    line = (f"{rep['model']} {rep['method']} W{rep['wbits']}A{rep['abits']}: accuracy float {rep['accuracy_float']:.4f}"
            f", PTQ {rep['accuracy_ptq']:.4f}")
    if rep["qat_epochs"]:
        line += f", QAT ({rep['qat_epochs']} epochs) {rep['accuracy_quantized']:.4f}"
    print(f"{line} on {rep['test_samples']} {rep['dataset']} test samples", flush=True)
    info(f"wrote {out / 'model.pt'} and {out / 'quantize.json'}")
    return rep
