"""Atomic outputs: nothing partial is left, even by a job killed outright."""

import os
import stat
import subprocess
import tempfile
import tomllib

import pytest

from seqens.io import atomic_path, git_state, manifest

from conftest import REPO


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


def test_manifests_record_the_project_version_and_its_git_state(tmp_path):
    """seqens's version is pyproject.toml's; the commit and uncommitted changes are git's."""
    versions = manifest(config={})["versions"]
    assert versions["seqens"] == tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
    head = subprocess.run(["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True, text=True)
    assert versions["seqens_git"]["commit"] == (head.stdout.strip() if head.returncode == 0 else None)

    repo = tmp_path / "checkout"
    repo.mkdir()
    assert git_state(repo) is None  # not a git checkout
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "init", "-q"], check=True)
    (repo / "tracked.txt").write_text("a\n")
    subprocess.run([*git, "add", "tracked.txt"], check=True)
    subprocess.run([*git, "commit", "-qm", "first"], check=True)
    commit = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
    (repo / "untracked.txt").write_text("results, a study file\n")
    assert git_state(repo) == {"commit": commit, "uncommitted_changes": False}
    (repo / "tracked.txt").write_text("edited\n")
    assert git_state(repo) == {"commit": commit, "uncommitted_changes": True}
