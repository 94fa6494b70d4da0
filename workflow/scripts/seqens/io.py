"""Atomic file output, checksums and provenance records shared by every stage."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
from importlib import metadata
from pathlib import Path
from typing import Iterator

from .errors import DISK_FULL, InputError

# The checkout this package runs from: its pyproject.toml holds seqens's version (the
# package is imported from workflow/scripts, never installed).
REPO = Path(__file__).resolve().parents[3]

# Packages whose installed versions are recorded in every manifest (seqens's beside them).
RECORDED_PACKAGES = (
    "snakemake",
    "torch",
    "transformers",
    "tokenizers",
    "numpy",
    "pandas",
    "scipy",
    "pyfaidx",
)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, *, directory: bool = False) -> Iterator[Path]:
    """Yield a temporary sibling of ``path`` that replaces ``path`` only on success.

    On any exception the temporary file (or directory) is removed and an existing
    ``path`` is left untouched, so a failed job never leaves a partial output. A job killed
    outright (SIGKILL, out of memory) cannot clean up: its temporaries are removed when
    ``path`` is next written (Snakemake never runs two jobs for one output at once). A write
    that fails for want of disk space or quota ends as one InputError naming ``path`` and
    the filesystem, whichever writer failed (see out_of_space).
    """
    path = Path(path)
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        _remove_stale_temporaries(path)
        if directory:
            tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
        else:
            fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
            os.close(fd)
            tmp = Path(name)
        # mkstemp/mkdtemp create 0600/0700 whatever the umask; outputs get what open() would
        # give, so that collaborators on shared storage can read them when the umask allows it.
        tmp.chmod((0o777 if directory else 0o666) & ~_umask())
        yield tmp
        if directory:
            _honour_umask(tmp)
            if path.exists():
                shutil.rmtree(path)
            os.replace(tmp, path)
        else:
            os.replace(tmp, path)
    except BaseException as error:
        # Measured before the temporary goes: its partial content is what filled the disk (and
        # a writer may hold it open after unlink, so that the space comes back later).
        full = out_of_space(error, path.parent) if not isinstance(error, InputError) else None
        free_at_failure = _free_space(path.parent) if full else None
        if tmp is not None:
            if tmp.is_dir():
                shutil.rmtree(tmp, ignore_errors=True)
            else:
                tmp.unlink(missing_ok=True)
        if full:
            mount = _mount_point(path.parent)
            raise InputError(
                f"{full} writing {path} ({_size(free_at_failure)} free on {mount}): free space there, "
                f"or give the study a folder on another disk (`results:` in the config)"
            ) from error
        raise


# Free space below which a failed write is put down to a full disk: writers that lose the
# errno (torch.save's "basic_ios::clear: iostream error", numpy's "N requested and M
# written") leave the filesystem with next to nothing free.
NEARLY_FULL_BYTES = 16 << 20

def out_of_space(error: BaseException, folder: str | os.PathLike) -> str | None:
    """Why ``error``, raised while writing into ``folder``, is a full disk or quota ("no space
    left on device", "disk quota exceeded"), or None when it is not: by the errno of the
    error or of one it arose from, by the system's message for them (safetensors's and
    tokenizers's Rust errors carry only that), or, for an OSError or RuntimeError without
    an errno (what torch.save and numpy raise), by the free space left on the filesystem."""
    if not isinstance(error, Exception):  # KeyboardInterrupt, SystemExit
        return None
    chain, seen = [], error
    while seen is not None and seen not in chain:
        chain.append(seen)
        seen = seen.__cause__ or seen.__context__
    for link in chain:
        if getattr(link, "errno", None) in DISK_FULL:
            return DISK_FULL[link.errno]
        for number, cause in DISK_FULL.items():
            if os.strerror(number).lower() in str(link).lower():
                return cause
    if isinstance(error, (OSError, RuntimeError)) and getattr(error, "errno", None) is None:
        free = _free_space(folder)
        if free is not None and free < NEARLY_FULL_BYTES:
            return DISK_FULL[errno.ENOSPC]
    return None


def _free_space(folder: str | os.PathLike) -> int | None:
    """Bytes an unprivileged user may still write on ``folder``'s filesystem (None if unknown)."""
    try:
        return shutil.disk_usage(_mount_point(folder)).free
    except OSError:
        return None


def _mount_point(folder: str | os.PathLike) -> Path:
    folder = Path(os.path.abspath(folder))
    while not os.path.ismount(folder):
        folder = folder.parent
    return folder


def _size(n_bytes: int | None) -> str:
    """1,536 -> "1.5 kB": decimal units, as df -H prints them."""
    if n_bytes is None:
        return "an unknown amount"
    value = float(n_bytes)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if value < 1000:
            break
        value /= 1000
    return f"{value:.0f} B" if unit == "B" else f"{value:.1f} {unit}"


def _honour_umask(directory: Path) -> None:
    """Give files written into an output directory the mode open() would have given them
    (some writers, e.g. safetensors, create theirs 0600)."""
    umask = _umask()
    for file in directory.rglob("*"):
        if file.is_file() and not file.is_symlink():
            file.chmod((0o666 | (file.stat().st_mode & 0o111)) & ~umask)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _remove_stale_temporaries(path: Path) -> None:
    """Remove what an earlier, killed atomic write of ``path`` left: ``.NAME.XXXXXXXX.tmp``."""
    pattern = re.compile(rf"\.{re.escape(path.name)}\.[A-Za-z0-9_]{{8}}\.tmp")
    for stale in path.parent.iterdir():
        if pattern.fullmatch(stale.name):
            if stale.is_dir() and not stale.is_symlink():
                shutil.rmtree(stale, ignore_errors=True)
            else:
                stale.unlink(missing_ok=True)


def remove_with_empty_folders(path: str | os.PathLike, root: str | os.PathLike) -> None:
    """Remove the file ``path`` (if there) and then each folder above it that this leaves
    empty, up to ``root`` (kept): a finished member's checkpoint goes without a trace."""
    path, root = Path(os.path.abspath(path)), Path(os.path.abspath(root))
    path.unlink(missing_ok=True)
    for folder in path.parents:
        if folder == root or root not in folder.parents:
            break
        try:
            folder.rmdir()
        except OSError:  # not empty (another member's checkpoint), or gone already
            break


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_json_atomic(path: str | os.PathLike, obj) -> None:
    write_text_atomic(path, json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")


def save_array_atomic(path: str | os.PathLike, array) -> None:
    """``numpy.save`` to ``path`` (an .npy file, named exactly so), atomically."""
    import numpy as np

    with atomic_path(path) as tmp:
        with open(tmp, "wb") as handle:  # a file object: np.save would append .npy to a name
            np.save(handle, array)


def sha256_file(path: str | os.PathLike, chunk_size: int = 1 << 22) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()


def fingerprint(*parts) -> str:
    """One checksum of plain values (a run's config and its inputs' checksums, say)."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def project_version(repo: Path = REPO) -> str:
    """seqens's version, from pyproject.toml (its single source)."""
    return tomllib.loads((repo / "pyproject.toml").read_text())["project"]["version"]


def git_state(repo: Path = REPO) -> dict | None:
    """The commit the code ran from and whether tracked files differed from it (None
    outside a git checkout, or without git)."""
    def git(*args: str) -> str:
        command = ["git", "--no-optional-locks", "-C", str(repo), *args]
        return subprocess.run(command, capture_output=True, text=True, check=True).stdout

    try:
        commit = git("rev-parse", "HEAD").strip()
        changed = git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.CalledProcessError):
        return None
    return {"commit": commit, "uncommitted_changes": bool(changed.strip())}


def package_versions(names=RECORDED_PACKAGES) -> dict:
    """seqens's version and git state, the installed versions of ``names``, Python's."""
    versions: dict = {"seqens": project_version(), "seqens_git": git_state()}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    versions["python"] = sys.version.split()[0]
    return versions


def manifest(*, config: dict, inputs: dict[str, str | os.PathLike] | None = None, **extra) -> dict:
    """Provenance record: the config slice, package versions, input checksums, host."""
    record = {
        "config": config,
        "versions": package_versions(),
        "inputs": {
            key: {"path": str(value), "sha256": sha256_file(value)}
            for key, value in (inputs or {}).items()
            if Path(value).is_file()
        },
        "host": {"platform": platform.platform(), "machine": platform.machine(), "cpu_kernels": cpu_kernels()},
    }
    record.update(extra)
    return record


def cpu_kernels() -> str | None:
    """The CPU kernel family torch computes with in this process ("AVX512", "AVX2", ...; set by
    ATEN_CPU_CAPABILITY), None where torch is not loaded. Results are bit-identical only
    within one family: another family's kernels sum in another order (README,
    "Reproducibility")."""
    torch = sys.modules.get("torch")
    return torch.backends.cpu.get_cpu_capability() if torch is not None else None
