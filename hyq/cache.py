"""Content-addressed cache folders (``$HYQ_CACHE``, default ``~/.cache/hyq``).

A key is the hash of everything that determines a result; an entry becomes visible only
when it is complete (written to a temporary folder, then renamed).
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any


def root() -> Path:
    env = os.environ.get("HYQ_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "hyq"


def key(payload: Any, files: Iterable[Path] = ()) -> str:
    """Hash of a JSON-able payload and the contents of ``files``."""
    h = hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode())
    for f in sorted(Path(p) for p in files):
        h.update(str(f.name).encode())
        h.update(f.read_bytes())
    return h.hexdigest()[:20]


def source_files(*packages: str) -> list[Path]:
    """The .py files of hyq sub-packages, so code changes invalidate cached results."""
    base = Path(__file__).resolve().parent
    return [p for pkg in packages for p in sorted((base / pkg).rglob("*.py"))]


_PKG = Path(__file__).resolve().parent


def _module_path(name: str) -> Path | None:
    rel = _PKG.joinpath(*name.split(".")[1:])
    for p in (rel.with_suffix(".py"), rel / "__init__.py"):
        if p.is_file():
            return p
    return None


def _imported(path: Path, package: str) -> set[str]:
    """hyq modules named by the imports of ``path`` (function-level ones too)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([base] if base else []))
            names.add(base)
            names |= {f"{base}.{a.name}" for a in node.names}
    return {n for n in names if n == "hyq" or n.startswith("hyq.")}


def module_files(*modules: str) -> list[Path]:
    """The source files of ``modules`` and of every hyq module they import, transitively.

    Found by reading the imports (including those inside functions), so a cache key built
    from them follows the code a job really runs instead of a hand-kept package list. An
    imported package counts with all its modules (``hyq.dataflow.ops`` imports its
    operators dynamically); the root ``hyq`` counts only its ``__init__``.
    """
    seen: dict[str, Path] = {}
    todo = list(modules)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        path = _module_path(name)
        if path is None:
            continue
        seen[name] = path
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        todo += _imported(path, package)
        if path.name == "__init__.py" and name != "hyq":
            todo += [f"{name}.{p.stem}" for p in path.parent.glob("*.py") if p.stem != "__init__"]
            todo += [f"{name}.{d.name}" for d in path.parent.iterdir() if (d / "__init__.py").is_file()]
    return sorted(set(seen.values()))


def entry(kind: str, k: str, make: Callable[[Path], None]) -> Path:
    """Return the cache folder ``kind/k``, calling ``make(tmpdir)`` to fill it if missing."""
    final = root() / kind / k
    if final.is_dir():
        return final
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{k}-", dir=final.parent))
    try:
        make(tmp)
        try:
            os.replace(tmp, final)
        except OSError:
            if not final.is_dir():
                raise
            shutil.rmtree(tmp, ignore_errors=True)  # another process filled the same key first
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final
