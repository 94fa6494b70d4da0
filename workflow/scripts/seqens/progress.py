"""Progress of long steps, written to the job's log: a line every ``SEQENS_PROGRESS_SECONDS``
(default 30) with the count, the rate and, when the total is known, the time left; and one
when the step ends. So a 7-hour job can be told from a hung one by reading its log file."""

from __future__ import annotations

import logging
import os

from tqdm.auto import tqdm

log = logging.getLogger("seqens")


class _LogLines:
    """A file for tqdm that turns each refresh into one log line (no carriage returns)."""

    def write(self, text: str) -> int:
        line = text.strip("\r\n ")
        if line:
            log.info("%s", line)
        return len(text)

    def flush(self) -> None:
        pass


# No bar: a log line says how far, how fast and how long still.
WITH_TOTAL = "{desc}: {percentage:3.0f}% {n_fmt}/{total_fmt} {unit} [{elapsed}<{remaining}, {rate_fmt}{postfix}]"
WITHOUT_TOTAL = "{desc}: {n_fmt} {unit} [{elapsed}, {rate_fmt}{postfix}]"


def progress(iterable=None, *, desc: str, total: int | None = None, unit: str = "it", **options) -> tqdm:
    """A tqdm counter whose refreshes are log lines at most every SEQENS_PROGRESS_SECONDS."""
    seconds = float(os.environ.get("SEQENS_PROGRESS_SECONDS", 30))
    if total is None and hasattr(iterable, "__len__"):
        total = len(iterable)
    return tqdm(
        iterable, desc=desc, total=total, unit=unit, file=_LogLines(), mininterval=seconds, maxinterval=max(seconds, 1),
        bar_format=WITH_TOTAL if total is not None else WITHOUT_TOTAL, **options,
    )
