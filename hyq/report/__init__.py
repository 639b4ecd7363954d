"""Reports: assembly of report.json / report.md from a build, static storage accounting.

Layer: above :mod:`hyq.sim` and :mod:`hyq.dataflow` (it reads their results), below
the jobs that write reports.
"""

from hyq.report.report import assemble, clear, summary, to_markdown, unmapped_error, write
from hyq.report.storage import static_storage, storage_bits

__all__ = ["assemble", "clear", "static_storage", "storage_bits", "summary", "to_markdown", "unmapped_error", "write"]
