"""Progress lines on stderr-free stdout: ``[hyq] stage ...`` and timed stages."""

from __future__ import annotations

import sys
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
