"""finn-plus' two bit-width steps against hyq's (:mod:`hyq.dataflow.bitwidth`) on a real build:
the seconds of each on the same input model, and whether the graphs they leave are identical.

Usage: ``.venv/bin/python benchmarks/bitwidth_steps.py BUILD/finn [BUILD/finn ...]``
(a ``hyq build`` / ``hyq run`` output's ``finn`` folder, with its intermediate models).
"""

from __future__ import annotations

import contextlib
import io
import sys
import tempfile
import time
from pathlib import Path

from qonnx.core.modelwrapper import ModelWrapper

from hyq.dataflow import bitwidth, finn_env
from hyq.dataflow.build import BuildSpec, _finn_cfg, _resolve
from hyq.export import fast_cleanup

#: hyq's step, FINN's step it replaces
PAIRS = (("step_hyq_minimize_bit_width_initial", "step_minimize_bit_width_initial"),
         ("step_hyq_minimize_bit_width", "step_minimize_bit_width"))


def _input_of(inter: Path, names: tuple[str, ...]) -> Path | None:
    """The saved model the step ran on: the one saved just before the step's own."""
    models = sorted(inter.glob("[0-9][0-9]_*.onnx"))
    for i, m in enumerate(models):
        if m.stem[3:] in names and i > 0:
            return models[i - 1]
    return None


def _run(step, path: Path, cfg) -> tuple[float, bytes]:
    model = ModelWrapper(str(path))
    t0 = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):  # FINN's per-layer messages
        model = step(model, cfg)
    return time.perf_counter() - t0, model.model.SerializeToString()


def main(dirs: list[str]) -> None:
    print(f"{'build':40} {'step':34} {'FINN s':>8} {'hyq s':>8} identical")
    for d in dirs:
        inter = Path(d) / "intermediate_models"
        with tempfile.TemporaryDirectory() as tmp, fast_cleanup.fast_passes(), finn_env.build_settings(Path(tmp)):
            cfg = _finn_cfg(BuildSpec(part="xc7z020clg400-1"), Path(tmp))
            for ours, theirs in PAIRS:
                src = _input_of(inter, (ours, theirs))
                if src is None:
                    continue
                t_finn, g_finn = _run(_resolve(theirs), src, cfg)
                t_hyq, g_hyq = _run(getattr(bitwidth, ours), src, cfg)
                print(f"{str(d)[-40:]:40} {theirs:34} {t_finn:8.2f} {t_hyq:8.2f} {g_finn == g_hyq}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
