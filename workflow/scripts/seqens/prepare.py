"""Corpus preparation: text becomes documents, DNA becomes windows, each assigned to a
train or eval split. One item per line in ``{split}.txt``; memory stays bounded.

DNA: records are cut into non-overlapping windows of ``window`` bp (a record's trailing
partial window is dropped). IUPAC ambiguity codes become N; soft-masked (lowercase)
repeats are upper-cased (``softmask="upper"``) or turned into N (``"drop"``); windows with
more than ``max_n_fraction`` N are dropped. Runs of ``eval_block`` consecutive windows go
to the same split, so evaluation regions are contiguous and never overlap training windows.

Text: documents (whitespace collapsed to single spaces) go whole to one split.

Split assignment draws from ``seed`` only, so it is the same for every tokenizer, objective
and member.

Beside the splits, ``coordinates.tsv.gz`` records where each item came from, one row per
line written, in the order written (the n-th row of a split is the n-th line of its file),
so that later stages read the split instead of replaying it. DNA: ``split``, ``record``,
``start``, ``end`` (0-based, half-open), ``strand`` (``+``: windows are read as the record
is). Text: ``split``, ``source`` (index of the corpus's source: ``source`` is 0, then
``sources``), ``document`` (index of the document among the non-blank texts of that
source, in the source's order).
"""

from __future__ import annotations

import contextlib
import gzip
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import numpy as np

from .errors import InputError
from .io import atomic_path
from .progress import progress
from .readers import documents, fasta_records

SPLITS = ("train", "eval")
COORDINATES = "coordinates.tsv.gz"
DNA_COORDINATES = ("split", "record", "start", "end", "strand")
TEXT_COORDINATES = ("split", "source", "document")
_NEWLINE = ord("\n")
_N = ord("N")
# Byte translation tables that mark (as 1) an ambiguity code, i.e. a letter other than A, C,
# G, T, N in either case, and a soft-masked (lower-case) base: counted at bytes.translate speed.
_AMBIGUOUS = bytes(int(chr(b).isalpha() and chr(b).upper() not in "ACGTN") for b in range(256))
_SOFTMASKED = bytes(int(b >= ord("a")) for b in range(256))

# Byte translation tables: every IUPAC letter (any case) to A/C/G/T/N; anything else to 0,
# which marks a byte that has no business in a DNA sequence.
_IUPAC_AMBIGUOUS = "RYSWKMBDHVN"


def _dna_table(softmask: str) -> bytes:
    table = bytearray(256)
    for base in "ACGT":
        table[ord(base)] = ord(base)
        table[ord(base.lower())] = ord(base) if softmask == "upper" else _N
    for code in _IUPAC_AMBIGUOUS:
        table[ord(code)] = _N
        table[ord(code.lower())] = _N
    return bytes(table)


@dataclass
class SplitStats:
    items: int = 0
    characters: int = 0
    n_bases: int = 0
    softmasked_bases: int = 0
    ambiguous_bases: int = 0

    def as_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass
class PreparationStats:
    corpus: str
    kind: str
    splits: dict[str, SplitStats] = field(default_factory=lambda: {s: SplitStats() for s in SPLITS})
    dropped_items: int = 0
    records: int = 0
    bases_read: int = 0  # DNA, in whole windows or not (for messages)
    blocks: int = 0  # DNA: runs of eval_block windows, each routed to one split

    def as_dict(self) -> dict:
        return {
            "corpus": self.corpus,
            "kind": self.kind,
            "records": self.records,
            "dropped_items": self.dropped_items,
            "splits": {name: stats.as_dict() for name, stats in self.splits.items()},
        }


