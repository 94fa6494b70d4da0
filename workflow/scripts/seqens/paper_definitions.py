"""The paper's metric definitions, as its public code computes them (GitHub lbcb-sci/GFMs,
commit 277899c), beside this project's ("corrected") ones in seqens.distributions and
seqens.embedding_similarity. The config's ``extraction.definitions`` chooses which are
reported; tables say which in their ``definition`` column.

Where the two differ (paths in their repository):

- KL to uniform (src/analyze/metrics.py ``kl_divergence(uniform, p)``): KL(U || p) in bits,
  both arguments clamped to at least 1e-10. Ours is KL(p || U) = log2 V - H(p).
- Top-p truncation (src/analyze/distribution/distribution.py ``top_p_reweight``): keeps the
  tokens whose cumulative mass is <= p (at least the top one), dropping the one that crosses
  p, then renormalises. Ours is the nucleus rule (the smallest set whose mass reaches p).
- JS distance (metrics.py ``jensen_shannon_distance``): sqrt of 0.5 KL(p || m) + 0.5 KL(q || m)
  with the same clamping (an exact zero counts as 1e-10), NaN where rounding makes the
  divergence negative; ``compute_jensen_shannon`` replaces a pair's NaNs by that pair's mean.
- Local Spearman (metrics.py ``local_spearman_correlation``): its "from B" half ranks the
  columns already gathered from A's top-k, so both halves use A's neighbour sets: the value is
  one-directional and depends on argument order. Ranks are ordinal (no tie averaging) and
  the denominator has 1e-8 added.
- Evaluation positions (src/analyze/data.py ``mlm_preprocess``): Bernoulli(p) over every
  non-pad token, [CLS] and [SEP] included; p = 0.10 for distributions, 0.15 for Fisher.
- Fisher (src/analyze/fisher/fisher.py): the square of the mini-batch gradient of the mean
  NLL over the batch's masked tokens (batch 8, 256 sequences), summed over batches and
  divided by the number of masked tokens.
- Contextual embeddings (src/analyze/embeddings/embeddings.py): the same metrics
  (seqens.contextual), of 256 sequences masked as for the Fisher (each non-pad token with
  probability 0.15, [CLS] and [SEP] included) instead of at the evaluation positions.
- Fisher during training (src/train/callback.py ``FisherCallback``): at each evaluation, over
  the whole held-out split in the evaluation's batches (masked as in training), the squared
  gradient of each batch's mean loss times its number of sequences, summed and divided by
  all sequences, in three groups: embeddings, encoder, head (seqens.training).

Metrics whose definitions agree (top-k overlap, Procrustes, CKA, cross-entropy, accuracy)
are computed once. The paper's entropy, -sum p log2(p + 1e-10), differs from the exact one by
less than V x 1e-10 / ln 2 bits (1.5e-7 at V = 1024) and is not computed separately; at the
paper's positions it is reported under ``paper`` all the same, since the positions differ.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from .embedding_similarity import Neighbours

DEFINITIONS = ("corrected", "paper")
# A table row whose metric is the same under both definitions.
BOTH = "both"

CLAMP = 1e-10  # metrics.py kl_divergence: p.clamp_min(1e-10)
SPEARMAN_EPSILON = 1e-8  # metrics.py local_spearman_correlation: denominator + 1e-8
RENORMALISE_MIN = 1e-8  # distribution.py top_p_reweight: torch.clamp(total, min=1e-8)
# The paper's Fisher and contextual embeddings (fisher/fisher.py, embeddings/embeddings.py
# with src/analyze/__main__.py's defaults): mlm_preprocess(mask_prob=0.15) of --samples 256
# sequences, the Fisher in batches of --batch_size 8.
MASK_PROBABILITY = 0.15
SEQUENCES = 256
FISHER_BATCH_SIZE = 8


def applies_to(objective: str) -> bool:
    """Whether an objective's ensembles are measured under the paper's definitions too: its
    positions include each sequence's first token, which clm (next-token prediction, no
    left context there) cannot predict, so clm ensembles are reported as corrected only."""
    return objective != "clm"


def kl_uniform_to_p_bits(probs: np.ndarray) -> np.ndarray:
    """KL(U || p) in bits, p clamped at 1e-10: [N]."""
    probs = np.maximum(np.asarray(probs, dtype=np.float64), CLAMP)
    uniform = max(1.0 / probs.shape[-1], CLAMP)
    return (uniform * (np.log2(uniform) - np.log2(probs))).sum(axis=-1)


class _Sorted:
    """Rows sorted once in descending order (lower ids first among equal probabilities), with
    their cumulative mass: every top-p truncation follows without another sort."""

    def __init__(self, probs: np.ndarray):
        self.probs = np.asarray(probs, dtype=np.float64)
        self.order = np.argsort(-self.probs, axis=-1, kind="stable")
        self.sorted = np.take_along_axis(self.probs, self.order, axis=-1)
        self.cumulative_mass = np.cumsum(self.sorted, axis=-1)

    def keep_below(self, p: float) -> np.ndarray:
        dropped = self.cumulative_mass > p
        dropped[:, 0] = False
        kept = np.where(dropped, 0.0, self.sorted)
        kept /= np.maximum(kept.sum(axis=-1, keepdims=True), RENORMALISE_MIN)
        out = np.empty_like(self.probs)
        np.put_along_axis(out, self.order, kept, axis=-1)
        return out


def top_p_keep_below(probs: np.ndarray, p: float) -> np.ndarray:
    """The paper's top-p: keep the most probable tokens while their cumulative mass is <= p
    (the top one always; lower ids first among equal probabilities), renormalised: [N, V].
    The comparison is exact, as theirs: a cumulative sum rounded above p drops its token."""
    return _Sorted(probs).keep_below(p)


def _clamped_plogp(p: np.ndarray) -> np.ndarray:
    """sum over the row of p' log2 p', p' = max(p, 1e-10): [N]."""
    p = np.maximum(p, CLAMP)
    return (p * np.log2(p)).sum(axis=-1)


