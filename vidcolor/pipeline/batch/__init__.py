"""Directory batches: a resumable SQLite ledger, isolated failures, a morning report, optional Ray.

`run_directory(IN, OUT, config, ColorizerSpec(...), RunOptions(...))` is what `vidcolor run DIR` calls.
"""

from .jobs import ColorizerSpec, Job, JobResult
from .ledger import LEDGER_NAME, JobRow, Ledger
from .report import REPORT_NAME
from .runner import BatchSummary, Outcome, default_output_dir, read_ledger, run_directory

__all__ = [
    "LEDGER_NAME",
    "REPORT_NAME",
    "BatchSummary",
    "ColorizerSpec",
    "Job",
    "JobResult",
    "JobRow",
    "Ledger",
    "Outcome",
    "default_output_dir",
    "read_ledger",
    "run_directory",
]
