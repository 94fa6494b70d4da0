"""Train/eval leakage: for each evaluation sequence, the share of its long k-grams that occur in
what the members trained on (rule leakage_audit).

A held-out window can still copy training sequence: repeats (transposons, gene families, the
two strands) make near duplicates common in genomes, and text repeats boilerplate. A
member's gain on such a window may be memory, not inference. DNA: k-mers of ``dna_k`` bases
(at most 32), on either strand: each k-mer is read as the smaller of its two strands' 2-bit
codes (its canonical form), so a window that is the reverse complement of training sequence
is flagged too; a k-mer with an N is not counted. Text (and any token sequence): k-grams of
``text_k`` token ids, keyed by a 64-bit polynomial hash (a false match needs two of the
distinct grams to collide: about (training grams) / 2^64 per evaluation gram, under 1e-9 for
10^10 training grams). Special tokens ([CLS], [SEP], ...) break a sequence: no k-gram spans
one, so none crosses a document boundary.

The training side is what the members trained on (``train.npy``, every row), decoded to bases
for DNA. It is streamed in blocks of rows, each block's k-grams looked up among the
evaluation sequences' (sorted, a few per evaluation token): memory is that of one block plus
the evaluation k-grams, time linear in the training tokens.
"""

from __future__ import annotations

from typing import Iterable, Iterator

import numpy as np
import pandas as pd

from .errors import InputError
from .special import SPECIAL_TOKENS

MAX_DNA_K = 32  # 2 bits a base in 64-bit keys
_BREAK = 4
_BASE_CODES = np.full(256, _BREAK, np.uint8)
for _code, _base in enumerate(b"ACGT"):
    _BASE_CODES[_base] = _code
_HASH_MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)  # odd: multiplication is a bijection mod 2^64


def _windows_without_breaks(breaks: np.ndarray, k: int) -> np.ndarray:
    """For a 1-d array of break flags: per window start i (0..n-k), whether symbols i..i+k-1
    hold no break."""
    run = np.concatenate([[0], np.cumsum(breaks)])
    return run[k:] == run[: len(run) - k]


