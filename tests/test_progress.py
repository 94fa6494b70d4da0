"""Progress of long steps reaches the job's log as lines, at the configured interval."""

import logging
import time

from seqens.progress import progress


def test_progress_is_logged_as_lines_with_rate_and_time_left(monkeypatch, caplog):
    monkeypatch.setenv("SEQENS_PROGRESS_SECONDS", "0.05")
    with caplog.at_level(logging.INFO, logger="seqens"):
        for _ in progress(range(6), desc="windows", unit="win"):
            time.sleep(0.03)
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) >= 3 and not any("\r" in line for line in lines)
    assert lines[-1].startswith("windows: 100%") and "6/6 win" in lines[-1] and "win/s" in lines[-1]
    assert any("<" in line for line in lines[1:-1])  # elapsed<remaining, while running


def test_by_default_a_quick_step_logs_just_its_start_and_end(monkeypatch, caplog):
    monkeypatch.delenv("SEQENS_PROGRESS_SECONDS", raising=False)
    with caplog.at_level(logging.INFO, logger="seqens"):
        with progress(desc="documents", unit="doc") as bar:
            bar.update(10)
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2 and lines[0].startswith("documents: 0 doc")  # its start and its end
    assert lines[-1].startswith("documents: 10 doc") and "doc/s" in lines[-1]
