"""Shared fixtures: repository paths, the real corpora beside the checkout, tiny presets, and
the demo's prepared corpora that the end-to-end tests build on.

Two selections (Makefile): `make test` runs everything but the tests marked `e2e`; `make
test-e2e` runs those, which take minutes each. They are marked here by the fixtures they use
(E2E_FIXTURES: the workflow's jobs on the demo's prepared corpora, models trained for hundreds
of steps on real text), or by their module's `pytestmark` (the SLURM tests)."""

from __future__ import annotations

import errno
import os
import re
import shutil
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_CORPORA = REPO.parent / "shared" / "corpora"
TINY_PRESET = {"layers": 2, "hidden": 32, "heads": 2, "ffn": 64, "max_positions": 64, "dropout": 0.1}


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO


def rule_definitions():
    """(file, name, body) of every rule in workflow/rules, procedural ones (``rule:`` with a
    ``name:`` directive, in a loop) included under their name expression, and each ``use
    rule A as B with:`` as B, its body what it overrides followed by A's body (a search
    finds B's own directive first)."""
    for smk in sorted((REPO / "workflow" / "rules").glob("*.smk")):
        parts = re.split(r"(?:^|\n)[ \t]*(?:use[ \t]+rule[ \t]+(\w+)[ \t]+as[ \t]+(\w+)[ \t]+with|rule[ \t]*(\w*)):",
                         smk.read_text())
        bodies = {}
        for parent, name, rule, body in zip(parts[1::4], parts[2::4], parts[3::4], parts[4::4]):
            if parent:
                body = body + bodies[parent]
            elif not rule:
                name = re.search(r'name:\s*\n\s*f?"([^"]+)"', body).group(1)
            else:
                name = rule
            bodies[name] = body
            yield smk, name, body


def snakemake_cmd(*args: str, cwd: Path = REPO, check: bool = True, timeout: int = 900) -> subprocess.CompletedProcess:
    """Run the Snakemake of this interpreter's environment."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "snakemake", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed:\n{result.stdout[-4000:]}\n{result.stderr[-6000:]}")
    return result


@pytest.fixture(scope="session")
def wiki_tokens(tmp_path_factory):
    """A 512-token BPE and packed train/eval arrays from real Wikipedia text (shared corpora);
    returns (tokenizer, train, eval, unigram entropy of the train tokens in bits)."""
    import numpy as np

    from seqens.packing import pack_sequences, token_statistics
    from seqens.readers import text_documents
    from seqens.tokenization import SequenceTokenizer, build_tokenizer, save_tokenizer

    corpus = SHARED_CORPORA / "wiki_en_combined.txt.gz"
    if not corpus.exists():
        pytest.skip("shared corpora absent")
    root = tmp_path_factory.mktemp("wiki")
    docs = []
    for doc in text_documents(corpus):
        docs.append(doc)
        if len(docs) == 3000:
            break
    train_docs, eval_docs = [d for i, d in enumerate(docs) if i % 10], docs[::10]
    spec = {"type": "bpe", "vocab_size": 512}
    save_tokenizer(build_tokenizer(spec, "text", iter(train_docs)), spec, "text", root / "tok", 64)
    tokenizer = SequenceTokenizer(root / "tok")
    pack_sequences(iter(train_docs), tokenizer, root / "train.npy", n_sequences=1024, length=64, what="train")
    pack_sequences(iter(eval_docs), tokenizer, root / "eval.npy", n_sequences=64, length=64, what="eval")
    train = np.load(root / "train.npy", mmap_mode="r")
    evaluation = np.load(root / "eval.npy", mmap_mode="r")
    unigram = token_statistics(train, tokenizer.vocab_size, characters=1)["unigram_entropy_bits_per_token"]
    return tokenizer, train, evaluation, unigram


class FullDisk:
    """A file on a full disk (monkeypatch a module's ``open`` with it): every write fails as
    the kernel's does, naming the file, or not (as a failed write() does not)."""

    def __init__(self, path, *args, named=True):
        self.filename = [str(path)] if named else []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def write(self, data):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), *self.filename)


E2E_FIXTURES = {"prepared_demo", "wiki_tokens"}


def pytest_collection_modifyitems(items):
    """A test that uses an E2E_FIXTURES fixture, directly or through another fixture, is `e2e`."""
    for item in items:
        if E2E_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.e2e)


def copy_of_repo(parent: Path) -> Path:
    """parent/work: the checkout without its environment, history, downloads, results and logs."""
    work = parent / "work"
    shutil.copytree(REPO, work, symlinks=True, ignore=shutil.ignore_patterns(
        ".venv", ".git", "results", "resources", "logs", ".snakemake", "__pycache__", "report.html",
        ".pytest_cache"))
    return work


@pytest.fixture(scope="session")
def prepared_demo(tmp_path_factory) -> Path:
    """A copy of the repository in which the demo's preparation stage has run once on the
    packaged corpora: sources, prepared corpora, tokenizers, token arrays,
    results/tables/corpora.csv, their logs and Snakemake's records of them. Read it; to run
    jobs, build on a copy (copy_of_prepared)."""
    work = copy_of_repo(tmp_path_factory.mktemp("prepared"))
    snakemake_cmd("--cores", "2", "results/tables/corpora.csv", cwd=work)
    return work


def copy_of_prepared(prepared_demo: Path, parent: Path) -> Path:
    """parent/work: a copy that Snakemake sees as prepared (modification times and .snakemake/
    records kept), so only what a study's config changes, such as `data` for pack_tokens, runs
    again."""
    work = parent / "work"
    shutil.copytree(prepared_demo, work, symlinks=True)
    return work


_PDF_ESCAPES = {b"n": b"\n", b"r": b"\r", b"t": b"\t", b"b": b"\b", b"f": b"\f"}


def _unescape(literal: bytes) -> bytes:
    """A PDF literal string's bytes: backslash escapes and octal codes resolved."""
    return re.sub(rb"\\([0-7]{1,3}|.)", lambda m: bytes([int(m.group(1), 8)]) if m.group(1)[:1].isdigit()
                  else _PDF_ESCAPES.get(m.group(1), m.group(1)), literal, flags=re.S)


def pdf_text(path: Path) -> list[str]:
    """The strings a figure's PDF shows, in drawing order: matplotlib (pdf.fonttype 42, as
    seqens.plotting sets) writes each as a TJ array of UTF-16BE literal strings in a
    compressed content stream. Enough to read back titles, labels and legend entries."""
    shown = []
    for stream in re.findall(rb"stream\r?\n(.*?)endstream", Path(path).read_bytes(), re.S):
        try:
            content = zlib.decompressobj().decompress(stream)  # leaves the end-of-line before endstream
        except zlib.error:  # a stream that is not compressed text
            continue
        for array in re.findall(rb"\[(.*?)\]\s*TJ", content, re.S):
            pieces = re.findall(rb"\(((?:\\.|[^\\)])*)\)", array, re.S)
            shown.append(b"".join(_unescape(piece) for piece in pieces).decode("utf-16-be"))
    return shown