def canonical_kmers(codes: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(end index, canonical 2-bit key) of every k-mer of a base-code stream (0..3 = ACGT, 4 = a
    break) that holds no break: the smaller of the forward and reverse-complement codes."""
    if not 1 <= k <= MAX_DNA_K:
        raise ValueError(f"DNA k-mers need 1 <= k <= {MAX_DNA_K}, got {k}")
    codes = np.asarray(codes, dtype=np.uint8)
    starts = len(codes) - k + 1
    if starts < 1:
        return np.zeros(0, np.int64), np.zeros(0, np.uint64)
    bases = np.where(codes == _BREAK, 0, codes).astype(np.uint64)
    forward = np.zeros(starts, np.uint64)
    reverse = np.zeros(starts, np.uint64)
    for offset in range(k):  # offset 0 is each k-mer's first base; slices, not gathers
        base = bases[offset : offset + starts]
        forward <<= np.uint64(2)
        forward |= base
        reverse |= (np.uint64(3) - base) << np.uint64(2 * offset)
    valid = _windows_without_breaks(codes == _BREAK, k)
    return np.flatnonzero(valid) + (k - 1), np.minimum(forward, reverse)[valid]


def hashed_kgrams(ids: np.ndarray, k: int, *, n_special: int = len(SPECIAL_TOKENS)) -> tuple[np.ndarray, np.ndarray]:
    """(end index, 64-bit hash) of every k-gram of a token-id stream that holds no special
    token (ids < n_special)."""
    if k < 1:
        raise ValueError(f"k-grams need k >= 1, got {k}")
    ids = np.asarray(ids)
    starts = len(ids) - k + 1
    if starts < 1:
        return np.zeros(0, np.int64), np.zeros(0, np.uint64)
    symbols = ids.astype(np.uint64) + np.uint64(1)
    keys = np.zeros(starts, np.uint64)
    with np.errstate(over="ignore"):  # arithmetic mod 2^64 is the point
        for offset in range(k):
            keys *= _HASH_MULTIPLIER
            keys += symbols[offset : offset + starts]
    valid = _windows_without_breaks(ids < n_special, k)
    return np.flatnonzero(valid) + (k - 1), keys[valid]


def dna_codes(sequences: Iterable[str]) -> tuple[np.ndarray, np.ndarray]:
    """Base codes of several sequences joined by breaks; and the start of each in the stream."""
    sequences = list(sequences)
    lengths = np.array([len(s) + 1 for s in sequences], dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    joined = "N".join(sequences) + "N"
    return _BASE_CODES[np.frombuffer(joined.encode("ascii"), np.uint8)], starts


def row_bases(tokenizer, rows: np.ndarray, n_special: int = len(SPECIAL_TOKENS)) -> list[str]:
    """Each token row decoded to bases, a special token written as N (a break, so no k-mer
    joins the two documents around a [SEP])."""
    out = []
    for row in np.asarray(rows):
        cuts = np.flatnonzero(row < n_special)
        pieces = [tokenizer.decode(part[part >= n_special]) for part in np.split(row, cuts)]
        out.append("N".join(pieces))
    return out


class BaseTable:
    """A DNA tokenizer's tokens as base codes, to decode token rows without a Python loop:
    exact where tokens are joined as they are (BPE, characters and non-overlapping k-mers,
    whose decoder fuses the token strings); overlapping k-mers go through ``row_bases``."""

    def __init__(self, tokenizer, n_special: int = len(SPECIAL_TOKENS)):
        self.tokenizer, self.n_special = tokenizer, n_special
        self.vectorised = not tokenizer.overlapping_k
        vocabulary = tokenizer.tokenizer.get_vocab(with_added_tokens=False)
        width = max(len(token) for token in vocabulary)
        self.lengths = np.ones(tokenizer.vocab_size, np.int64)  # a special token: one break
        self.codes = np.full((tokenizer.vocab_size, width), _BREAK, np.uint8)
        for token, index in vocabulary.items():
            if index >= n_special:
                self.lengths[index] = len(token)
                self.codes[index, : len(token)] = _BASE_CODES[np.frombuffer(token.encode("ascii"), np.uint8)]

    def decode(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Base codes of the rows, each followed by a break; and each row's start."""
        rows = np.asarray(rows, dtype=np.int64)
        if not self.vectorised:
            return dna_codes(row_bases(self.tokenizer, rows, self.n_special))
        ids = np.zeros((len(rows), rows.shape[1] + 1), np.int64)  # [PAD], a break, ends each row
        ids[:, :-1] = rows
        lengths = self.lengths[ids]
        present = np.arange(self.codes.shape[1]) < lengths.reshape(-1, 1)
        codes = self.codes[ids.reshape(-1)][present]
        row_lengths = lengths.sum(axis=1)
        return codes, np.concatenate([[0], np.cumsum(row_lengths)[:-1]])


def _sequence_keys(
    kind: str, rows: np.ndarray, bases: BaseTable | None, k: int, n_special: int
) -> tuple[np.ndarray, np.ndarray]:
    """(row index, key) of every k-gram of each row of token ids."""
    if kind == "dna":
        codes, starts = bases.decode(rows)
        ends, keys = canonical_kmers(codes, k)
    else:
        rows = np.asarray(rows, dtype=np.int64)
        length = rows.shape[1] + 1
        stream = np.zeros((len(rows), length), np.int64)  # id 0 ([PAD], special) ends each row
        stream[:, :-1] = rows
        ends, keys = hashed_kgrams(stream.reshape(-1), k, n_special=n_special)
        starts = np.arange(len(rows)) * length
    return np.searchsorted(starts, ends, side="right") - 1, keys


def training_blocks(train: np.ndarray, block_rows: int) -> Iterator[np.ndarray]:
    for start in range(0, len(train), block_rows):
        yield np.asarray(train[start : start + block_rows])


def shared_kgrams(
    kind: str,
    eval_rows: np.ndarray,
    train: np.ndarray,
    *,
    tokenizer,
    k: int,
    n_special: int = len(SPECIAL_TOKENS),
    block_rows: int = 8192,
) -> pd.DataFrame:
    """Per evaluation row (``sequence``: its index): ``kgrams`` (its k-grams without a break),
    ``shared_kgrams`` (those that occur in ``train``), ``shared_fraction`` (their ratio; NaN
    for a row without k-grams). ``kind``: dna (k bases, either strand) or text (k tokens);
    ``n_special``: the tokenizer's special ids (its ``layout.count``), each a break."""
    bases = BaseTable(tokenizer, n_special) if kind == "dna" else None
    rows_of, keys = _sequence_keys(kind, eval_rows, bases, k, n_special)
    distinct = np.unique(keys)
    seen = np.zeros(len(distinct), bool)
    for block in training_blocks(train, block_rows):
        _, train_keys = _sequence_keys(kind, block, bases, k, n_special)
        if not len(distinct) or not len(train_keys):
            continue
        index = np.minimum(np.searchsorted(distinct, train_keys), len(distinct) - 1)
        seen[index[distinct[index] == train_keys]] = True
    shared = seen[np.searchsorted(distinct, keys)] if len(keys) else np.zeros(0, bool)
    n_rows = len(eval_rows)
    kgrams = np.bincount(rows_of, minlength=n_rows)
    shared_counts = np.bincount(rows_of, weights=shared, minlength=n_rows).astype(np.int64)
    with np.errstate(invalid="ignore", divide="ignore"):
        fraction = np.where(kgrams > 0, shared_counts / np.maximum(kgrams, 1), np.nan)
    return pd.DataFrame(
        {"sequence": np.arange(n_rows), "kgrams": kgrams, "shared_kgrams": shared_counts, "shared_fraction": fraction}
    )


def kept_sequences(audit: pd.DataFrame, max_shared_fraction: float | None) -> np.ndarray:
    """The evaluation rows kept: all with no threshold; else those whose shared fraction is at
    most ``max_shared_fraction`` (a row without k-grams is kept: nothing of it is shared)."""
    fraction = audit["shared_fraction"].fillna(0.0).to_numpy()
    if max_shared_fraction is None:
        return np.ones(len(audit), bool)
    return fraction <= max_shared_fraction


def read_kept(audit_path, *, needed: int, max_shared_fraction: float) -> np.ndarray:
    """The ``kept`` column of a condition's audit table, once it holds the ``needed`` sequences
    that extraction asks for."""
    kept = pd.read_csv(audit_path)["kept"].to_numpy(bool)
    if kept.sum() < needed:
        raise InputError(
            f"{audit_path}: extraction.leakage.max_shared_fraction: {int(kept.sum())} of {len(kept)} evaluation "
            f"sequences share at most {max_shared_fraction} of their k-grams with the training tokens, and "
            f"{needed} are needed (extraction.sequences, extraction.fisher_sequences): raise max_shared_fraction "
            "or lower those"
        )
    return kept
