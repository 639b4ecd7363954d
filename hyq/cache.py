"""Content-addressed cache folders (``$HYQ_CACHE``, default ``~/.cache/hyq``).

A key is the hash of everything that determines a result; an entry becomes visible only
when it is complete (written to a temporary folder, then renamed).
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
