"""Contextual embeddings: the geometry of what members compute from their input, as the
paper's code measures it (lbcb-sci/GFMs @277899c, ``src/analyze/embeddings/embeddings.py``,
cited below as ``embeddings.py:LINE``).

A member's contextual embedding of a sequence is the mean over the sequence's tokens of a
layer's hidden states (``mean_pool``, embeddings.py:101-105), on the masked evaluation
sequences (embeddings.py:75; here the condition's fixed evaluation positions, replaced by
[MASK] as for the output distributions). The paper takes the last layer
(``hidden_states[-1]``, embeddings.py:118) for every metric but the participation ratio,
which it takes at every layer (``layerwise_PR``, embeddings.py:230-265).

Per member, over its n sequence embeddings (rows of X [n, H]):

- ``effective_rank``: exp of the entropy of the singular values of the centred X,
  normalised to sum 1 (Roy and Vetterli), with the paper's 1e-9 inside the log
  (embeddings.py:168-173). 1 for a rank-1 set, H for an isotropic one.
- ``uniformity``: log of the mean of exp(-2 ||u_i - u_j||^2) over pairs of the unit-norm
  rows (Wang and Isola; embeddings.py:128-131). Lower is more uniform on the sphere.
- ``anisotropy``: norm of the mean unit-norm row (embeddings.py:175-178): 0 for directions
  spread evenly, 1 for one direction.
- ``average_cosine``: mean cosine similarity over pairs (embeddings.py:139-143).
- ``pairwise_distance_sd``: standard deviation (n - 1 denominator, as ``torch.std``) of the
  Euclidean distances of the raw rows over pairs (embeddings.py:180-182).
- ``participation_ratio`` at each layer: (sum s^2)^2 / sum s^4 of the singular values of
  the centred X (embeddings.py:133-137).

Between two members, on the same sequences:

- ``neighbour_alignment``: the share of each sequence's 10 nearest cosine neighbours the two
  members have in common, over all sequences (embeddings.py:145-161).
- ``l2_alignment``: mean squared distance between the two members' unit-norm embeddings of
  the same sequence (embeddings.py:163-166). The definition compares coordinates directly,
  so it is not invariant to a rotation of either member's hidden space: two members whose
  geometry is identical up to rotation can score up to 4, while unrelated members score about
  2. It is reported as the paper defines it; read it as agreement of coordinates, not of
  geometry (``linear_cka`` and ``neighbour_alignment`` are rotation-invariant).
- ``linear_cka``: linear centred kernel alignment (embeddings.py:184-195; the same as
  ``embedding_similarity.linear_cka``).

Multi-Bootstrap: these are properties of a set, so a draw passes the examples as integer
weights (how often each sequence was drawn, ``bootstrap.multi_bootstrap_sets``), and every
metric below is the paper's metric of the drawn multiset, computed exactly from the weights,
with one rule added: two copies of the same sequence are not a pair (as a member paired with
itself is not, in the pair bootstrap) and not each other's neighbours. With every weight 1 (the
estimate) each metric is the paper's function of the n sequences. numpy only: the
comparisons run without torch.
"""

from __future__ import annotations

import hashlib
from functools import cached_property
from itertools import combinations
from typing import Callable, Sequence

import numpy as np
import pandas as pd
from scipy.spatial.distance import cdist

from . import bootstrap
from .comparisons.contrasts import Contrast, Difference, dna_minus_text
from .comparisons.intervals import interval_row, unit_sd
from .config import Ensemble
from .errors import InputError
from .layers import hidden_state_names

NEIGHBOURS = 10  # k of neighbour_alignment (embeddings.py:145)
LOG_EPSILON = 1e-9  # inside the log of effective_rank (embeddings.py:172)
MEMBER_METRICS = ("effective_rank", "uniformity", "anisotropy", "average_cosine", "pairwise_distance_sd")
PAIR_METRICS = ("neighbour_alignment", "l2_alignment", "linear_cka")
LAYER_METRIC = "participation_ratio"


