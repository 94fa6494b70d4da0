"""Atomic outputs: nothing partial is left, even by a job killed outright."""

import os
import stat
import tempfile

import pytest

from seqens.io import atomic_path


def killed_write(path, directory=False):
    """What a write killed by SIGKILL leaves: the temporary sibling, as atomic_path names it."""
    if directory:
        return tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    return tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)[1]


def test_a_failed_write_leaves_nothing_and_keeps_the_old_output(tmp_path):
    out = tmp_path / "table.csv"
    out.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_path(out) as tmp:
            tmp.write_text("half")
            raise RuntimeError("job failed")
    assert out.read_text() == "old" and sorted(p.name for p in tmp_path.iterdir()) == ["table.csv"]


def test_temporaries_of_a_killed_job_are_removed_by_the_next_write(tmp_path):
    out, model = tmp_path / "train.txt", tmp_path / "seed1"
    stale = [killed_write(out), killed_write(out), killed_write(model, directory=True)]
    other = tmp_path / "train.txt.gz"  # another output whose name extends this one's
    foreign = killed_write(other)
    with atomic_path(out) as tmp:
        tmp.write_text("new")
    with atomic_path(model, directory=True) as tmp:
        (tmp / "model.safetensors").write_bytes(b"weights")
    names = {p.name for p in tmp_path.iterdir()}
    assert names == {"train.txt", "seed1", foreign.rsplit("/", 1)[1]}, (names, stale)


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_outputs_honour_the_umask(tmp_path, umask):
    previous = os.umask(umask)
    try:
        with atomic_path(tmp_path / "table.csv") as tmp:
            tmp.write_text("a\n")
        with atomic_path(tmp_path / "member", directory=True) as tmp:
            (tmp / "weights.bin").write_bytes(b"w")
            os.close(os.open(tmp / "model.safetensors", os.O_CREAT | os.O_WRONLY, 0o600))  # as safetensors does
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / "table.csv").stat().st_mode) == 0o666 & ~umask
    assert stat.S_IMODE((tmp_path / "member").stat().st_mode) == 0o777 & ~umask
    assert stat.S_IMODE((tmp_path / "member" / "weights.bin").stat().st_mode) == 0o666 & ~umask
    assert stat.S_IMODE((tmp_path / "member" / "model.safetensors").stat().st_mode) == 0o666 & ~umask
