"""Pre-tokenised data: documents are tokenised, joined with [SEP] and cut into rows of
exactly ``length`` tokens, each starting with [CLS] (no padding). Rows are written to a
``.npy`` array that training memory-maps (``np.load(path, mmap_mode="r")``).

The number of rows is fixed by the config (the token budget), so every condition trains
on the same number of tokens whatever its tokenizer compresses to; a split that cannot
fill the budget is an error, never a silent shortfall.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import numpy as np

from .errors import InputError
from .io import atomic_path
from .progress import progress
from .tokenization import CLS_ID, SEP_ID, SPECIAL_TOKENS, SequenceTokenizer


@dataclass
class PackStats:
    sequences: int
    tokens: int
    characters: int
    documents: int

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def token_dtype(vocab_size: int) -> np.dtype:
    return np.dtype(np.uint16) if vocab_size <= np.iinfo(np.uint16).max + 1 else np.dtype(np.uint32)


def pack_sequences(
    texts: Iterable[str],
    tokenizer: SequenceTokenizer,
    out_path: Path,
    *,
    n_sequences: int,
    length: int,
    what: str,
    batch_documents: int = 512,
) -> PackStats:
    """Fill an [n_sequences, length] array from the texts; atomically written to out_path.

    ``characters`` counts the characters of the documents consumed, the last one pro rata
    to the share of its tokens that made it into the array.
    """
    content = length - 1  # one slot per row for [CLS]
    rows_done = 0
    pending: list[np.ndarray] = []
    pending_tokens = 0
    characters = 0.0
    documents = 0
    text_iter = iter(texts)
    with atomic_path(out_path) as tmp:
        # Written through a memory map so budgets far beyond RAM stay bounded in memory.
        array = np.lib.format.open_memmap(
            tmp, mode="w+", dtype=token_dtype(tokenizer.vocab_size), shape=(n_sequences, length)
        )
        array[:, 0] = CLS_ID
        bar = progress(desc=f"{what}: sequences", total=n_sequences, unit="seq")
        while rows_done < n_sequences:
            batch = list(itertools.islice(text_iter, batch_documents))
            if not batch:
                raise InputError(
                    f"{what}: the split gives {rows_done} sequences of {length} tokens, the budget asks for "
                    f"{n_sequences} (lower data.train_sequences / data.eval_sequences, or give the corpus more material)"
                )
            for text, ids in zip(batch, tokenizer.encode_texts(batch)):
                ids.append(SEP_ID)
                wanted = (n_sequences - rows_done) * content - pending_tokens
                take = min(len(ids), wanted)
                pending.append(np.asarray(ids[:take], dtype=np.int64))
                pending_tokens += take
                characters += len(text) * take / len(ids)
                documents += 1
                if pending_tokens >= content:
                    flat = np.concatenate(pending)
                    rows = len(flat) // content
                    array[rows_done : rows_done + rows, 1:] = flat[: rows * content].reshape(rows, content)
                    rows_done += rows
                    bar.update(rows)
                    pending = [flat[rows * content :]]
                    pending_tokens = len(pending[0])
                if rows_done == n_sequences:
                    break
        bar.close()
        array.flush()
        del array
    return PackStats(n_sequences, n_sequences * length, round(characters), documents)


def token_statistics(tokens: np.ndarray, vocab_size: int, characters: int) -> dict:
    """Vocabulary use and unigram entropy of the non-special tokens of a packed array."""
    counts = np.bincount(np.asarray(tokens).reshape(-1), minlength=vocab_size).astype(np.float64)
    specials = counts[: len(SPECIAL_TOKENS)].sum()
    content = counts[len(SPECIAL_TOKENS) :]
    total = content.sum()
    probs = content[content > 0] / total
    entropy = float(-(probs * np.log2(probs)).sum())
    return {
        "vocab_size": vocab_size,
        "vocab_used": int((content > 0).sum()),
        "content_tokens": int(total),
        "special_tokens": int(specials),
        "unk_tokens": int(counts[1]),
        "unigram_entropy_bits_per_token": entropy,
        "unigram_entropy_bits_per_char": entropy * total / characters if characters else float("nan"),
    }


def load_tokens(path: str | Path) -> np.ndarray:
    """Memory-map a packed array."""
    return np.load(path, mmap_mode="r")
