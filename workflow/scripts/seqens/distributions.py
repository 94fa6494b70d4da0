"""Metrics of predicted distributions, in bits. Inputs are probability rows ``probs`` [N, V]
(each summing to 1, exact zeros allowed) and integer ``targets`` [N]. Computed in float64;
0 log 0 is taken as 0 throughout."""

from __future__ import annotations

from itertools import combinations
from typing import Sequence

import numpy as np
from scipy.special import entr

TOP_P_VALUES = (0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
# A target's probability is clipped to at least this before its log, so a model that gives
# the target exactly zero mass costs log2(1e12) ~ 39.9 bits instead of infinity.
MIN_PROBABILITY = 1e-12
# Top-p counts the mass before a token as having reached p when it is within this of p, so
# that summation rounding (0.1 + 0.2 = 0.30000000000000004) does not add or drop a token.
TOP_P_TOLERANCE = 1e-12


def _float64(probs) -> np.ndarray:
    return np.asarray(probs, dtype=np.float64)


def entropy_bits(probs: np.ndarray) -> np.ndarray:
    """Shannon entropy of each row, in bits: [N]."""
    return entr(_float64(probs)).sum(axis=-1) / np.log(2.0)


def kl_from_uniform_bits(probs: np.ndarray) -> np.ndarray:
    """KL(p || uniform over the vocabulary) = log2 V - H(p), in bits: [N]."""
    return np.log2(np.shape(probs)[-1]) - entropy_bits(probs)


def cross_entropy_bits(probs: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """-log2 p(target) per row: [N]. The target's probability is clipped to at least
    ``MIN_PROBABILITY``, so a zero-probability target gives a large finite value."""
    probs = _float64(probs)
    targets = np.asarray(targets)
    if targets.shape != probs.shape[:1] or ((targets < 0) | (targets >= probs.shape[1])).any():
        raise ValueError(f"targets must be {probs.shape[0]} token ids in [0, {probs.shape[1]})")
    picked = np.take_along_axis(probs, targets[:, None], axis=1)[:, 0]
    return -np.log2(np.maximum(picked, MIN_PROBABILITY))


def unigram_surprisal_bits(targets: np.ndarray) -> np.ndarray:
    """-log2 q(target) under q, the empirical distribution of the targets themselves: the best
    any context-free predictor can do at these positions. Its mean is the targets' unigram
    entropy, so a model's cross-entropy below it is information taken from the context."""
    _, inverse, counts = np.unique(targets, return_inverse=True, return_counts=True)
    return -np.log2(counts[inverse] / len(targets))


def perplexity(mean_cross_entropy_bits: float) -> float:
    """Per-token perplexity, 2 ** (mean cross-entropy in bits)."""
    return float(2.0**mean_cross_entropy_bits)


def correct(probs: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Whether the most probable token (the lowest id among ties) is the target: bool [N]."""
    return np.argmax(probs, axis=-1) == np.asarray(targets)


def rank_curve(probs: np.ndarray) -> np.ndarray:
    """Mean over rows of the probabilities sorted in descending order: [V]."""
    return -np.sort(-_float64(probs), axis=-1).mean(axis=0)


def _check_top_p(p: float) -> None:
    if not 0.0 < p <= 1.0:
        raise ValueError(f"top-p must be in (0, 1], got {p}")


class _Nuclei:
    """Rows sorted once in descending order, with the cumulative mass along that order:
    every top-p truncation follows without another sort. (The order of equal probabilities
    does not change the sums, so a fast unstable sort of the values serves.)"""

    def __init__(self, probs: np.ndarray):
        self.probs = probs
        self.sorted = -np.sort(-probs, axis=-1)
        self.cumulative_mass = np.cumsum(self.sorted, axis=-1)

    def _kept(self, n_kept: np.ndarray) -> np.ndarray:
        """The n_kept most probable tokens of each row, lower ids first among equal
        probabilities: every token above the n_kept-th probability, then tied ones by id."""
        threshold = np.take_along_axis(self.sorted, (n_kept - 1)[:, None], axis=-1)
        above = self.probs > threshold
        tied = self.probs == threshold
        room = n_kept - above.sum(axis=-1)
        crowded = tied.sum(axis=-1) > room
        if crowded.any():
            tied[crowded] &= np.cumsum(tied[crowded], axis=-1) <= room[crowded, None]
        return above | tied

    def truncate(self, p: float) -> np.ndarray:
        """The smallest set of most probable tokens whose mass reaches p (at least the top
        one), renormalised: [N, V]."""
        if p == 1.0:
            return self.probs
        n_kept = 1 + (self.cumulative_mass[:, :-1] < p - TOP_P_TOLERANCE).sum(axis=-1)
        mass = np.take_along_axis(self.cumulative_mass, (n_kept - 1)[:, None], axis=-1)
        return np.where(self._kept(n_kept), self.probs, 0.0) / mass


def top_p_truncate(probs: np.ndarray, p: float) -> np.ndarray:
    """Nucleus truncation of each row: keep the smallest set of most probable tokens whose
    mass reaches p (always the top one; among equal probabilities the lower token id comes
    first), renormalised. p = 1 returns the input unchanged."""
    _check_top_p(p)
    probs = _float64(probs)
    return probs if p == 1.0 else _Nuclei(probs).truncate(p)


def _js_distance_from_entropies(p: np.ndarray, q: np.ndarray, entropy_p: np.ndarray, entropy_q: np.ndarray):
    """JS distance from the rows and their entropies (which pairwise_disagreement reuses)."""
    divergence = entropy_bits(0.5 * (p + q)) - 0.5 * (entropy_p + entropy_q)
    return np.sqrt(np.clip(divergence, 0.0, 1.0))


def js_distance(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Jensen-Shannon distance per row: sqrt of the base-2 JS divergence, in [0, 1]: [N]."""
    p, q = _float64(p), _float64(q)
    return _js_distance_from_entropies(p, q, entropy_bits(p), entropy_bits(q))


def argmax_differs(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Whether the two rows' most probable tokens differ: bool [N]."""
    return np.argmax(p, axis=-1) != np.argmax(q, axis=-1)


def pairwise_disagreement(
    probs_by_member, top_p_values: Sequence[float] = TOP_P_VALUES, chunk_size: int = 128
) -> dict:
    """Disagreement of every member pair (i < j) at every position.

    Returns ``pairs`` (the list of (i, j)), ``js_distance`` [n_pairs, n_p, N] (JS distance
    after top-p truncation of both members, for each p in ``top_p_values``) and
    ``argmax_differs`` [n_pairs, N]. ``probs_by_member`` is indexed [members, positions,
    vocabulary] (an array, or any object with ``shape`` and ``[:, a:b]`` slicing); positions
    are read ``chunk_size`` at a time, so memory is a few tens of bytes per probability of
    a [M, chunk_size, V] chunk, whatever N is."""
    for p in top_p_values:
        _check_top_p(p)
    n_members, n_positions = probs_by_member.shape[0], probs_by_member.shape[1]
    pairs = list(combinations(range(n_members), 2))
    js = np.empty((len(pairs), len(top_p_values), n_positions))
    differs = np.empty((len(pairs), n_positions), dtype=bool)
    for start in range(0, n_positions, chunk_size):
        stop = min(start + chunk_size, n_positions)
        chunk = _float64(probs_by_member[:, start:stop])
        nuclei = [_Nuclei(member) for member in chunk]
        for p_index, p in enumerate(top_p_values):
            truncated = [nucleus.truncate(p) for nucleus in nuclei]
            entropies = [entropy_bits(member) for member in truncated]
            for pair_index, (i, j) in enumerate(pairs):
                js[pair_index, p_index, start:stop] = _js_distance_from_entropies(
                    truncated[i], truncated[j], entropies[i], entropies[j]
                )
        for pair_index, (i, j) in enumerate(pairs):
            differs[pair_index, start:stop] = argmax_differs(chunk[i], chunk[j])
    return {"pairs": pairs, "js_distance": js, "argmax_differs": differs}