def _js_from_plogp(p: np.ndarray, q: np.ndarray, plogp: np.ndarray, qlogq: np.ndarray) -> np.ndarray:
    """0.5 KL(p'||m') + 0.5 KL(q'||m') = 0.5 (sum p' log p' + sum q' log q' - sum (p' + q') log m'),
    rooted; NaN where rounding makes it negative (as torch.sqrt gives)."""
    m = np.maximum(0.5 * (p + q), CLAMP)
    cross = ((np.maximum(p, CLAMP) + np.maximum(q, CLAMP)) * np.log2(m)).sum(axis=-1)
    with np.errstate(invalid="ignore"):
        return np.sqrt(0.5 * (plogp + qlogq - cross))


def js_distance_clamped(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """sqrt(0.5 KL(p || m) + 0.5 KL(q || m)) with every argument clamped at 1e-10: [N]; NaN
    where the clamped divergence is negative."""
    p, q = np.asarray(p, dtype=np.float64), np.asarray(q, dtype=np.float64)
    return _js_from_plogp(p, q, _clamped_plogp(p), _clamped_plogp(q))


def nan_to_pair_mean(values: np.ndarray) -> np.ndarray:
    """compute_jensen_shannon's NaN rule: each pair's NaNs become that pair's mean of the
    rest. ``values`` is [pairs, N]."""
    means = np.nanmean(values, axis=-1, keepdims=True)
    return np.where(np.isnan(values), means, values)


def pairwise_js_distance(probs_by_member, top_p_values, chunk_size: int = 128) -> np.ndarray:
    """The paper's JS distance of every member pair (i < j) at every position after its top-p
    truncation of both: [n_pairs, n_p, N], NaNs replaced by the pair's mean.
    ``probs_by_member`` is [members, positions, V] (an array or seqens.comparisons.outputs.MemberStack);
    each member's rows are sorted once per chunk and its sum p' log p' reused in every pair."""
    n_members, n_positions = probs_by_member.shape[0], probs_by_member.shape[1]
    pairs = [(i, j) for i in range(n_members) for j in range(i + 1, n_members)]
    js = np.empty((len(pairs), len(top_p_values), n_positions))
    for start in range(0, n_positions, chunk_size):
        chunk = np.asarray(probs_by_member[:, start : start + chunk_size], dtype=np.float64)
        ordered = [_Sorted(member) for member in chunk]
        for p_index, p in enumerate(top_p_values):
            truncated = [member.keep_below(p) for member in ordered]
            plogp = [_clamped_plogp(member) for member in truncated]
            for pair_index, (i, j) in enumerate(pairs):
                js[pair_index, p_index, start : start + chunk_size] = _js_from_plogp(
                    truncated[i], truncated[j], plogp[i], plogp[j]
                )
    for p_index in range(len(top_p_values)):
        js[:, p_index] = nan_to_pair_mean(js[:, p_index])
    return js


def local_spearman_one_directional(
    A: np.ndarray, B: np.ndarray, k: int, *, neighbours: Neighbours | None = None
) -> np.ndarray:
    """Per-token local Spearman as the paper's code computes it: over A's top-k cosine
    neighbours N_A(i) only, the correlation of ordinal ranks of sim_A(i, N_A(i)) and
    sim_B(i, N_A(i)), with 1e-8 added to the denominator: [V]. ``neighbours``: A's
    (indices, similarities) from embedding_similarity.cosine_neighbours at k or more."""
    # scipy here only: the workflow itself reads this module (applies_to) without it
    from scipy.stats import rankdata

    from .embedding_similarity import _similarities_to, _unit_rows, cosine_neighbours

    if k < 2:
        raise ValueError(f"local Spearman needs k >= 2 neighbours, got {k}")
    indices, sims_a = neighbours if neighbours is not None else cosine_neighbours(A, k)
    indices, sims_a = indices[:, :k], sims_a[:, :k]
    sims_b = _similarities_to(_unit_rows(B), indices)
    ranks_a = rankdata(sims_a, axis=1, method="ordinal").astype(np.float64)
    ranks_b = rankdata(sims_b, axis=1, method="ordinal").astype(np.float64)
    ranks_a -= ranks_a.mean(axis=1, keepdims=True)
    ranks_b -= ranks_b.mean(axis=1, keepdims=True)
    denominator = np.sqrt((ranks_a**2).sum(axis=1) * (ranks_b**2).sum(axis=1)) + SPEARMAN_EPSILON
    return (ranks_a * ranks_b).sum(axis=1) / denominator
