"""Where in the genome each evaluation position of a DNA condition lies, and its region class.

A position is a token of a packed evaluation row (seqens.packing). Its bases are found by
reading the packed rows back against the prepared eval split (``token_spans``): the rows hold
the split's windows in order, joined by [SEP] (``packed``), or one window's first tokens each
(``one_per_document``); each token covers the bases its string spells, an overlapping k-mer
that follows another advancing one base. Every token is checked against the window's text,
so a mismatch (a tokenizer or split that changed since packing) is an error, never a shifted
coordinate. The eval split's n-th window is the n-th ``eval`` row of the corpus's
coordinates table (seqens.prepare), which gives its record and first base.

Classes, on two axes (``REGION_CLASSES``, ``REPEAT_CLASSES``), from the corpus's GFF3/GTF
annotation (read as the probes read it: seqens.probes.examples) and the FASTA's soft-mask:
each base is ``CDS``, ``UTR`` (in an exon of an mRNA, in no CDS), ``intron`` (in an mRNA, in
no exon) or ``intergenic`` (in no gene or pseudogene), the first that applies in that order,
else ``other`` (a gene that has no mRNA, such as a tRNA or ncRNA gene, or a record the
annotation does not cover); and ``repeat`` (soft-masked) or ``unique``. Features count
whatever their strand: a minus-strand CDS covers its bases for windows read either way. A
token takes the class most of its bases have; a tie goes to the class named first (``CDS``
before ``UTR`` ... before ``other``; ``repeat`` before ``unique``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator, Sequence

import numpy as np
import pandas as pd

from .errors import InputError
from .readers import fasta_records
from .special import PROJECT, SpecialLayout

REGION_CLASSES = ("CDS", "UTR", "intron", "intergenic")
OTHER = "other"
REPEAT_CLASSES = ("repeat", "unique")
# The table of a condition's evaluation positions; ``position`` indexes the positions in the
# order of every per-position array (EvalPositions.targets: row-major), the key of any join.
POSITION_COLUMNS = (
    "position", "sequence", "column", "record", "start", "end", "characters", "region", "repeat",
)


@dataclass
class TokenSpans:
    """Per token of the packed rows [S, L]: the index of its window in the eval split and its
    bases in that window, 0-based, half-open; -1 for [CLS], [SEP] and padding."""

    document: np.ndarray
    start: np.ndarray
    end: np.ndarray


def token_spans(
    input_ids: np.ndarray,
    token_strings: Sequence[str],
    documents: Iterable[str],
    *,
    sampling: str,
    overlapping_k: int | None = None,
    layout: SpecialLayout = PROJECT,
    where: str = "the eval split",
) -> TokenSpans:
    """The bases behind every token of packed rows (``input_ids`` [S, L], the first S rows of
    the split), read back against the split's ``documents`` in order. ``token_strings``:
    each id's string (upper-case bases); ``layout``: the tokenizer's specials and row framing.
    An InputError naming ``where`` if a token does not spell the bases it is placed on."""
    shape = input_ids.shape
    document = np.full(shape, -1, dtype=np.int64)
    start = np.full(shape, -1, dtype=np.int64)
    end = np.full(shape, -1, dtype=np.int64)
    texts = _Documents(documents, where)
    n_special, special = layout.count, layout.special_tokens(len(token_strings))
    first_column = int(layout.starts_with_cls)
    if sampling == "packed":
        index, offset, after_kmer = 0, 0, False
        for row in range(shape[0]):
            if layout.starts_with_cls and input_ids[row, 0] != special.cls:
                raise InputError(f"{where}: packed row {row} does not begin with [CLS]")
            for column in range(first_column, shape[1]):
                token = int(input_ids[row, column])
                if token == special.sep:
                    index, offset, after_kmer = index + 1, 0, False
                    continue
                if token < n_special:
                    raise InputError(f"{where}: packed row {row} holds special token id {token} inside a document")
                first, offset, after_kmer = _advance(token_strings[token], offset, after_kmer, overlapping_k)
                texts.check(index, first, offset, token_strings[token], row, column)
                document[row, column], start[row, column], end[row, column] = index, first, offset
    elif sampling == "one_per_document":
        index = -1
        for row in range(shape[0]):
            tokens = [int(t) for t in input_ids[row] if t >= n_special]
            spans, offset, after_kmer = [], 0, False
            for token in tokens:
                first, offset, after_kmer = _advance(token_strings[token], offset, after_kmer, overlapping_k)
                spans.append((first, offset))
            # The row's document is the next one that begins with its tokens (shorter ones were skipped).
            index = texts.next_beginning_with(index + 1, [token_strings[t] for t in tokens], spans)
            columns = np.flatnonzero(input_ids[row] >= n_special)
            document[row, columns] = index
            start[row, columns] = [s for s, _ in spans]
            end[row, columns] = [e for _, e in spans]
    else:
        raise ValueError(f"unknown sampling {sampling!r}")
    return TokenSpans(document, start, end)


def _advance(string: str, offset: int, after_kmer: bool, overlapping_k: int | None) -> tuple[int, int, bool]:
    """(first base, next offset, is an overlapping k-mer) of a token at ``offset``: an
    overlapping k-mer right after another ends one base further, any other token spells its
    own bases (as seqens.tokenization.merge_kmers reads them)."""
    is_kmer = overlapping_k is not None and len(string) == overlapping_k
    if is_kmer and after_kmer:
        return offset + 1 - overlapping_k, offset + 1, True
    return offset, offset + len(string), is_kmer


class _Documents:
    """The split's documents, read lazily in order as far as the rows reach (the first
    rows of a split: a small part of it)."""

    def __init__(self, documents: Iterable[str], where: str):
        self.iterator: Iterator[str] = iter(documents)
        self.read: list[str] = []
        self.where = where

    def get(self, index: int) -> str:
        while len(self.read) <= index:
            text = next(self.iterator, None)
            if text is None:
                raise InputError(f"{self.where}: the packed rows hold more documents than the split's {len(self.read)}")
            self.read.append(text)
        return self.read[index]

    def check(self, index: int, first: int, end: int, string: str, row: int, column: int) -> None:
        found = self.get(index)[first:end]
        if found != string:
            raise InputError(
                f"{self.where}: packed row {row}, token {column} is {string!r} but document {index} has {found!r} "
                "there: the split or tokenizer changed since the tokens were packed (rerun pack_tokens)"
            )

    def next_beginning_with(self, index: int, strings: list[str], spans: list[tuple[int, int]]) -> int:
        """The first document from ``index`` on whose bases at ``spans`` are ``strings``."""
        while True:
            text = self.get(index)
            if all(text[s:e] == string for string, (s, e) in zip(strings, spans)):
                return index
            index += 1


def eval_windows(coordinates: Path, count: int) -> tuple[list[str], np.ndarray]:
    """Record and first base of the eval split's first ``count`` windows, from the corpus's
    coordinates table (its n-th ``eval`` row is the split's n-th line)."""
    table = pd.read_csv(coordinates, sep="\t", usecols=["split", "record", "start"], dtype={"record": str})
    table = table[table["split"] == "eval"].head(count)
    if len(table) < count:
        raise InputError(f"{coordinates}: {len(table)} eval windows, the packed rows need {count}")
    return list(table["record"]), table["start"].to_numpy(np.int64)


def softmask_tracks(fasta_paths: Sequence[Path], records: set[str]) -> dict[str, np.ndarray]:
    """Per record named in ``records``: whether each of its bases is soft-masked (lower case)."""
    tracks = {}
    for path in fasta_paths:
        for record in fasta_records(path):
            if record.name in records:
                raw = b"".join(c.encode("latin-1") if isinstance(c, str) else c for c in record.chunks())
                tracks[record.name] = np.frombuffer(raw, dtype=np.uint8) >= ord("a")
    return tracks


def token_classes(
    starts: np.ndarray, ends: np.ndarray, features: dict[str, np.ndarray], softmasked: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray | None]:
    """For tokens on one record with bases [start, end): the index into ``REGION_CLASSES`` +
    (``OTHER``) of the class most of their bases have, and (with a soft-mask track) whether
    at least half their bases are soft-masked; ties go to the class named first."""
    from .probes.examples import base_classes  # not at import: the comparisons' env has no tqdm

    lengths = ends - starts
    token_of_base = np.repeat(np.arange(len(starts)), lengths)
    bases = np.repeat(starts - np.cumsum(np.concatenate([[0], lengths[:-1]])), lengths) + np.arange(lengths.sum())
    labels = base_classes(bases, features, np.zeros(0, dtype=bool), list(REGION_CLASSES))
    labels[labels < 0] = len(REGION_CLASSES)  # other
    counts = np.zeros((len(starts), len(REGION_CLASSES) + 1), dtype=np.int64)
    np.add.at(counts, (token_of_base, labels), 1)
    region = counts.argmax(axis=1)  # the first of the most frequent: ties to the class named first
    if softmasked is None:
        return region, None
    masked = np.bincount(token_of_base, weights=softmasked[bases], minlength=len(starts))
    return region, 2 * masked >= lengths


def position_regions(
    corpus: str,
    eval_positions,
    spans: TokenSpans,
    *,
    coordinates: Path,
    characters_per_token: np.ndarray,
    annotation: Path,
    fasta_paths: Sequence[Path],
    repeats: bool,
) -> pd.DataFrame:
    """The table of a condition's evaluation positions (``POSITION_COLUMNS``): where each
    lies and its classes. ``eval_positions``: seqens.positions.EvalPositions; ``spans``: its
    rows' ``token_spans``. Refuses an annotation none of whose sequences is a record of the
    corpus, and a repeat split of a corpus with no soft-masked base (the messages name the
    files and the key)."""
    from .probes.examples import read_features  # not at import: the comparisons' env has no tqdm

    key = f"corpora.{corpus}.annotation"
    rows, columns = np.nonzero(eval_positions.positions)
    document = spans.document[rows, columns]
    records, window_starts = eval_windows(coordinates, int(spans.document.max()) + 1)
    record = np.array(records, dtype=object)[document]
    start = window_starts[document] + spans.start[rows, columns]
    end = window_starts[document] + spans.end[rows, columns]
    features = read_features(annotation, corpus, what="corpus")
    corpus_records = set(pd.read_csv(coordinates, sep="\t", usecols=["record"], dtype={"record": str})["record"])
    if not corpus_records & set(features):
        fasta = ", ".join(str(p) for p in fasta_paths)
        raise InputError(
            f"{key}.source: no sequence name of {annotation} ({', '.join(sorted(features)[:3])}) is a record of "
            f"corpus '{corpus}' ({fasta}: {', '.join(sorted(corpus_records)[:3])}); give the annotation of this assembly"
        )
    tracks = softmask_tracks(fasta_paths, set(records)) if repeats else {}
    if repeats and not any(track.any() for track in tracks.values()):
        raise InputError(
            f"{key}.repeats: {', '.join(str(p) for p in fasta_paths)} has no soft-masked (lower-case) base where corpus "
            f"'{corpus}' is evaluated, so repeats cannot be told from unique sequence; use a soft-masked FASTA or "
            f"set {key}.repeats: false"
        )
    region = np.empty(len(start), dtype=object)
    repeat = np.full(len(start), None, dtype=object)
    for name in dict.fromkeys(record):
        on = record == name
        found, masked = token_classes(start[on], end[on], features.get(name, {}), tracks.get(name))
        region[on] = np.array([*REGION_CLASSES, OTHER], dtype=object)[found]
        if masked is not None:
            repeat[on] = np.where(masked, REPEAT_CLASSES[0], REPEAT_CLASSES[1])
    table = pd.DataFrame(
        {
            "position": np.arange(len(rows)),
            "sequence": eval_positions.sequence_indices[rows],
            "column": columns,
            "record": record,
            "start": start,
            "end": end,
            "characters": characters_per_token[eval_positions.input_ids[rows, columns]],
            "region": region,
            "repeat": repeat,
        }
    )
    return table[list(POSITION_COLUMNS)]
