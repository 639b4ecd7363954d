"""Content-addressed cache folders (``$HYQ_CACHE``, default ``~/.cache/hyq``).

A key is the hash of everything that determines a result; an entry becomes visible only
when it is complete (written to a temporary folder, then renamed). Each entry holds a
manifest of its files' sizes and digests, written last; an entry whose files no longer
match it (truncated or damaged on disk, or from before manifests) is recomputed.
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


MANIFEST = ".hyq-manifest.json"


def _digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _manifest(folder: Path) -> dict[str, list]:
    return {str(p.relative_to(folder)): [p.stat().st_size, _digest(p)]
            for p in sorted(folder.rglob("*")) if p.is_file() and p.name != MANIFEST}


def intact(folder: Path) -> bool:
    """Whether a cache folder still holds exactly the files its manifest records."""
    try:
        recorded = json.loads((folder / MANIFEST).read_text())
        return recorded == _manifest(folder)
    except (OSError, ValueError):
        return False


def has(kind: str, k: str) -> bool:
    """Whether ``kind/k`` is a complete, intact entry."""
    return intact(root() / kind / k)


def _discard(final: Path) -> None:
    """Move a damaged entry out of sight first (atomic), then delete it."""
    trash = Path(tempfile.mkdtemp(prefix=f".bad-{final.name}-", dir=final.parent))
    try:
        os.replace(final, trash / "entry")
    except OSError:
        pass  # another process discarded (or refilled) it first
    shutil.rmtree(trash, ignore_errors=True)


def entry(kind: str, k: str, make: Callable[[Path], None]) -> Path:
    """Return the cache folder ``kind/k``, calling ``make(tmpdir)`` to fill it if missing or damaged."""
    final = root() / kind / k
    if final.is_dir():
        if intact(final):
            return final
        _discard(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{k}-", dir=final.parent))
    try:
        make(tmp)
        record = tmp / f"{MANIFEST}.tmp"
        record.write_text(json.dumps(_manifest(tmp)))
        os.replace(record, tmp / MANIFEST)  # written last: no manifest, no entry
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
