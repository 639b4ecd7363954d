"""Content-hashed build folders shared by the EDA drivers."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path


def cache_root() -> Path:
    """Root of hyq's build caches: ``$HYQ_CACHE`` if set, else ``~/.cache/hyq``."""
    env = os.environ.get("HYQ_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "hyq"


def content_hash(files: list[Path], extra: dict) -> str:
    """SHA-256 (hex, 16 chars) over file names and contents plus a JSON-able dict."""
    h = hashlib.sha256()
    for f in files:
        h.update(Path(f).name.encode())
        h.update(Path(f).read_bytes())
    h.update(json.dumps(extra, sort_keys=True, default=str).encode())
    return h.hexdigest()[:16]
