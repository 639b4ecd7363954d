"""Content-addressed cache folders (``$HYQ_CACHE``, default ``~/.cache/hyq``).

A key is the hash of everything that determines a result; an entry becomes visible only
when it is complete (written to a temporary folder, then renamed). Each entry holds a
manifest of its files' sizes and digests, written last; an entry whose files no longer
match it (truncated or damaged on disk, or from before manifests) is recomputed.
"""

from __future__ import annotations

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