class _CoordinateRows:
    """The coordinates table, written in gzip members of ``rows_per_member`` rows (a file of
    concatenated members is one gzip stream to every reader; no time stamp, so the bytes
    depend on the rows only)."""

    def __init__(self, handle, columns: tuple[str, ...], rows_per_member: int = 8192):
        self.handle, self.rows_per_member = handle, rows_per_member
        self.rows = ["\t".join(columns) + "\n"]

    def add(self, *fields) -> None:
        self.rows.append("\t".join(map(str, fields)) + "\n")
        if len(self.rows) >= self.rows_per_member:
            self.flush()

    def flush(self) -> None:
        if self.rows:
            self.handle.write(gzip.compress("".join(self.rows).encode("utf-8"), mtime=0))
            self.rows = []


@contextlib.contextmanager
def _split_writers(out_dir: Path, coordinate_columns: tuple[str, ...]):
    """Open train/eval outputs and the coordinates table as temporaries; all appear
    together, only on success."""
    with contextlib.ExitStack() as stack:
        handles = {}
        for name in (*(f"{split}.txt" for split in SPLITS), COORDINATES):
            tmp = stack.enter_context(atomic_path(out_dir / name))
            handles[name] = stack.enter_context(open(tmp, "wb"))
        coordinates = _CoordinateRows(handles.pop(COORDINATES), coordinate_columns)
        yield {split: handles[f"{split}.txt"] for split in SPLITS}, coordinates
        coordinates.flush()


def _block_splits(seed: int, record: str, blocks: np.ndarray, eval_fraction: float) -> np.ndarray:
    """True for blocks that go to eval: one seeded draw per (record, block), stream-order free."""
    record_key = zlib.crc32(record.encode())
    draws = np.array([np.random.default_rng([seed, record_key, int(b)]).random() for b in blocks])
    return draws < eval_fraction


