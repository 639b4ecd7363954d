"""The end-to-end jobs behind ``hyq run`` and ``hyq build``.

run:   flow file -> data -> model (trained, cached) -> QONNX (checked) -> FINN build -> report
build: any QONNX file -> FINN build -> report
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import torch

from hyq import cache, config, outdir
from hyq.data import from_config as load_data
from hyq.dataflow import BuildSpec, build, folding_check, require_report_step
from hyq.errors import HyqError
from hyq.export import check, export, load_checked
from hyq.jobs.quantize import float_model, inputs_payload
from hyq.nn.quant import BitSpec
from hyq.progress import info, stage
from hyq.quantize import accuracy, train
from hyq.quantize.ptq import float_state, load_float_state
from hyq.report import assemble, clear, summary, unmapped_error, write

#: test samples pushed through both Brevitas and the QONNX executor
CHECK_SAMPLES = 32


def _bits(q: config.QuantConfig) -> BitSpec:
    return BitSpec(weight=q.weight_bits, act=q.act_bits, overrides=dict(q.layers))


def trained_model(cfg: config.FlowConfig, ds) -> tuple[torch.nn.Module, float]:
    """(model after training and QAT, float accuracy measured before quantization).

    The float weights come from hyq's one float-training cache
    (:func:`hyq.quantize.ptq.float_state`, or the flow's checkpoint); calibration, PTQ and
    QAT at the flow's widths follow. Taken from the cache when nothing that determines it
    changed.
    """
    payload = {k: cfg.as_dict()[k] for k in ("model", "quant", "data", "train", "ptq")}
    if cfg.model.checkpoint or cfg.data.path:
        payload["inputs"] = inputs_payload(cfg)
    key = cache.key(payload, cache.module_files("hyq.models", "hyq.quantize", "hyq.data"))
    fm = float_model(cfg, ds)

    def make(folder: Path) -> None:
        state, _ = float_state(fm, ds)
        model = fm.build(_bits(cfg.quant))
        load_float_state(model, state)
        result = train(model, ds, cfg.train, cfg.ptq, pretrained=True)
        torch.save(model.state_dict(), folder / "model.pt")
        (folder / "meta.json").write_text(json.dumps({"flow": payload, **result.__dict__}, indent=1))

    hit = cache.has("train", key)
    what = "PTQ from checkpoint" if cfg.model.checkpoint else "train"
    with stage(f"{what} (cached)" if hit else what):
        folder = cache.entry("train", key, make)
        model = fm.build(_bits(cfg.quant))
        model.load_state_dict(torch.load(folder / "model.pt", weights_only=True))
        model.eval()
        float_acc = json.loads((folder / "meta.json").read_text())["float_accuracy"]
    return model, float_acc


def _finish(rep: dict[str, Any], out: Path, qonnx_path: Path, allow_unmapped: bool) -> dict[str, Any]:
    if rep["unmapped_nodes"] and not allow_unmapped:
        raise unmapped_error(rep, qonnx_path)  # a partial mapping is no accelerator: no report
    json_path, md_path = write(rep, out)
    if rep["unmapped_nodes"]:
        info(f"warning: {len(rep['unmapped_nodes'])} node(s) stayed outside the accelerator: "
             + ", ".join(rep["unmapped_nodes"]))
    print("\n" + summary(rep) + "\n", flush=True)
    info(f"report: {json_path} and {md_path.name}")
    return rep


def _build_spec(h: config.HardwareConfig) -> BuildSpec:
    return BuildSpec(part=h.part, clock_ns=h.clock_ns, target_fps=h.target_fps, folding=h.folding,
                     steps=h.steps, standalone_thresholds=h.standalone_thresholds, requant=h.requant)


def run_flow(config_path: Path | None = None, out_dir: Path | None = None,
             allow_unmapped: bool = False) -> dict[str, Any]:
    """Train or load, export, check, build and report the flow in ``config_path``.

    Nodes left outside the accelerator are an error unless ``allow_unmapped`` (the report
    then says ``"complete": false``).
    """
    cfg = config.load(config_path)
    spec = _build_spec(cfg.hardware)
    require_report_step(spec.steps)
    out = Path(out_dir) if out_dir else Path("build") / cfg.name
    with outdir.claim(out):
        return _run_flow(cfg, spec, out, allow_unmapped)


def _run_flow(cfg: config.FlowConfig, spec: BuildSpec, out: Path, allow_unmapped: bool) -> dict[str, Any]:
    clear(out)
    info(f"flow '{cfg.name}' from {cfg.source} -> {out}")
    with stage(f"data ({cfg.data.dataset})"):
        ds = load_data(cfg.data)
    model, float_acc = trained_model(cfg, ds)
    with stage("evaluate"):
        acc = {"float": float_acc, "quantized": accuracy(model, ds.x_test, ds.y_test),
               "dataset": ds.name, "samples": len(ds.x_test)}
    input_scale = _input_scale(model)
    onnx_path = out / "model.onnx"
    with stage("export QONNX"):
        export(model, ds.x_test[:1], onnx_path, input_scale=input_scale)
        chk = check(model, onnx_path, ds.x_test[:CHECK_SAMPLES], input_scale=input_scale)
    if not chk.passed:
        # recorded in the report (export_check.passed = false) and shown in the summary
        info(f"warning: QONNX execution differs from Brevitas on {chk.samples_differing}/{chk.samples} samples "
             f"(max abs diff {chk.max_abs_diff:.3g}); see export_check in the report")
    with stage(f"FINN build ({spec.steps}, {spec.part})"):
        result, spec, extra = _fit_or_build(onnx_path, spec, out, cfg.hardware.fit)
    rep = assemble(result, spec, cfg.model.name, onnx_path,
                   {"accuracy": acc, "export_check": chk.as_dict(), "flow_config": cfg.as_dict(), **extra,
                    **_place_fifo_depths(out, None)})
    return _finish(rep, out, onnx_path, allow_unmapped)


def _input_scale(model: torch.nn.Module) -> float | None:
    """The constant input-quantizer scale of hyq models (raw 8-bit pixels), else None."""
    q = getattr(model, "input_q", None)
    if q is None:
        return None
    return float(q.act_quant.scale())


def _fit_or_build(src: Path, spec: BuildSpec, out: Path, fit: float | None, max_fps: int | None = None):
    """(build result, the spec it reports, extra report keys): a plain build, or ``--fit``
    (searching up to ``max_fps`` when given)."""
    if fit is None:
        return build(src, spec, out / "finn"), spec, {}
    import dataclasses

    from hyq.dataflow.fit import fit as fit_part

    result, record = fit_part(src, spec, out / "finn", fit, max_fps)
    info(f"fit: {record['throughput_fps']:,.0f} fps, binding {record['binding_resource']} "
         f"{record['binding_utilisation']:.1%} (limit {fit:.0%}); folding file {record['folding_file']}")
    return result, dataclasses.replace(spec, target_fps=record["target_fps"]), {"fit": record}


def build_onnx(model_path: Path, part: str, out_dir: Path, target_fps: int | None = None,
               folding: Path | None = None, clock_ns: float = config.HardwareConfig.clock_ns,
               steps: str = config.HardwareConfig.steps, allow_unmapped: bool = False,
               fit: float | None = None, requant: str = config.HardwareConfig.requant,
               fifo_depths: Path | None = None) -> dict[str, Any]:
    """FINN estimate build of any QONNX model; writes report.json / report.md to ``out_dir``.

    Every input is checked before FINN starts; unmapped nodes are an error unless ``allow_unmapped``.
    With ``fit`` (a fraction), the folding is searched to fill that fraction of the part;
    ``target_fps`` then caps the search (the fastest folding within the fraction, at most that fps).
    ``fifo_depths``: a FIFO-depth file (``hyq sim --size-fifos``), the depths of the build's
    FIFOs, which exist only in its simulated graph (``hyq sim``; :func:`_place_fifo_depths`).
    """
    model_path = Path(model_path)
    depths = folding_check.load_fifo_depths(fifo_depths) if fifo_depths is not None else None
    load_checked(model_path)  # one clear error for a missing or corrupt file, before anything else
    spec = BuildSpec(part=part, clock_ns=clock_ns, target_fps=target_fps,
                     folding=str(folding) if folding else None, steps=steps, requant=requant)
    require_report_step(spec.steps)
    with outdir.claim(Path(out_dir)) as out:
        return _build_onnx(model_path, spec, out, allow_unmapped, fit, target_fps if fit else None,
                           depths and (Path(fifo_depths), depths))


def _place_fifo_depths(out: Path, given: tuple[Path, dict] | None) -> dict[str, Any]:
    """The FIFO-depth file of a build (``<out>/fifo_depths.json``, which ``hyq sim`` applies to
    the FIFOs it inserts): the given one, checked, or none (an earlier one sized another
    build). Report keys saying so."""
    path = out / folding_check.DEPTHS_FILE
    if given is None:
        path.unlink(missing_ok=True)
        return {}
    src, conf = given
    folding_check.write_conf(path, conf)
    return {"fifo_depths": {"file": str(src.resolve()), "fifos": len(conf[folding_check.FIFO_DEPTHS])}}


def _build_onnx(model_path: Path, spec: BuildSpec, out: Path, allow_unmapped: bool,
                fit: float | None, max_fps: int | None = None,
                fifo_depths: tuple[Path, dict] | None = None) -> dict[str, Any]:
    clear(out)
    src = out / "model.onnx"
    if model_path.resolve() != src.resolve():
        shutil.copyfile(model_path, src)
    with stage(f"FINN build ({spec.steps}, {spec.part})" + (f", fit {fit:.0%}" if fit else "")):
        result, spec, extra = _fit_or_build(src, spec, out, fit, max_fps)
    rep = assemble(result, spec, model_path.name, src, {**extra, **_place_fifo_depths(out, fifo_depths)})
    if not rep["layers"]:
        raise HyqError(f"{model_path}: no node became a FINN hardware layer; is the model quantized (QONNX Quant nodes)?")
    return _finish(rep, out, src, allow_unmapped)
