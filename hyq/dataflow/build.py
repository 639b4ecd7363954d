"""The FINN dataflow build: a flow is a list of named steps run in order, resumable.

Each step's model is saved as ``<out>/intermediate_models/NN_<step>.onnx`` and recorded in
``<out>/progress.json`` together with a hash of the input model and the build settings;
a rerun with the same input and settings continues after the last finished step.
FINN's own output of a step goes to ``<out>/build.log``; the console gets one line a step.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from qonnx.core.modelwrapper import ModelWrapper

from hyq.config import STEP_SETS, HardwareConfig
from hyq.dataflow import finn_env, folding_check, parts
from hyq.dataflow.bitwidth import step_hyq_minimize_bit_width, step_hyq_minimize_bit_width_initial
from hyq.dataflow.steps import (step_hyq_convert_layernorm, step_hyq_convert_softmax, step_hyq_convert_tables,
                                step_hyq_folding, step_hyq_requant, step_hyq_rtl_layers, step_hyq_streamline,
                                step_hyq_table_layouts, step_hyq_tabulate)
from hyq.export import bounded, fast_cleanup, load_checked
from hyq.errors import HyqError
from hyq.progress import info

#: the FINN step whose estimates (``report/estimate_layer_*.json``) hyq's report reads
REPORT_STEP = "step_generate_estimate_reports"

#: The step lists by name (hardware.steps in a flow file). Strings are finn-plus steps. The
#: names, and what each adds to the estimate steps, are config.STEP_SETS (checked with the flow file).
STEPS: dict[str, list] = {
    "estimate": [
        step_hyq_tabulate,  # a user's float activations between quantizers -> tables; no-op without
        "step_qonnx_to_finn",
        "step_tidy_up",
        step_hyq_convert_tables,  # SiLU & co. (TableActivation) -> HyqLookup; no-op without
        step_hyq_streamline,
        step_hyq_table_layouts,  # transposes in front of tables move behind them; no-op without
        step_hyq_convert_layernorm,  # integer LayerNorm -> HyqLayerNorm; no-op without
        step_hyq_convert_softmax,  # hybrid models: integer softmax; no-op for CNNs
        "step_convert_to_hw",
        step_hyq_minimize_bit_width_initial,  # FINN's step, thresholds checked in array time
        "step_create_dataflow_partition",
        "step_specialize_layers",
        "step_target_fps_parallelization",
        "step_apply_folding_config",
        "step_transpose_decomposition",  # Shuffle -> Inner/OuterShuffle layers (no-op without)
        step_hyq_rtl_layers,  # HLS-only layers (non-Versal) -> hyq's RTL layers
        step_hyq_requant,  # threshold tables -> requantization where proven exact (hardware.requant)
        step_hyq_folding,  # hyq's own layers folded for target_fps too
        step_hyq_minimize_bit_width,  # FINN's step_minimize_bit_width, thresholds checked in array time
        REPORT_STEP,
    ],
}
STEPS.update({name: [*STEPS["estimate"], *extra] for name, extra in STEP_SETS.items()})
#: hyq's own build steps by name, which a flow file's step list may name next to FINN's
HYQ_STEPS: dict[str, Callable] = {s.__name__: s for s in STEPS["estimate"] if not isinstance(s, str)}


def step_list(steps: str | tuple[str, ...] | list[str]) -> list:
    """The steps a build runs: a preset of :data:`STEPS` by name, or a list of step names
    (hyq's, :data:`HYQ_STEPS`, and finn-plus', as FINN's DataflowBuildConfig.steps takes them)."""
    if isinstance(steps, str):
        if steps not in STEPS:
            raise HyqError(f"unknown step list '{steps}'; use one of {', '.join(STEPS)} or a list of step names")
        return STEPS[steps]
    if not steps:
        raise HyqError(f"hardware.steps is an empty list; name a preset ({', '.join(STEPS)}) or list steps")
    finn = finn_env.finn_steps().build_dataflow_step_lookup
    for name in steps:
        if name not in HYQ_STEPS and name not in finn:
            raise HyqError(f"unknown build step '{name}' in hardware.steps; known: presets {', '.join(STEPS)}, "
                           f"hyq's {', '.join(HYQ_STEPS)}, FINN's {', '.join(finn)}")
    return [HYQ_STEPS.get(name, name) for name in steps]


def require_report_step(steps: str | tuple[str, ...] | list[str]) -> None:
    """One error line when a step list that is to be reported lacks :data:`REPORT_STEP`."""
    if REPORT_STEP not in [_step_name(s) for s in step_list(steps)]:
        raise HyqError(f"hardware.steps has no {REPORT_STEP}, whose estimates the report reads; "
                       f"add it after the folding steps, or use a preset ({', '.join(STEPS)})")


_PART = re.compile(r"^xc[0-9a-z]+(-[0-9a-z]+)*$", re.IGNORECASE)


@dataclass(frozen=True)
class BuildSpec:
    """Hardware settings of a build (from a flow file's ``hardware`` section or the CLI)."""

    part: str
    clock_ns: float = HardwareConfig.clock_ns
    target_fps: int | None = None
    folding: str | None = None
    steps: str | tuple[str, ...] = HardwareConfig.steps  # a preset name or step names
    standalone_thresholds: bool = HardwareConfig.standalone_thresholds
    requant: str = HardwareConfig.requant

    def __post_init__(self) -> None:
        if not _PART.match(self.part):
            raise HyqError(f"unknown FPGA part '{self.part}'; give a full AMD part name such as xc7z020clg400-1")
        parts.capacity(self.part)  # a part neither hyq's table nor finn-plus knows is an error
        if not isinstance(self.steps, str):
            object.__setattr__(self, "steps", tuple(self.steps))
        step_list(self.steps)  # an unknown preset or step name is one error line
        if self.requant not in ("auto", "always", "never"):
            raise HyqError(f"unknown requant mode '{self.requant}'; use auto, always or never")
        if not self.clock_ns > 0:
            raise HyqError(f"clock period must be > 0 ns, got {self.clock_ns}")
        if self.target_fps is not None and self.target_fps <= 0:
            raise HyqError(f"target fps must be > 0, got {self.target_fps}")
        if self.folding is not None:
            folding_check.load(self.folding)  # JSON and value types now; layer names before folding
        if self.target_fps is None and self.folding is None:
            object.__setattr__(self, "target_fps", HardwareConfig.target_fps)


@dataclass
class BuildResult:
    """Where a finished build left its models and FINN's reports."""

    out_dir: Path
    model: Path
    parent: Path | None
    steps: list[str]
    resumed_after: str | None = None
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def finn_report_dir(self) -> Path:
        return self.out_dir / "report"


def _step_name(step) -> str:
    return step if isinstance(step, str) else step.__name__


def _resolve(step) -> Callable:
    from hyq.dataflow.ops import register

    register()  # hyq's HW layers into finn-plus' tables (idempotent)

    return finn_env.finn_steps().build_dataflow_step_lookup[step] if isinstance(step, str) else step


def _finn_cfg(spec: BuildSpec, out_dir: Path):
    c = finn_env.finn_config()
    cfg = c.DataflowBuildConfig(
        output_dir=str(out_dir),
        synth_clk_period_ns=float(spec.clock_ns),
        fpga_part=spec.part,
        target_fps=spec.target_fps if spec.folding is None else None,
        folding_config_file=spec.folding,
        generate_outputs=[c.DataflowOutputType.ESTIMATE_REPORTS],
        standalone_thresholds=spec.standalone_thresholds,
        save_intermediate_models=True,
        # FINN's second folding pass relaxes every layer to the slowest one after its first
        # pass; that one is often one of hyq's layers, which step_hyq_folding folds only
        # later, so the relaxed FINN layers became the bottleneck (XXS: MVAUs at PE 1, 3.3 M
        # cycles, 31 of 100 fps). Each layer is folded for the target itself instead.
        folding_two_pass_relaxation=False,
    )
    cfg.hyq_requant = spec.requant  # read by step_hyq_requant (FINN's config has no such field)
    return cfg


def _fingerprint(model_path: Path, spec: BuildSpec) -> str:
    h = hashlib.sha256(Path(model_path).read_bytes())
    d = asdict(spec)
    if spec.folding:
        d["folding"] = Path(spec.folding).read_text()
    h.update(json.dumps(d, sort_keys=True).encode())
    return h.hexdigest()[:20]


def _translate(exc: Exception, step: str) -> HyqError:
    """FINN's errors as one actionable line."""
    msg = " ".join(str(exc).split())
    m = re.search(r"Complete list of unmapped nodes: (.*)$", msg)
    if m:
        return HyqError(
            f"nodes FINN cannot map to hardware layers: {m.group(1)}; "
            "quantize these operators (Brevitas Quant* layers) or replace them with hardware-friendly ones"
        )
    return HyqError(f"FINN step {step} failed: {msg[:300]}; rerun with --debug for the traceback")


def _save_atomic(model: ModelWrapper, path: Path) -> None:
    """Save a step's model so that a killed process never leaves half a file under the final name."""
    tmp = path.with_name(f".{path.name}.tmp")
    model.save(str(tmp))
    os.replace(tmp, path)


def build(model_path: Path, spec: BuildSpec, out_dir: Path) -> BuildResult:
    """Run the FINN dataflow steps of ``spec`` on the QONNX model at ``model_path``.

    qonnx's linear-time passes (streamlining large graphs is quadratic without them), bounded
    fixed-point loops (a rewrite that never converges fails, :mod:`hyq.export.bounded`) and
    FINN's settings (generated code under ``out_dir/finn_gen``) hold for this build only.
    """
    with _build_scope(out_dir):
        return _build(model_path, spec, out_dir)


@contextlib.contextmanager
def _build_scope(out_dir: Path):
    """What holds while a build's steps run (see :func:`build`)."""
    with fast_cleanup.fast_passes(), bounded.bounded_passes(), finn_env.build_settings(Path(out_dir).resolve() / "finn_gen"):
        yield


def _run_step(step, name: str, model: ModelWrapper, cfg, log_path: Path) -> ModelWrapper:
    """One step, FINN's output to ``log_path``, a failure as one actionable line."""
    try:
        with open(log_path, "a") as log, contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
            print(f"=== {name}")
            return _resolve(step)(model, cfg)
    except bounded.NoProgress as exc:
        raise bounded.NoProgress(f"FINN step {name}: {exc}; FINN's log: {log_path}") from None
    except HyqError:
        raise
    except Exception as exc:
        raise _translate(exc, name) from exc


def _build(model_path: Path, spec: BuildSpec, out_dir: Path) -> BuildResult:
    out_dir = Path(out_dir).resolve()
    inter = out_dir / "intermediate_models"
    inter.mkdir(parents=True, exist_ok=True)
    steps = step_list(spec.steps)
    names = [_step_name(s) for s in steps]
    fp = _fingerprint(model_path, spec)
    progress_file = out_dir / "progress.json"
    done: list[str] = []
    if progress_file.is_file():
        try:
            prog = json.loads(progress_file.read_text())
        except ValueError:  # unreadable record: start over rather than trust it
            prog = {}
        if prog.get("fingerprint") == fp and prog.get("done") == names[: len(prog.get("done", []))]:
            done = [n for n in prog["done"] if (inter / f"{names.index(n):02d}_{n}.onnx").is_file()]
    cfg = _finn_cfg(spec, out_dir)
    resumed_after = None
    if done:
        last = done[-1]
        model = ModelWrapper(str(inter / f"{names.index(last):02d}_{last}.onnx"))
        resumed_after = last
        info(f"resuming FINN build after {last} ({len(done)}/{len(names)} steps done)")
    else:
        model = load_checked(model_path)
    seconds: dict[str, float] = {}
    log_path = out_dir / "build.log"
    for i, (step, name) in enumerate(zip(steps, names)):
        if name in done:
            continue
        if name == "step_apply_folding_config" and spec.folding:
            folding_check.check_names(spec.folding, model)  # names the file and key, not FINN's step
        t0 = time.perf_counter()
        model = _run_step(step, name, model, cfg, log_path)
        seconds[name] = round(time.perf_counter() - t0, 2)
        _save_atomic(model, inter / f"{i:02d}_{name}.onnx")
        done.append(name)
        tmp = progress_file.with_suffix(".tmp")
        tmp.write_text(json.dumps({"fingerprint": fp, "done": done}, indent=1))
        os.replace(tmp, progress_file)  # atomic: an interruption never leaves half a record
        info(f"FINN step {i + 1}/{len(names)} {name} ({seconds[name]:.1f} s)")
    final = inter / f"{len(names) - 1:02d}_{names[-1]}.onnx"
    parent = inter / "dataflow_parent.onnx"
    return BuildResult(out_dir, final, parent if parent.is_file() else None, names, resumed_after, seconds)


def add_codegen(out_dir: Path, part: str, clock_ns: float) -> Path:
    """Generate the RTL of a finished estimate build in place: FINN's ``step_hw_codegen`` on its
    last model, saved next to it as a codegen build would save it (what ``hyq sim`` needs).

    The estimate steps' record is left as it is, so the build still resumes as an estimate build.
    """
    out_dir = Path(out_dir).resolve()
    inter = out_dir / "intermediate_models"
    names = STEPS["estimate"]
    last = inter / f"{len(names) - 1:02d}_{_step_name(names[-1])}.onnx"
    if not last.is_file():
        raise HyqError(f"{out_dir.parent} has no finished estimate build ({last.name} is missing); "
                       "run `hyq build` or `hyq run` again")
    (extra,) = STEP_SETS["codegen"]
    cfg = _finn_cfg(BuildSpec(part=part, clock_ns=clock_ns), out_dir)
    info(f"generating the RTL of this estimate build ({extra}) ...")
    t0 = time.perf_counter()
    with _build_scope(out_dir):
        model = _run_step(extra, extra, ModelWrapper(str(last)), cfg, out_dir / "build.log")
    path = inter / f"{len(names):02d}_{extra}.onnx"
    _save_atomic(model, path)
    info(f"RTL generated ({time.perf_counter() - t0:.1f} s)")
    return path
