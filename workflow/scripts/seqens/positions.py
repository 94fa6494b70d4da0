"""The evaluation positions of a condition, drawn once from the data seed: a fixed set of
held-out sequences and, in each, ``mask_fraction`` of its non-special tokens (at least one).
Every member of every objective is queried at exactly these positions. numpy only: the
comparisons read them in an environment without torch."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import InputError
from .io import atomic_path, sha256_file
from .special import PAD_ID, SPECIAL_TOKENS


@dataclass
class EvalPositions:
    """Held-out sequences and the boolean mask of the positions to predict."""

    input_ids: np.ndarray  # [S, L] int64
    positions: np.ndarray  # [S, L] bool
    sequence_indices: np.ndarray  # rows of the eval array they come from
    eval_sha256: str

    @property
    def targets(self) -> np.ndarray:
        return self.input_ids[self.positions]

    @property
    def fingerprint(self) -> str:
        digest = hashlib.sha256(self.input_ids.tobytes())
        digest.update(np.packbits(self.positions).tobytes())
        return digest.hexdigest()

    def save(self, path: Path) -> None:
        with atomic_path(path) as tmp:
            with open(tmp, "wb") as handle:
                np.savez(
                    handle,
                    input_ids=self.input_ids,
                    positions=self.positions,
                    sequence_indices=self.sequence_indices,
                    eval_sha256=np.array(self.eval_sha256),
                )

    @classmethod
    def load(cls, path: Path) -> "EvalPositions":
        with np.load(path) as data:
            return cls(
                input_ids=data["input_ids"],
                positions=data["positions"],
                sequence_indices=data["sequence_indices"],
                eval_sha256=str(data["eval_sha256"]),
            )


def _evaluation_rows(tokens: np.ndarray, n_sequences: int | None, kept: np.ndarray | None) -> np.ndarray:
    """The rows evaluated: the first n (all with None) of those ``kept`` (all rows with None)."""
    rows = np.arange(len(tokens)) if kept is None else np.flatnonzero(kept)
    return rows if n_sequences is None else rows[:n_sequences]


def draw_eval_positions(
    eval_tokens_path: Path,
    *,
    n_sequences: int | None,
    mask_fraction: float,
    seed: int,
    kept: np.ndarray | None = None,
    n_special: int = len(SPECIAL_TOKENS),
) -> EvalPositions:
    """Pick the evaluation sequences (the first n, in order, of those ``kept``: a boolean per
    row of the eval array, e.g. the leakage audit's) and, per sequence, exactly
    round(mask_fraction x non-special tokens) positions (at least one), from ``seed``. The
    special tokens are the ids below ``n_special`` (the tokenizer's ``layout.count``)."""
    tokens = np.load(eval_tokens_path, mmap_mode="r")
    n = len(tokens) if n_sequences is None else n_sequences
    if n > len(tokens):
        raise InputError(f"{eval_tokens_path}: extraction asks for {n} sequences, the eval split has {len(tokens)}")
    rows = _evaluation_rows(tokens, n_sequences, kept)
    input_ids = np.asarray(tokens[rows], dtype=np.int64)
    rng = np.random.default_rng([seed, 2])  # stream 2: evaluation positions
    positions = masked_positions(input_ids, mask_fraction, rng, n_special=n_special)
    return EvalPositions(input_ids, positions, rows, sha256_file(eval_tokens_path))


def masked_positions(
    input_ids: np.ndarray, mask_fraction: float, rng: np.random.Generator, *, n_special: int = len(SPECIAL_TOKENS)
) -> np.ndarray:
    """Per row, exactly round(mask_fraction x ordinary tokens) of its ordinary tokens (ids >=
    ``n_special``; at least one), drawn from ``rng``: [rows, L] bool (the evaluation
    positions' rule, also drawn on held-out training rows by seqens.counts)."""
    maskable = input_ids >= n_special
    # Random keys, with non-maskable tokens pushed to the end; take the first k per row.
    keys = np.where(maskable, rng.random(input_ids.shape), np.inf)
    order = np.argsort(keys, axis=1, kind="stable")
    counts = np.maximum(1, np.round(mask_fraction * maskable.sum(axis=1))).astype(int)
    counts = np.minimum(counts, maskable.sum(axis=1))
    rank = np.argsort(order, axis=1)
    return rank < counts[:, None]


def draw_bernoulli_positions(
    eval_tokens_path: Path,
    *,
    n_sequences: int | None,
    probability: float,
    seed: int,
    stream: int,
    kept: np.ndarray | None = None,
    pad_id: int = PAD_ID,
) -> EvalPositions:
    """The paper's evaluation positions (src/analyze/data.py ``mlm_preprocess`` in
    lbcb-sci/GFMs @277899c): each non-pad token, [CLS] and [SEP] included, independently
    with ``probability``; a sequence may get none. ``stream`` separates the draws of the
    distributions' and the Fisher's positions; ``kept`` as in draw_eval_positions; ``pad_id``:
    the tokenizer's."""
    tokens = np.load(eval_tokens_path, mmap_mode="r")
    rows = _evaluation_rows(tokens, n_sequences, kept)
    input_ids = np.asarray(tokens[rows], dtype=np.int64)
    rng = np.random.default_rng([seed, 2, stream])  # within stream 2 (evaluation positions)
    positions = (rng.random(input_ids.shape) < probability) & (input_ids != pad_id)
    return EvalPositions(input_ids, positions, rows, sha256_file(eval_tokens_path))
