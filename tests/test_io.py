"""Atomic outputs: nothing partial is left, even by a job killed outright."""

import errno
import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import tomllib

import pytest

from seqens.errors import InputError
from seqens.io import atomic_path, git_state, manifest, remove_with_empty_folders

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


@pytest.mark.parametrize("capability", ["AVX2", "DEFAULT"])
def test_manifests_record_the_cpu_kernel_family_torch_computes_with(capability):
    """Bits are identical only within one kernel family (README, "Reproducibility"), so a
    manifest written where torch runs names it; ATEN_CPU_CAPABILITY chooses it."""
    probe = (
        "import json, sys, torch; from seqens.io import manifest; "
        "print(json.dumps([manifest(config={})['host']['cpu_kernels'], torch.backends.cpu.get_cpu_capability()]))"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO / "workflow" / "scripts"), "ATEN_CPU_CAPABILITY": capability.lower()}
    if capability == "DEFAULT":
        env.pop("ATEN_CPU_CAPABILITY")
    recorded, actual = json.loads(subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True,
                                                 text=True, check=True).stdout)
    assert recorded == actual and recorded == (actual if capability == "DEFAULT" else "AVX2")
    assert manifest(config={})["host"]["cpu_kernels"] == (
        sys.modules["torch"].backends.cpu.get_cpu_capability() if "torch" in sys.modules else None
    )


def disk_with_free_space(monkeypatch, free):
    """shutil.disk_usage as on a filesystem with ``free`` bytes left."""
    real = shutil.disk_usage
    monkeypatch.setattr(shutil, "disk_usage", lambda path: real(path)._replace(free=free))


class RustWriterError(Exception):
    """What safetensors and tokenizers raise: an Exception whose only clue is the message."""


@pytest.mark.parametrize("directory", [False, True])
@pytest.mark.parametrize(
    "failure, cause",
    [
        (OSError(errno.ENOSPC, "No space left on device"), "no space left on device"),  # open().write, to_csv
        (OSError(errno.EDQUOT, "Disk quota exceeded"), "disk quota exceeded"),  # shared cluster storage
        (RustWriterError("Error while serializing: I/O error: No space left on device (os error 28)"),
         "no space left on device"),  # safetensors
        (OSError("1000000 requested and 65520 written"), "no space left on device"),  # numpy.save, no errno
    ],
)
def test_a_write_on_a_full_disk_is_one_line_naming_the_path_and_the_free_space(tmp_path, monkeypatch, failure,
                                                                               cause, directory):
    disk_with_free_space(monkeypatch, 0)
    out = tmp_path / "results" / "member"
    with pytest.raises(InputError) as raised:
        with atomic_path(out, directory=directory) as tmp:
            (tmp / "weights" if directory else tmp).write_bytes(b"partial")
            raise failure
    message = str(raised.value)
    assert message.startswith(f"{cause} writing {out} (0 B free on /")
    assert "free space there, or give the study a folder on another disk (`results:` in the config)" in message
    assert "\n" not in message and raised.value.__cause__ is failure
    assert [p.name for p in (tmp_path / "results").iterdir()] == []  # the partial output is gone


def test_a_write_error_with_room_on_the_disk_is_not_put_down_to_disk_space(tmp_path, monkeypatch):
    disk_with_free_space(monkeypatch, 10**10)
    with pytest.raises(OSError, match="requested and"):
        with atomic_path(tmp_path / "array.npy"):
            raise OSError("1000000 requested and 65520 written")
    with pytest.raises(InputError, match="^the user's own one-line error$"):  # passed on as it is
        with atomic_path(tmp_path / "array.npy"):
            raise InputError("the user's own one-line error")


def test_removing_a_finished_checkpoint_removes_the_folders_it_leaves_empty_up_to_the_root(tmp_path):
    root = tmp_path / "results" / "checkpoints"
    mine = root / "wiki" / "bpe" / "bert" / "mlm" / "seed1" / "checkpoint.pt"
    sibling = root / "wiki" / "bpe" / "bert" / "mlm" / "seed2" / "checkpoint.pt"
    for checkpoint in (mine, sibling):
        checkpoint.parent.mkdir(parents=True)
        checkpoint.write_bytes(b"state")
    remove_with_empty_folders(mine, root)
    assert not mine.parent.exists() and sibling.is_file()  # seed2 still trains
    remove_with_empty_folders(sibling, root)
    assert root.is_dir() and list(root.iterdir()) == []
    remove_with_empty_folders(sibling, root)  # nothing there: nothing to do
