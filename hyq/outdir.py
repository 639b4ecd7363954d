"""Output folders: checked before any work starts, and owned by one hyq process at a time.

:func:`claim` creates the folder (refusing an existing file or an unwritable place) and
holds an exclusive ``flock`` on ``OUT/.hyq.lock`` while a command writes there. The kernel
drops the lock when its process ends, however it ends (SIGKILL too), so a lock file left
by a dead process is simply taken over; the pid written into it names the live owner.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

from hyq.errors import HyqError

LOCK_NAME = ".hyq.lock"


def prepare(out: Path, create: bool = True) -> Path:
    """Check (and create) an output folder; HyqError naming the problem otherwise."""
    out = Path(out)
    for p in (out, *out.parents):
        if p.exists() and not p.is_dir():
            what = "the output folder" if p == out else f"a parent of the output folder {out}"
            raise HyqError(f"{p} is an existing file, not a folder ({what}); give another --out")
        if p.exists():
            break
    if create:
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise HyqError(f"cannot create the output folder {out}: {exc.strerror}; give another --out") from None
    if out.is_dir() and not os.access(out, os.W_OK | os.X_OK):
        raise HyqError(f"the output folder {out} is not writable; give another --out")
    return out


@contextlib.contextmanager
def claim(out: Path, create: bool = True) -> Iterator[Path]:
    """Prepare ``out`` and hold its lock for the duration; a second hyq process gets a HyqError."""
    out = prepare(out, create)
    if not out.is_dir():
        raise HyqError(f"output folder not found: {out}")
    lock = out / LOCK_NAME
    try:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise HyqError(f"cannot create the lock file {lock}: {exc.strerror}; give another --out") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            owner = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
            raise HyqError(f"{out} is in use by another hyq process (pid {owner}); wait for it to finish "
                           "or give another --out") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield out
    finally:
        os.close(fd)  # releases the lock
