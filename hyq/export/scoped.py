"""Library functions replaced for the extent of a block, and only there.

hyq speeds up (:mod:`hyq.export.fast_cleanup`) and bounds (:mod:`hyq.export.bounded`) some
qonnx and finn-plus methods without patching them for the whole process: a
:class:`ScopedSwap` installs its replacements when the outermost block enters and puts the
originals back when it leaves. Blocks nest (a depth count) and are thread-safe.
"""

from __future__ import annotations

import contextlib
import threading


class ScopedSwap:
    """``(owner, attribute) -> replacement``, swapped in inside :meth:`active` blocks."""

    def __init__(self, replacements: dict[tuple[object, str], object]):
        self.replacements = dict(replacements)
        #: the owners' own attributes, taken when the swap is made (before any block runs)
        self.original = {key: getattr(*key) for key in self.replacements}
        self._depth = 0
        self._lock = threading.Lock()

    def _install(self, table: dict) -> None:
        for (owner, attr), fn in table.items():
            setattr(owner, attr, fn)

    @contextlib.contextmanager
    def active(self):
        with self._lock:
            if self._depth == 0:
                self._install(self.replacements)
            self._depth += 1
        try:
            yield
        finally:
            with self._lock:
                self._depth -= 1
                if self._depth == 0:
                    self._install(self.original)
