"""Metrics of predicted distributions, in bits. Inputs are probability rows ``probs`` [N, V]
(each summing to 1, exact zeros allowed) and integer ``targets`` [N]. Computed in float64."""

from __future__ import annotations

from itertools import combinations

import numpy as np

TOP_P_VALUES = (0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
# Probabilities are clipped here before a log of a target's probability: a model that gives
# a target exactly zero mass would otherwise have infinite cross-entropy.
MIN_PROBABILITY = 1e-12


def _xlog2x(p: np.ndarray) -> np.ndarray:
    """p * log2(p) with 0 log 0 = 0."""
    out = np.zeros_like(p, dtype=np.float64)
    positive = p > 0
    out[positive] = p[positive] * np.log2(p[positive])
    return out


def entropy_bits(probs: np.ndarray) -> np.ndarray:
    return -_xlog2x(np.asarray(probs, dtype=np.float64)).sum(axis=-1)


def kl_from_uniform_bits(probs: np.ndarray) -> np.ndarray:
    """KL(p || uniform over the vocabulary) = log2 V - H(p)."""
    return np.log2(np.shape(probs)[-1]) - entropy_bits(probs)


def cross_entropy_bits(probs: np.ndarray, targets: np.ndarray) -> np.ndarray:
    picked = np.take_along_axis(np.asarray(probs, dtype=np.float64), np.asarray(targets)[:, None], axis=1)[:, 0]
    return -np.log2(np.maximum(picked, MIN_PROBABILITY))


def perplexity(mean_cross_entropy_bits: float) -> float:
    """Per-token perplexity from a mean cross-entropy in bits."""
    return float(2.0**mean_cross_entropy_bits)


def correct(probs: np.ndarray, targets: np.ndarray) -> np.ndarray:
    return np.argmax(probs, axis=-1) == np.asarray(targets)


def rank_curve(probs: np.ndarray) -> np.ndarray:
    """Mean over rows of the probabilities sorted in descending order: [V]."""
    return -np.sort(-np.asarray(probs, dtype=np.float64), axis=-1).mean(axis=0)


def top_p_truncate(probs: np.ndarray, p: float) -> np.ndarray:
    """Keep the smallest set of most probable tokens whose mass reaches p (at least the top
    one; among equal probabilities the lower token id comes first), renormalised."""
    probs = np.asarray(probs, dtype=np.float64)
    if p >= 1.0:
        return probs
    order = np.argsort(-probs, axis=-1, kind="stable")
    sorted_probs = np.take_along_axis(probs, order, axis=-1)
    mass_before = np.cumsum(sorted_probs, axis=-1) - sorted_probs
    keep_sorted = mass_before < p  # a token is kept while the mass before it is short of p
    keep_sorted[..., 0] = True
    kept = np.zeros_like(probs)
    np.put_along_axis(kept, order, np.where(keep_sorted, sorted_probs, 0.0), axis=-1)
    return kept / kept.sum(axis=-1, keepdims=True)


def js_distance(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Jensen-Shannon distance per row: sqrt of the base-2 JS divergence, in [0, 1]."""
    p = np.asarray(p, dtype=np.float64)
    q = np.asarray(q, dtype=np.float64)
    m = 0.5 * (p + q)
    divergence = 0.5 * (_xlog2x(p).sum(-1) + _xlog2x(q).sum(-1)) - _xlog2x(m).sum(-1)
    return np.sqrt(np.clip(divergence, 0.0, 1.0))


def argmax_differs(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    return np.argmax(p, axis=-1) != np.argmax(q, axis=-1)


def pairwise_disagreement(probs_by_member, top_p_values=TOP_P_VALUES, chunk_size: int = 1024) -> dict:
    """For every member pair (i < j): JS distance per position after each top-p truncation
    ([n_pairs, n_p, N]) and whether the argmax predictions differ ([n_pairs, N]).

    ``probs_by_member`` is indexed as [members, positions] (an array, or any object with
    ``shape`` and ``[:, a:b]`` slicing), read in chunks of positions to bound memory."""
    n_members, n_positions = probs_by_member.shape[0], probs_by_member.shape[1]
    pairs = list(combinations(range(n_members), 2))
    js = np.empty((len(pairs), len(top_p_values), n_positions))
    differs = np.empty((len(pairs), n_positions), dtype=bool)
    for start in range(0, n_positions, chunk_size):
        stop = min(start + chunk_size, n_positions)
        chunk = np.asarray(probs_by_member[:, start:stop], dtype=np.float64)
        for p_index, p in enumerate(top_p_values):
            truncated = [top_p_truncate(member, p) for member in chunk]
            for pair_index, (i, j) in enumerate(pairs):
                js[pair_index, p_index, start:stop] = js_distance(truncated[i], truncated[j])
        for pair_index, (i, j) in enumerate(pairs):
            differs[pair_index, start:stop] = argmax_differs(chunk[i], chunk[j])
    return {"pairs": pairs, "js_distance": js, "argmax_differs": differs}