def prepare_dna(
    corpus: str,
    sources: Iterable[Path],
    out_dir: Path,
    *,
    window: int,
    softmask: str,
    max_n_fraction: float,
    eval_block: int,
    eval_fraction: float,
    seed: int,
    max_characters: int | None = None,
    chunk_windows: int = 2048,
) -> PreparationStats:
    table = _dna_table(softmask)
    sources = list(sources)
    stats = PreparationStats(corpus, "dna")
    kept_characters = 0
    with (
        _split_writers(out_dir, DNA_COORDINATES) as (handles, coordinates),
        progress(desc=f"{corpus}: bases read", unit="bp", unit_scale=True) as bar,
    ):
        for source in sources:
            for record in fasta_records(source):
                stats.records += 1
                record_windows = 0
                for first_window, raw in _window_batches(record, window, chunk_windows, stats):
                    record_windows = first_window + len(raw) // window
                    bar.update(len(raw))
                    kept_characters += _process_windows(
                        raw, table, record.name, first_window, source, stats, handles, coordinates,
                        window=window, max_n_fraction=max_n_fraction, eval_block=eval_block,
                        eval_fraction=eval_fraction, seed=seed,
                    )
                    if max_characters and kept_characters >= max_characters:
                        break
                stats.blocks += -(-record_windows // eval_block)
                if max_characters and kept_characters >= max_characters:
                    break
            if max_characters and kept_characters >= max_characters:
                break
        _check_dna_splits(
            corpus, sources, stats, window=window, eval_block=eval_block, max_n_fraction=max_n_fraction,
            eval_fraction=eval_fraction,
        )
    return stats


def _window_batches(record, window: int, batch_windows: int, stats: PreparationStats):
    """(index of first window, bytes of a whole number of windows) over one record; counts
    the record's bases into ``stats``."""
    batch_bytes = window * batch_windows
    pending = b""
    first_window = 0
    for chunk in record.chunks():
        pending += chunk.encode("latin-1") if isinstance(chunk, str) else chunk
        stats.bases_read += len(chunk)
        while len(pending) >= batch_bytes:
            yield first_window, pending[:batch_bytes]
            pending = pending[batch_bytes:]
            first_window += batch_windows
    whole = len(pending) // window * window
    if whole:
        yield first_window, pending[:whole]


def _window_routes(
    n_counts: np.ndarray, record: str, first_window: int,
    *, window: int, max_n_fraction: float, eval_block: int, eval_fraction: float, seed: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Per window: kept (few enough N) and drawn for eval (its block's seeded draw)."""
    keep = n_counts <= max_n_fraction * window
    blocks = (first_window + np.arange(len(n_counts))) // eval_block
    unique_blocks, block_of = np.unique(blocks, return_inverse=True)
    return keep, _block_splits(seed, record, unique_blocks, eval_fraction)[block_of]


def clean_dna(raw: bytes, softmask: str) -> bytes:
    """A record's bases as the corpus keeps them: IUPAC codes to N, soft-masked bases per
    ``softmask``; 0 marks a byte that is no nucleotide code."""
    return raw.translate(_dna_table(softmask))


def _process_windows(
    raw: bytes, table: bytes, record: str, first_window: int, source: Path, stats: PreparationStats, handles,
    coordinates: _CoordinateRows,
    *, window: int, max_n_fraction: float, eval_block: int, eval_fraction: float, seed: int,
) -> int:
    """Clean, filter and route a whole number of windows; return the bases kept."""
    clean = np.frombuffer(raw.translate(table), dtype=np.uint8).reshape(-1, window)
    if not clean.all():
        bad = raw[int(np.flatnonzero(clean.reshape(-1) == 0)[0])]
        raise InputError(f"{source}: record '{record}' has a character that is not a nucleotide code: {chr(bad)!r}")
    n_counts = np.count_nonzero(clean == _N, axis=1)
    keep, is_eval = _window_routes(
        n_counts, record, first_window, window=window, max_n_fraction=max_n_fraction,
        eval_block=eval_block, eval_fraction=eval_fraction, seed=seed,
    )
    stats.dropped_items += int((~keep).sum())
    softmasked = np.count_nonzero(np.frombuffer(raw.translate(_SOFTMASKED), np.uint8).reshape(-1, window), axis=1)
    ambiguous_counts = np.count_nonzero(np.frombuffer(raw.translate(_AMBIGUOUS), np.uint8).reshape(-1, window), axis=1)
    lines = np.empty((clean.shape[0], window + 1), dtype=np.uint8)
    lines[:, :window] = clean
    lines[:, window] = _NEWLINE
    for split, selected in (("train", keep & ~is_eval), ("eval", keep & is_eval)):
        count = int(selected.sum())
        if not count:
            continue
        handles[split].write(lines[selected].tobytes())
        split_stats = stats.splits[split]
        split_stats.items += count
        split_stats.characters += count * window
        split_stats.n_bases += int(n_counts[selected].sum())
        split_stats.softmasked_bases += int(softmasked[selected].sum())
        split_stats.ambiguous_bases += int(ambiguous_counts[selected].sum())
    for index in np.flatnonzero(keep):
        start = (first_window + int(index)) * window
        coordinates.add("eval" if is_eval[index] else "train", record, start, start + window, "+")
    return int(keep.sum()) * window


def normalise_text(document: str) -> str:
    """A document as the text splits hold it: whitespace runs collapsed to single spaces."""
    return " ".join(document.split())


def prepare_text(
    corpus: str,
    sources: Iterable[Path],
    out_dir: Path,
    *,
    fmt: str,
    field: str | None,
    eval_fraction: float,
    seed: int,
    max_characters: int | None = None,
    encoding: str = "utf-8",
) -> PreparationStats:
    stats = PreparationStats(corpus, "text")
    rng = np.random.default_rng(seed)  # one draw per non-empty document, in corpus order
    total = 0
    with _split_writers(out_dir, TEXT_COORDINATES) as (handles, coordinates):
        for source_index, source in enumerate(sources):
            stats.records += 1
            texts = documents(source, fmt, field, encoding)
            for index, document in enumerate(progress(texts, desc=f"{corpus}: {source.name}", unit="doc")):
                text = normalise_text(document)
                if not text:
                    stats.dropped_items += 1
                    continue
                split = "eval" if rng.random() < eval_fraction else "train"
                handles[split].write(text.encode("utf-8") + b"\n")
                coordinates.add(split, source_index, index)
                split_stats = stats.splits[split]
                split_stats.items += 1
                split_stats.characters += len(text)
                total += len(text)
                if max_characters and total >= max_characters:
                    break
            if max_characters and total >= max_characters:
                break
        _check_text_splits(corpus, stats, eval_fraction)
    return stats


def _check_text_splits(corpus: str, stats: PreparationStats, eval_fraction: float) -> None:
    """Both splits hold documents; else say why not."""
    documents = sum(stats.splits[split].items for split in SPLITS)
    for split in SPLITS:
        if stats.splits[split].items == 0:
            raise InputError(
                f"corpus '{corpus}': the {split} split is empty: "
                + (f"none of its {documents:,} documents was drawn for it (preparation.eval_fraction: "
                   f"{eval_fraction}); give it more documents or change eval_fraction" if documents
                   else "no document has text")
            )


def _check_dna_splits(
    corpus: str, sources: list[Path], stats: PreparationStats,
    *, window: int, eval_block: int, max_n_fraction: float, eval_fraction: float,
) -> None:
    """Both splits hold windows; else say why not: a corpus shorter than one evaluation block,
    windows with too many N, or blocks none of which was drawn for the split."""
    empty = next((split for split in SPLITS if stats.splits[split].items == 0), None)
    if empty is None:
        return
    block = eval_block * window
    if stats.bases_read < block:
        files = [str(source) for source in sources]
        have = "has" if len(files) == 1 else "have together"
        raise InputError(
            f"corpus '{corpus}': {', '.join(files)} {have} {stats.bases_read:,} bases, fewer than one evaluation "
            f"block needs (corpora.{corpus}.eval_block x window = {eval_block} x {window:,} = {block:,} bp), so "
            f"its {empty} split is empty: give it more sequence, or lower corpora.{corpus}.eval_block or window"
        )
    kept = sum(stats.splits[split].items for split in SPLITS)
    if not kept:
        raise InputError(
            f"corpus '{corpus}': the {empty} split is empty after filtering windows: all {stats.dropped_items:,} "
            f"have more N than corpora.{corpus}.max_n_fraction ({max_n_fraction}) allows"
        )
    raise InputError(
        f"corpus '{corpus}': the {empty} split is empty: its {kept:,} windows lie in at most {stats.blocks:,} blocks "
        f"of corpora.{corpus}.eval_block ({eval_block}) windows, none drawn for the {empty} split "
        f"(preparation.eval_fraction: {eval_fraction}); give it more sequence, lower eval_block or change eval_fraction"
    )


def training_intervals(coordinates: Path) -> dict[str, np.ndarray]:
    """Per record of a DNA corpus, the [n, 2] intervals (0-based, half-open, in record order)
    of its windows in the train split, from the corpus's coordinates table."""
    starts: dict[str, list[int]] = {}
    ends: dict[str, list[int]] = {}
    with gzip.open(coordinates, "rt", encoding="utf-8") as handle:
        columns = handle.readline().rstrip("\n").split("\t")
        split, record, start, end = (columns.index(name) for name in ("split", "record", "start", "end"))
        for line in handle:
            fields = line.rstrip("\n").split("\t")
            if fields[split] == "train":
                starts.setdefault(fields[record], []).append(int(fields[start]))
                ends.setdefault(fields[record], []).append(int(fields[end]))
    return {name: np.column_stack([starts[name], ends[name]]).astype(np.int64) for name in starts}


def read_split(path: Path) -> Iterable[str]:
    """Items of a prepared split, one per line."""
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            line = line.rstrip("\n")
            if line:
                yield line