def _pair_sum(matrix: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Sum of matrix[i, j] over pairs of drawn copies of two different sequences, both
    orders: sum_{i != j} w_i w_j M_ij for each row of weights [d, n] -> [d]."""
    return ((weights @ matrix) * weights).sum(axis=1) - (weights**2) @ np.diag(matrix)


def _pair_count(weights: np.ndarray) -> np.ndarray:
    """Ordered pairs of drawn copies of two different sequences: m^2 - sum w^2 -> [d]."""
    return weights.sum(axis=1) ** 2 - (weights**2).sum(axis=1)


def _outer_products(X: np.ndarray) -> np.ndarray:
    """x_i x_i^T of every row, flattened [n, H H]: a draw's scatter is then one product."""
    return (X[:, :, None] * X[:, None, :]).reshape(len(X), -1)


def _covariance(X: np.ndarray, weights: np.ndarray, outer: np.ndarray) -> np.ndarray:
    """X_c^T W X_c for each draw [d, H, H], centred at the weighted mean row; ``outer``:
    ``_outer_products(X)``."""
    total = weights.sum(axis=1)[:, None, None]
    scatter = (weights @ outer).reshape(len(weights), X.shape[1], X.shape[1])
    mean_sum = weights @ X
    return scatter - np.einsum("dh,dk->dhk", mean_sum, mean_sum) / total


def _centred_gram(gram: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """(x_i - mu)(x_j - mu) for each draw [d, n, n], mu the weighted mean row, from the
    Gram matrix [n, n] of X about any fixed origin."""
    total = weights.sum(axis=1)
    projection = weights @ gram / total[:, None]  # x_i . mu
    square = np.einsum("di,di->d", projection, weights) / total  # mu . mu
    return gram[None] - projection[:, :, None] - projection[:, None, :] + square[:, None, None]


def _moment_inner(a: "SequenceSet", b: "SequenceSet", weights: np.ndarray) -> np.ndarray:
    """||X_c^T W Y_c||_F^2 for each draw [d]: the squared Frobenius norm of the two sets'
    weighted cross-covariance, sum_ij w_i w_j Ka_ij Kb_ij with Ka, Kb the
    weighted centred Gram matrices (for a = b, ||X_c^T W X_c||_F^2), without forming any
    [d, n, n] array: with m = sum w, p = K w / m (x_i . mu) and s = w . p / m (mu . mu) per set,

        sum_ij w_i w_j Ka_ij Kb_ij = w^T (Ga o Gb) w - 2 m sum_i w_i pa_i pb_i + m^2 sa sb,

    G the Gram matrices (about the unweighted mean row: the weighted centring does not
    depend on the origin, and about the mean the three terms stay near the size of the
    result, where about the origin a large mean row would make them cancel)."""
    total = weights.sum(axis=1)
    pa, pb = weights @ a.gram / total[:, None], weights @ b.gram / total[:, None]
    sa, sb = (pa * weights).sum(axis=1) / total, (pb * weights).sum(axis=1) / total
    product = a.gram_square if a is b else a.gram * b.gram
    return ((weights @ product) * weights).sum(axis=1) - 2 * total * (weights * pa * pb).sum(axis=1) + total**2 * sa * sb


class SequenceSet:
    """One member's embeddings of the n evaluation sequences at one layer, X [n, H], with the
    n x n quantities every bootstrap draw reuses. Each metric maps example weights [d, n]
    (how often each sequence is in a draw; all ones for the data itself) to [d] values."""

    def __init__(self, embeddings: np.ndarray):
        self.X = np.asarray(embeddings, dtype=np.float64)
        if self.X.ndim != 2 or len(self.X) < 2:
            raise ValueError(f"a sequence set needs [n >= 2, H] embeddings, got shape {self.X.shape}")
        self._slots = None  # what the last draws' neighbour metrics share

    @cached_property
    def unit(self) -> np.ndarray:
        """Rows at unit norm (F.normalize: a zero row stays zero)."""
        norms = np.linalg.norm(self.X, axis=1, keepdims=True)
        return self.X / np.maximum(norms, 1e-12)

    @cached_property
    def cosine(self) -> np.ndarray:
        return self.unit @ self.unit.T

    @cached_property
    def gram(self) -> np.ndarray:
        """(x_i - xbar) . (x_j - xbar), about the unweighted mean row [n, n]: every weighted
        centring below equals the one about the origin, with smaller terms."""
        centred = self.X - self.X.mean(axis=0)
        return centred @ centred.T

    @cached_property
    def gram_square(self) -> np.ndarray:
        return self.gram**2

    @cached_property
    def outer_products(self) -> np.ndarray:
        return _outer_products(self.X)

    @cached_property
    def distances(self) -> np.ndarray:
        return cdist(self.X, self.X)

    @cached_property
    def neighbour_order(self) -> tuple[np.ndarray, np.ndarray]:
        """Per row, the other sequences by descending cosine, ties to the lower index, the
        row itself last: (order [n, n], each sequence's place in it [n, n])."""
        scores = self.cosine.copy()
        np.fill_diagonal(scores, -np.inf)
        order = np.argsort(-scores, axis=1, kind="stable")
        return order, np.argsort(order, axis=1)

    def neighbour_slots(self, weights: np.ndarray, k: int, ranks: int) -> np.ndarray:
        """``_neighbour_slots`` over the first ``ranks`` of each row; kept for the weights it
        was last computed for (each member is in several pairs)."""
        key = (k, ranks)
        if self._slots is not None and self._slots[0] is weights and self._slots[1] == key:
            return self._slots[2]
        slots = _neighbour_slots(self.neighbour_order[0][:, :ranks], weights, k)
        self._slots = (weights, key, slots)
        return slots

    def _second_moment(self, weights: np.ndarray) -> np.ndarray:
        """The centred drawn set's covariance X_c^T W X_c [d, H, H], or its weighted centred
        Gram matrix [d, n, n] when n < H: the smaller of two matrices with the same non-zero
        eigenvalues, the squared singular values of the centred set."""
        n, h = self.X.shape
        if h <= n:
            return _covariance(self.X, weights, self.outer_products)
        root = np.sqrt(weights)
        return root[:, :, None] * _centred_gram(self.gram, weights) * root[:, None, :]

    def squared_singular_values(self, weights: np.ndarray) -> np.ndarray:
        """Of the centred drawn set [d, min(n, H)]."""
        eigenvalues = np.linalg.eigvalsh(self._second_moment(weights))
        # Rounding leaves eigenvalues of about eps x the largest where the singular value is
        # 0; their square roots would enter the effective rank as ~1e-7 (as numpy's rank test).
        noise = eigenvalues[:, -1:] * max(self.X.shape) * np.finfo(np.float64).eps
        return np.where(eigenvalues > noise, eigenvalues, 0.0)

    def effective_rank(self, weights: np.ndarray, squared: np.ndarray | None = None) -> np.ndarray:
        """``squared``: the squared singular values, if already computed."""
        singular = np.sqrt(self.squared_singular_values(weights) if squared is None else squared)
        p = singular / singular.sum(axis=1, keepdims=True)
        return np.exp(-(p * np.log(p + LOG_EPSILON)).sum(axis=1))

    def participation_ratio(self, weights: np.ndarray) -> np.ndarray:
        """(sum s^2)^2 / sum s^4: the squared trace over the squared Frobenius norm of the
        second moment, with no decomposition, in O(n^2) a draw (``_moment_inner``; the trace
        is sum_i w_i G_ii - m s)."""
        total = weights.sum(axis=1)
        mean_square = ((weights @ self.gram) * weights).sum(axis=1) / total**2  # s
        trace = weights @ np.diag(self.gram) - total * mean_square
        return trace**2 / _moment_inner(self, self, weights)

    def uniformity(self, weights: np.ndarray) -> np.ndarray:
        squared = np.clip(2.0 - 2.0 * self.cosine, 0.0, None)
        return np.log(_pair_sum(np.exp(-2.0 * squared), weights) / _pair_count(weights))

    def anisotropy(self, weights: np.ndarray) -> np.ndarray:
        mean = weights @ self.unit / weights.sum(axis=1, keepdims=True)
        return np.linalg.norm(mean, axis=1)

    def average_cosine(self, weights: np.ndarray) -> np.ndarray:
        return _pair_sum(self.cosine, weights) / _pair_count(weights)

    def pairwise_distance_sd(self, weights: np.ndarray) -> np.ndarray:
        pairs = _pair_count(weights) / 2
        mean = _pair_sum(self.distances, weights) / 2 / pairs
        squares = _pair_sum(self.distances**2, weights) / 2
        return np.sqrt(np.clip(squares - pairs * mean**2, 0.0, None) / (pairs - 1))


def _neighbour_slots(order: np.ndarray, weights: np.ndarray, k: int) -> np.ndarray:
    """How many drawn copies of order[i, r] are among the k nearest neighbours of sequence i
    [d, n, R], over the first R ranks of each row: copies are taken in order of similarity
    until k are taken; a sequence's own copies (last in its row) are not its neighbours."""
    n = len(order)
    by_rank = weights[:, order] * (order != np.arange(n)[:, None])
    room = k - (np.cumsum(by_rank, axis=2) - by_rank)  # neighbour places left before each rank
    return np.minimum(np.maximum(room, 0.0), by_rank)


def neighbour_alignment(a: SequenceSet, b: SequenceSet, weights: np.ndarray, k: int = NEIGHBOURS) -> np.ndarray:
    """Shared share of the k nearest cosine neighbours of every drawn copy (embeddings.py:145-161).

    Only the first ranks of each row can hold the k neighbours: 4k ranks are tried first,
    and all n for the draws in which some row has fewer than k copies among them."""
    n = len(a.X)
    if n <= k:
        raise ValueError(f"neighbour alignment at k = {k} needs more than {k} sequences, got {n}")
    (order_a, _), (_, place_b) = a.neighbour_order, b.neighbour_order
    shared = np.empty(len(weights))
    pending = np.arange(len(weights))
    drawn = weights
    for ranks in dict.fromkeys((min(n, 4 * k), n)):
        slots_a, slots_b = a.neighbour_slots(drawn, k, ranks), b.neighbour_slots(drawn, k, ranks)
        complete = (slots_a.sum(axis=2) == k).all(axis=1) & (slots_b.sum(axis=2) == k).all(axis=1)
        if ranks == n:  # every row's candidates, however few copies they hold
            complete[:] = True
        # Where each of a's candidates stands among b's first ranks (ranks: not there).
        in_b = np.minimum(np.take_along_axis(place_b, order_a[:, :ranks], axis=1), ranks)
        padded = np.concatenate([slots_b, np.zeros(slots_b.shape[:2] + (1,))], axis=2)
        of_b = np.take_along_axis(padded, np.broadcast_to(in_b, slots_a.shape), axis=2)
        counts = np.einsum("dir,di->d", np.minimum(slots_a, of_b), drawn)
        shared[pending[complete]] = counts[complete]
        pending = pending[~complete]
        if not len(pending):
            break
        drawn = weights[pending]
    return shared / (weights.sum(axis=1) * k)


def l2_alignment(a: SequenceSet, b: SequenceSet, weights: np.ndarray) -> np.ndarray:
    """Mean ||u_a - u_b||^2 of the unit-norm embeddings of the same sequence (embeddings.py:163-166)."""
    per_sequence = ((a.unit - b.unit) ** 2).sum(axis=1)
    return weights @ per_sequence / weights.sum(axis=1)


def linear_cka(a: SequenceSet, b: SequenceSet, weights: np.ndarray) -> np.ndarray:
    """||Y_c^T W X_c||_F^2 / (||X_c^T W X_c||_F ||Y_c^T W Y_c||_F) (embeddings.py:184-195),
    from the Gram matrices in O(n^2) a draw (``_moment_inner``)."""
    return _moment_inner(a, b, weights) / np.sqrt(_moment_inner(a, a, weights) * _moment_inner(b, b, weights))


PAIR_FUNCTIONS: dict[str, Callable] = {
    "neighbour_alignment": neighbour_alignment,
    "l2_alignment": l2_alignment,
    "linear_cka": linear_cka,
}


# --- an ensemble ------------------------------------------------------------------------------


def member_values(layers: Sequence[SequenceSet], weights: np.ndarray) -> np.ndarray:
    """One member's metrics [d, K] (``member_metric_names``) from its sets at every layer."""
    last = layers[-1]
    values = [
        last.effective_rank(weights),
        last.uniformity(weights),
        last.anisotropy(weights),
        last.average_cosine(weights),
        last.pairwise_distance_sd(weights),
        *(layer.participation_ratio(weights) for layer in layers),
    ]
    return np.stack(values, axis=1)


def member_metric_names(names: Sequence[str]) -> list[tuple[str, str, int]]:
    """(metric, layer, order) of the columns of ``member_values``."""
    last = len(names) - 1
    return [(metric, names[last], last) for metric in MEMBER_METRICS] + [
        (LAYER_METRIC, layer, order) for order, layer in enumerate(names)
    ]


def pair_values(a: SequenceSet, b: SequenceSet, weights: np.ndarray) -> np.ndarray:
    """One pair's metrics [d, len(PAIR_METRICS)] at the last layer."""
    return np.stack([PAIR_FUNCTIONS[metric](a, b, weights) for metric in PAIR_METRICS], axis=1)


def check_states(ensemble: Ensemble, member_states: Sequence[np.ndarray]) -> None:
    """Every member's states must cover the same layers and sequences: [layers, n, H]."""
    shapes = {np.shape(states)[:2] for states in member_states}
    if len(shapes) != 1 or len(np.shape(member_states[0])) != 3:
        raise InputError(
            f"ensemble {ensemble.name}: members' contextual embeddings differ in layers or sequences "
            f"({sorted(shapes)}); rerun extract_contextual"
        )


class _Remembered:
    """A set statistic that keeps its values by the example counts it was given. The
    contrasts draw an ensemble's counts as its own intervals do (the same seed's first
    example stream, for the DNA ensemble) or as another contrast did (the second stream, for
    the text ensemble of every pair), so each draw of an ensemble is computed once."""

    def __init__(self, statistic: Callable[[np.ndarray], np.ndarray]):
        self.statistic = statistic
        self.values: dict[bytes, np.ndarray] = {}

    def __call__(self, counts: np.ndarray) -> np.ndarray:
        key = str(counts.shape).encode() + hashlib.blake2b(np.ascontiguousarray(counts).tobytes()).digest()
        if key not in self.values:
            self.values[key] = self.statistic(counts)
            self.values[key].flags.writeable = False
        return self.values[key]


def compare_contextual(
    ensemble: Ensemble,
    member_states: Sequence[np.ndarray],
    *,
    definition: str = "corrected",
    draws: int = 1000,
    level: float = 0.95,
    seed: int = 0,
) -> dict:
    """Per-member and pairwise contextual-embedding metrics of one ensemble, with
    Multi-Bootstrap intervals over members and sequences. ``member_states``: each member's
    mean-pooled hidden states [layers, n, H], the embedding layer's output first, taken as
    ``definition`` says (its rows are labelled with it: the metrics are the same functions).

    Returns the members, pairs and summary tables, and ``statistics`` for the text-vs-DNA
    contrasts: for the member and the pair metrics, (set statistic, number of members, pairs
    or None, number of sequences, contrast names of its columns)."""
    check_states(ensemble, member_states)
    labels = {**ensemble.labels(), "definition": definition}
    names = hidden_state_names(len(member_states[0]))
    members = [[SequenceSet(layer) for layer in states] for states in member_states]
    n = len(member_states[0][0])
    pairs = list(combinations(range(len(members)), 2))
    member_columns = member_metric_names(names)
    pair_columns = [(metric, names[-1], len(names) - 1) for metric in PAIR_METRICS]

    @_Remembered
    def member_statistic(weights):
        return np.stack([member_values(layers, weights) for layers in members])

    @_Remembered
    def pair_statistic(weights):
        return np.stack([pair_values(members[i][-1], members[j][-1], weights) for i, j in pairs])

    ones = np.ones((1, n))
    per_unit = {  # [units, columns]; one member: no pairs
        "members": member_statistic(ones)[:, 0],
        "pairs": pair_statistic(ones)[:, 0] if pairs else np.empty((0, len(pair_columns))),
    }
    member_rows = [
        {**labels, "seed": seed_, "metric": metric, "layer": layer, "order": order, "value": float(value)}
        for seed_, values in zip(ensemble.seeds, per_unit["members"])
        for (metric, layer, order), value in zip(member_columns, values)
    ]
    pair_rows = [
        {**labels, "seed_a": ensemble.seeds[i], "seed_b": ensemble.seeds[j], "metric": metric, "layer": layer,
         "value": float(value)}
        for (i, j), values in zip(pairs, per_unit["pairs"])
        for (metric, layer, _), value in zip(pair_columns, values)
    ]
    summary = []
    statistics = {}
    kinds = [("members", member_statistic, None, member_columns), ("pairs", pair_statistic, pairs, pair_columns)]
    for kind, statistic, metric_pairs, columns in kinds[: 2 if pairs else 1]:  # one member: no pair metrics
        intervals = bootstrap.multi_bootstrap_sets(
            statistic, n, n_members=len(members), pairs=metric_pairs, n_draws=draws, level=level, seed=seed
        )
        sds = [unit_sd(column, pairs=kind == "pairs") for column in per_unit[kind].T]
        summary.extend(
            {**interval_row(labels, metric, interval, sd), "layer": layer, "order": order}
            for (metric, layer, order), interval, sd in zip(columns, intervals, sds)
        )
        contrast_names = [f"{metric}:{layer}" if metric == LAYER_METRIC else metric for metric, layer, _ in columns]
        statistics[kind] = (statistic, len(members), metric_pairs, n, contrast_names)
    return {
        "members": pd.DataFrame(member_rows),
        "pairs": pd.DataFrame(pair_rows),
        "summary": pd.DataFrame(summary),
        "statistics": statistics,
    }


def contextual_contrasts(
    results: dict[Ensemble, dict],
    *,
    draws: int = 1000,
    level: float = 0.95,
    seed: int = 0,
    contrast: Contrast = dna_minus_text,
) -> pd.DataFrame:
    """Paired bootstrap differences (``contrast``: dna minus text between ensembles of the same
    architecture and objective, or trained minus published) of every contextual metric
    (participation ratios per layer, as ``participation_ratio:embeddings``,
    ``participation_ratio:layer.i``)."""

    def differences(dna: dict, text: dict):
        for kind, (statistic_dna, n_members, pairs, n_dna, names) in dna["statistics"].items():
            if kind not in text["statistics"]:  # an ensemble of one has no pairs
                continue
            statistic_text, _, _, n_text, text_names = text["statistics"][kind]
            if names != text_names:  # other layers: nothing to pair
                continue
            set_differences = bootstrap.paired_set_difference(
                statistic_dna, statistic_text, n_dna, n_text, n_members=n_members, pairs=pairs,
                n_draws=draws, level=level, seed=seed,
            )
            yield from (Difference(name, *difference) for name, difference in zip(names, set_differences))

    return contrast(results, differences)
