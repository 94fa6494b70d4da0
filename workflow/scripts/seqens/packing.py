"""Pre-tokenised data in rows of exactly ``length`` tokens, each starting with [CLS] (no
padding; the rows of the paper's ``gfms_bpe`` start with no special token), written to a
``.npy`` array that training memory-maps (``np.load(path, mmap_mode="r")``). Two ways to cut
documents into rows (``data.sampling``):

- ``packed``: documents are joined with [SEP] and cut into consecutive rows, so every token
  of the material is used;
- ``one_per_document``: each document gives one row, its first tokens ([CLS], ``length`` - 2
  tokens, [SEP]: the paper's ``tokenizer(..., truncation=True, max_length=512)``); the rest
  of the document is dropped. A document too short to fill a row is skipped, where the
  paper pads it: its selection of the longest articles makes those rare, and rows stay
  free of padding. The paper's tokenizers frame a row as the paper does: ``gfms_bpe``, the
  document's first ``length`` tokens; ``nt_kmer``, <cls> and ``length`` - 1 tokens.

The number of rows is fixed by the config (the token budget), so every condition trains
on the same number of tokens whatever its tokenizer compresses to; a split that cannot
fill the budget is an error, never a silent shortfall.
"""

from __future__ import annotations

import itertools
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import numpy as np

from .config import kmer_tokens_at_least
from .errors import InputError
from .io import atomic_path
from .progress import progress
from .special import PROJECT, SpecialLayout
from .tokenization import SequenceTokenizer


@dataclass
class PackStats:
    sequences: int
    tokens: int
    characters: int
    documents: int
    documents_skipped: int = 0  # too short for a row (one_per_document)

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def token_dtype(vocab_size: int) -> np.dtype:
    return np.dtype(np.uint16) if vocab_size <= np.iinfo(np.uint16).max + 1 else np.dtype(np.uint32)


@contextmanager
def _rows(out_path: Path, n_sequences: int, length: int, tokenizer: SequenceTokenizer):
    """The [n_sequences, length] array being filled, each row starting with the tokenizer's
    [CLS] if its rows do: written through a memory map (so budgets far beyond RAM stay bounded
    in memory) and moved into place only when complete."""
    with atomic_path(out_path) as tmp:
        shape = (n_sequences, length)
        array = np.lib.format.open_memmap(tmp, mode="w+", dtype=token_dtype(tokenizer.vocab_size), shape=shape)
        if tokenizer.layout.starts_with_cls:
            array[:, 0] = tokenizer.special.cls
        yield array
        array.flush()
        del array


def most_sequences(split: Path, tokenizer: dict, window: int, length: int, sampling: str) -> tuple[int, str]:
    """The most sequences of ``length`` tokens a prepared split can fill with a tokenizer of
    this type, whatever its training, and why. k-mers: a DNA window without N gives exactly
    ``kmer_tokens_at_least`` tokens, and each N at most k - 1 more (it cuts a run of bases in
    two, whose tails become single nucleotides, and is a token itself). Otherwise at most one
    token per byte of the split file: byte-level BPE and characters make no more tokens than
    the text has bytes, DNA has a byte per base; a document's newline stands for its [SEP]."""
    size = Path(split).stat().st_size
    if tokenizer["type"] in ("kmer", "nt_kmer"):
        k = tokenizer["k"]
        windows = size // (window + 1)
        if sampling == "one_per_document":
            return windows, f"its {windows:,} windows give one sequence each"
        per_window = kmer_tokens_at_least(window, k, tokenizer.get("stride", k))
        n_bases = _count_byte(split, b"N")
        tokens = min(windows * per_window + (k - 1) * n_bases, windows * window) + windows  # and a [SEP] each
        return tokens // (length - 1), (
            f"its {windows:,} windows of {window:,} bp give {per_window:,} {k}-mer tokens each without N, and each "
            f"of its {n_bases:,} N at most {k - 1} more"
        )
    # A sequence holds length - 1 tokens after [CLS]; one_per_document needs a document of at
    # least length - 2 tokens, so of length - 1 bytes with its newline: the same bound.
    reason = (
        f"its {size:,} bytes (a document's newline standing for its [SEP]) give at most one token each, whatever "
        f"the {tokenizer['type']} tokenizer learns"
    )
    return size // (length - 1), reason


def _count_byte(path: Path, byte: bytes, block_size: int = 1 << 24) -> int:
    count = 0
    with open(path, "rb") as handle:
        while block := handle.read(block_size):
            count += block.count(byte)
    return count


def check_budget_fits(splits: dict[str, Path], data: dict, tokenizer: dict, window: int, condition: str) -> None:
    """Refuse, before the tokenizer is trained, a budget (``data``) that a split cannot fill
    even at ``most_sequences``: a budget this passes may still fail in ``pack_sequences``,
    never the other way round."""
    length = data["sequence_length"]
    for split, path in splits.items():
        wanted = data[f"{split}_sequences"]
        most, reason = most_sequences(path, tokenizer, window, length, data["sampling"])
        if most < wanted:
            raise InputError(
                f"condition {condition}, {split} split: at most {most:,} sequences of {length} tokens "
                f"(data.sampling: {data['sampling']}), the budget asks for {wanted:,} (data.{split}_sequences): "
                f"{reason}; lower data.{split}_sequences or data.sequence_length, or give the corpus more material"
            )


