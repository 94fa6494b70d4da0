"""What every workflow script shares: logging to the rule's log file, and one-line errors."""

from __future__ import annotations

import logging
import os
import sys
import time
from typing import Callable

from .errors import DISK_FULL, InputError

log = logging.getLogger("seqens")

def disk_full_message(error: OSError, outputs: list[str]) -> str:
    """One line naming where a write ran out of space: the file if the error names it (a
    failed write() does not), else the job's outputs."""
    where = error.filename or ", ".join(map(str, outputs)) or "a file"
    return f"{where}: {DISK_FULL[error.errno]} while writing it; free space on that disk and rerun"


def configure_logging(log_path: str | None) -> None:
    """Log to stderr and the rule's log file. The training processes torchrun starts for one
    job (seqens.distributed) share the file: it is begun by the launching process and
    appended to, and only rank 0 logs progress (the others warnings and errors)."""
    rank = os.environ.get("RANK")  # set by torchrun
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_path:
        os.makedirs(os.path.dirname(log_path) or ".", exist_ok=True)
        if rank is None:
            open(log_path, "w").close()
        handlers.append(logging.FileHandler(log_path, mode="a"))
    logging.basicConfig(
        level=logging.INFO if rank in (None, "0") else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: " + (f"rank {rank}: " if rank else "") + "%(message)s",
        handlers=handlers,
        force=True,
    )


def run_script(snakemake, main: Callable[[object], None]) -> None:
    """Run a script's main with logging set up; bad input, and a full disk, exit with a
    one-line message."""
    configure_logging(snakemake.log[0] if snakemake.log else None)
    started = time.perf_counter()
    try:
        main(snakemake)
    except InputError as error:
        log.error("%s", error)
        sys.exit(1)
    except OSError as error:
        if error.errno not in DISK_FULL:
            log.exception("%s failed", snakemake.rule)
            raise
        log.error("%s", disk_full_message(error, list(snakemake.output)))
        sys.exit(1)
    except Exception:
        log.exception("%s failed", snakemake.rule)
        raise
    log.info("%s done in %.1f s", snakemake.rule, time.perf_counter() - started)
