"""The one place that makes finn-plus' builder usable without AMD tools.

finn-plus assumes Vivado/Vitis at import and at the end of a build. hyq needs only the
steps that run without them (graph transformations, estimates, RTL code generation), so:

1. ``finn.builder.build_dataflow_steps`` imports ``SimEngine`` from ``finn.xsi``, whose lazy
   names demand Vivado's xsim bridge: those names are set to ``None`` before the import.
2. FINN's global settings are normally created by its CLI (which refuses to start without
   Vivado): hyq creates them for a build directory of its own choosing, for the extent of
   a build (:func:`build_settings`) and restores the previous ones afterwards.
3. ``build_dataflow_cfg`` ends by asking Vivado for its version: hyq does not call it, it
   runs the steps itself (see :mod:`hyq.dataflow.build`), so no fake Vivado path is needed.

Nothing else in hyq imports ``finn.builder`` directly; everything goes through
:func:`finn_steps`. :func:`vivado_available` tells whether vendor steps could run.
"""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
from pathlib import Path
from types import ModuleType


def vivado_available() -> bool:
    """True when a Vivado installation is on this machine (XILINX_VIVADO or on PATH)."""
    root = os.environ.get("XILINX_VIVADO")
    return bool(root and Path(root, "bin", "vivado").exists()) or shutil.which("vivado") is not None


@functools.cache
def _patch_xsi() -> None:
    import finn.xsi

    if not vivado_available():
        for name in finn.xsi._LAZY_NAMES:
            setattr(finn.xsi, name, None)


def use_build_dir(build_dir: Path) -> None:
    """Point FINN's global settings (where generated code lands) at ``build_dir``."""
    import finn.util.settings as fs
    from finn.interface.settings import FINNSettings

    build_dir = Path(build_dir).resolve()
    build_dir.mkdir(parents=True, exist_ok=True)
    os.environ["FINN_BUILD_DIR"] = str(build_dir)
    fs._SETTINGS = FINNSettings.init(
        flow_config=build_dir / "dummy.yaml", finn_build_dir=str(build_dir), auto_set_environment_vars=False
    )


@contextlib.contextmanager
def build_settings(build_dir: Path):
    """FINN's global settings pointed at ``build_dir`` inside the block, the previous ones after."""
    import finn.util.settings as fs

    before, env = fs._SETTINGS, os.environ.get("FINN_BUILD_DIR")
    use_build_dir(build_dir)
    try:
        yield
    finally:
        fs._SETTINGS = before
        if env is None:
            os.environ.pop("FINN_BUILD_DIR", None)
        else:
            os.environ["FINN_BUILD_DIR"] = env


def finn_steps() -> ModuleType:
    """``finn.builder.build_dataflow_steps``, importable on a machine without Vivado."""
    _patch_xsi()
    import finn.builder.build_dataflow_steps as steps

    return steps


def finn_config() -> ModuleType:
    """``finn.builder.build_dataflow_config`` (DataflowBuildConfig and the step lists)."""
    _patch_xsi()
    import finn.builder.build_dataflow_config as cfg

    return cfg