def pack_sequences(
    texts: Iterable[str],
    tokenizer: SequenceTokenizer,
    out_path: Path,
    *,
    n_sequences: int,
    length: int,
    what: str,
    sampling: str = "packed",
    batch_documents: int = 512,
) -> PackStats:
    """Fill an [n_sequences, length] array from the texts; atomically written to out_path.

    ``characters`` counts the characters of the documents consumed, a document cut short
    pro rata to the share of its tokens that made it into the array.
    """
    if sampling == "one_per_document":
        return _one_row_per_document(
            texts, tokenizer, out_path, n_sequences=n_sequences, length=length, what=what, batch_documents=batch_documents
        )
    if sampling != "packed":
        raise ValueError(f"unknown sampling {sampling!r}")
    separator = tokenizer.special.sep
    if separator is None:
        raise InputError(f"{what}: the tokenizer's vocabulary has no separator token to pack documents with; "
                         "use data.sampling: one_per_document")
    start = int(tokenizer.layout.starts_with_cls)  # the [CLS] slot, if rows have one
    content = length - start
    rows_done = 0
    pending: list[np.ndarray] = []
    pending_tokens = 0
    characters = 0.0
    documents = 0
    text_iter = iter(texts)
    with _rows(out_path, n_sequences, length, tokenizer) as array:
        bar = progress(desc=f"{what}: sequences", total=n_sequences, unit="seq")
        while rows_done < n_sequences:
            batch = list(itertools.islice(text_iter, batch_documents))
            if not batch:
                raise InputError(
                    f"{what}: the split gives {rows_done} sequences of {length} tokens, the budget asks for "
                    f"{n_sequences} (lower data.train_sequences / data.eval_sequences, or give the corpus more material)"
                )
            for text, ids in zip(batch, tokenizer.encode_texts(batch)):
                ids.append(separator)
                wanted = (n_sequences - rows_done) * content - pending_tokens
                take = min(len(ids), wanted)
                pending.append(np.asarray(ids[:take], dtype=np.int64))
                pending_tokens += take
                characters += len(text) * take / len(ids)
                documents += 1
                if pending_tokens >= content:
                    flat = np.concatenate(pending)
                    rows = len(flat) // content
                    array[rows_done : rows_done + rows, start:] = flat[: rows * content].reshape(rows, content)
                    rows_done += rows
                    bar.update(rows)
                    pending = [flat[rows * content :]]
                    pending_tokens = len(pending[0])
                if rows_done == n_sequences:
                    break
        bar.close()
    return PackStats(n_sequences, n_sequences * length, round(characters), documents)


def _one_row_per_document(
    texts: Iterable[str],
    tokenizer: SequenceTokenizer,
    out_path: Path,
    *,
    n_sequences: int,
    length: int,
    what: str,
    batch_documents: int,
) -> PackStats:
    layout = tokenizer.layout
    start, end = int(layout.starts_with_cls), length - int(layout.ends_with_sep)  # [CLS] ... [SEP]
    content = end - start
    rows_done = skipped = 0
    characters = 0.0
    text_iter = iter(texts)
    with _rows(out_path, n_sequences, length, tokenizer) as array:
        if layout.ends_with_sep:
            array[:, -1] = tokenizer.special.sep
        bar = progress(desc=f"{what}: sequences (one per document)", total=n_sequences, unit="seq")
        while rows_done < n_sequences:
            batch = list(itertools.islice(text_iter, batch_documents))
            if not batch:
                raise InputError(
                    f"{what}: {rows_done} documents have at least {content} tokens (one sequence of {length} "
                    f"each, data.sampling: one_per_document; {skipped} shorter ones skipped), the budget asks for "
                    f"{n_sequences} (lower data.train_sequences / data.eval_sequences or data.sequence_length, "
                    "or give the corpus more material)"
                )
            for text, ids in zip(batch, tokenizer.encode_texts(batch)):
                if len(ids) < content:
                    skipped += 1
                    continue
                array[rows_done, start:end] = ids[:content]
                characters += len(text) * content / len(ids)
                rows_done += 1
                bar.update(1)
                if rows_done == n_sequences:
                    break
        bar.close()
    return PackStats(n_sequences, n_sequences * length, round(characters), n_sequences, skipped)


def token_statistics(tokens: np.ndarray, vocab_size: int, characters: int, layout: SpecialLayout = PROJECT) -> dict:
    """Vocabulary use and unigram entropy of the non-special tokens of a packed array (the
    specials: ``layout``'s, its first ids)."""
    counts = np.bincount(np.asarray(tokens).reshape(-1), minlength=vocab_size).astype(np.float64)
    specials = counts[: layout.count].sum()
    content = counts[layout.count :]
    total = content.sum()
    probs = content[content > 0] / total
    entropy = float(-(probs * np.log2(probs)).sum())
    return {
        "vocab_size": vocab_size,
        "vocab_used": int((content > 0).sum()),
        "content_tokens": int(total),
        "special_tokens": int(specials),
        "unk_tokens": int(counts[layout.special_tokens(vocab_size).unk]),
        "unigram_entropy_bits_per_token": entropy,
        "unigram_entropy_bits_per_char": entropy * total / characters if characters else float("nan"),
    }


def load_tokens(path: str | Path) -> np.ndarray:
    """Memory-map a packed array."""
    return np.load(path, mmap_mode="r")
