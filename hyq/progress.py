"""Progress lines on stderr-free stdout: ``[hyq] stage ...`` and timed stages."""

from __future__ import annotations

import sys
import warnings
import time
from contextlib import contextmanager


def info(msg: str) -> None:
    print(f"[hyq] {msg}", flush=True, file=sys.stdout)


@contextmanager
def stage(name: str):
    """Print the start and the duration of a named stage."""
    info(f"{name} ...")
    t0 = time.perf_counter()
    yield
    info(f"{name} done ({time.perf_counter() - t0:.1f} s)")


#: third-party packages whose import-time and runtime warnings (torch without CUDA,
#: Brevitas' optional kernels, qonnx/FINN deprecations) are kept off hyq's console
QUIET_PACKAGES = ("torch", "torchvision", "brevitas", "qonnx", "finn", "onnx", "onnxscript", "onnxruntime",
                  "sklearn", "dask", "distributed", "timm", "pyverilator", "numpy")


def quiet_libraries() -> None:
    """Ignore warnings raised inside :data:`QUIET_PACKAGES` (hyq's own warnings still show)."""
    for pkg in QUIET_PACKAGES:
        warnings.filterwarnings("ignore", module=rf"{pkg}(\.|$)")
