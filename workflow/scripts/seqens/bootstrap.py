"""Multi-Bootstrap confidence intervals (Sellam et al. 2022, "The MultiBERTs").

Each draw resamples the ensemble's members (seeds) AND the evaluation examples with
replacement and recomputes the statistic on the drawn members x examples grid, so an
interval reflects both the seed-to-seed variation and the finite evaluation set.
Intervals are percentile intervals; the estimate is the statistic on the full data.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np


@dataclass(frozen=True)
class Interval:
    estimate: float
    low: float
    high: float
    n_draws: int
    level: float


def _interval(estimate: float, draws: np.ndarray, level: float) -> Interval:
    draws = draws[np.isfinite(draws)]
    tail = (1.0 - level) / 2.0 * 100.0
    low, high = np.percentile(draws, [tail, 100.0 - tail]) if len(draws) else (np.nan, np.nan)
    return Interval(float(estimate), float(low), float(high), int(len(draws)), level)


def _grid_means(values: np.ndarray, member_draws: np.ndarray, example_draws: np.ndarray) -> np.ndarray:
    """Mean of values[m, n] over each draw's members x examples grid: [n_draws, ...]."""
    out = []
    for members, examples in zip(member_draws, example_draws):
        out.append(values[members][:, examples].mean(axis=(0, 1)))
    return np.array(out)


def multi_bootstrap(
    values: np.ndarray, *, n_draws: int = 1000, level: float = 0.95, seed: int = 0
) -> Interval:
    """Interval for the mean of a per-member, per-example metric ``values`` [M, N]."""
    values = np.asarray(values, dtype=np.float64)
    m, n = values.shape
    rng = np.random.default_rng(seed)
    member_draws = rng.integers(0, m, size=(n_draws, m))
    example_draws = rng.integers(0, n, size=(n_draws, n))
    return _interval(values.mean(), _grid_means(values, member_draws, example_draws), level)


def multi_bootstrap_ratio(
    values: np.ndarray, *, n_draws: int = 1000, level: float = 0.95, seed: int = 0
) -> list[Interval]:
    """Intervals for each share of a total: values [M, N, G] are per-example amounts in G
    groups; the statistic for group g is mean(values[..., g]) / mean(values.sum(-1)) on the
    drawn grid (a ratio of means, as the Fisher fractions are defined)."""
    values = np.asarray(values, dtype=np.float64)
    m, n, _ = values.shape
    rng = np.random.default_rng(seed)
    member_draws = rng.integers(0, m, size=(n_draws, m))
    example_draws = rng.integers(0, n, size=(n_draws, n))
    means = _grid_means(values, member_draws, example_draws)  # [draws, G]
    shares = means / means.sum(axis=1, keepdims=True)
    estimate = values.mean(axis=(0, 1))
    estimate = estimate / estimate.sum()
    return [_interval(estimate[g], shares[:, g], level) for g in range(values.shape[2])]


def _pair_weights(pairs: Sequence[tuple[int, int]], member_draw: np.ndarray) -> np.ndarray:
    """Weight of each original pair in a draw: how many pairs of distinct drawn members
    (drawn slots i < j holding different members) it corresponds to."""
    counts = np.bincount(member_draw, minlength=member_draw.max() + 1)
    return np.array([counts[a] * counts[b] if a < len(counts) and b < len(counts) else 0 for a, b in pairs], float)


def _pair_means(values: np.ndarray, pairs, member_draws, example_draws) -> np.ndarray:
    out = []
    for members, examples in zip(member_draws, example_draws):
        weights = _pair_weights(pairs, members)
        if weights.sum() == 0:  # every drawn slot holds the same member: no pair to compare
            out.append(np.nan)
            continue
        out.append(float(weights @ values[:, examples].mean(axis=1) / weights.sum()))
    return np.array(out)


def multi_bootstrap_pairs(
    values: np.ndarray,
    pairs: Sequence[tuple[int, int]],
    n_members: int,
    *,
    n_draws: int = 1000,
    level: float = 0.95,
    seed: int = 0,
) -> Interval:
    """Interval for the mean of a pairwise metric ``values`` [P, N] (one row per member pair).

    A draw resamples members with replacement; every pair of drawn slots holding two
    distinct members contributes that pair's values (a pair of a member with itself is not
    a comparison and is left out). Examples are resampled as for single members. Draws in
    which all slots hold one member carry no pair and are dropped."""
    values = np.asarray(values, dtype=np.float64)
    rng = np.random.default_rng(seed)
    member_draws = rng.integers(0, n_members, size=(n_draws, n_members))
    example_draws = rng.integers(0, values.shape[1], size=(n_draws, values.shape[1]))
    return _interval(values.mean(), _pair_means(values, pairs, member_draws, example_draws), level)


def _p_value(diffs: np.ndarray) -> float:
    """Two-sided bootstrap p-value of a difference: 2 min(P(d <= 0), P(d >= 0)), at least 1/draws."""
    finite = diffs[np.isfinite(diffs)]
    p_value = 2 * min((finite <= 0).mean(), (finite >= 0).mean())
    return float(min(1.0, max(p_value, 1.0 / max(1, len(finite)))))


def paired_share_difference(
    values_a: np.ndarray, values_b: np.ndarray, *, n_draws: int = 1000, level: float = 0.95, seed: int = 0
) -> list[tuple[Interval, float]]:
    """Per group g, the difference of shares (as in ``multi_bootstrap_ratio``) between two
    ensembles [M, N, G] with the same groups, paired by member as in ``paired_difference``."""
    a = np.asarray(values_a, dtype=np.float64)
    b = np.asarray(values_b, dtype=np.float64)
    rng = np.random.default_rng(seed)
    member_draws = rng.integers(0, a.shape[0], size=(n_draws, a.shape[0]))
    draws_a = rng.integers(0, a.shape[1], size=(n_draws, a.shape[1]))
    draws_b = rng.integers(0, b.shape[1], size=(n_draws, b.shape[1]))

    def shares(x: np.ndarray) -> np.ndarray:
        return x / x.sum(axis=-1, keepdims=True)

    diffs = shares(_grid_means(a, member_draws, draws_a)) - shares(_grid_means(b, member_draws, draws_b))
    estimate = shares(a.mean(axis=(0, 1))) - shares(b.mean(axis=(0, 1)))
    return [(_interval(estimate[g], diffs[:, g], level), _p_value(diffs[:, g])) for g in range(a.shape[2])]


def paired_difference(
    values_a: np.ndarray,
    values_b: np.ndarray,
    *,
    pairs: Sequence[tuple[int, int]] | None = None,
    n_members: int | None = None,
    n_draws: int = 1000,
    level: float = 0.95,
    seed: int = 0,
) -> tuple[Interval, float]:
    """Interval and two-sided p-value for mean(a) - mean(b) between two ensembles.

    The member draw is shared (both ensembles use the same seed list, so seed i of one is
    paired with seed i of the other); examples are resampled independently per ensemble
    (they come from different corpora). With ``pairs`` the values are pairwise metrics
    [P, N]; otherwise per-member metrics [M, N]. p = 2 min(P(d <= 0), P(d >= 0)), at least
    1 / n_draws."""
    a = np.asarray(values_a, dtype=np.float64)
    b = np.asarray(values_b, dtype=np.float64)
    rng = np.random.default_rng(seed)
    m = n_members if pairs is not None else a.shape[0]
    member_draws = rng.integers(0, m, size=(n_draws, m))
    draws_a = rng.integers(0, a.shape[1], size=(n_draws, a.shape[1]))
    draws_b = rng.integers(0, b.shape[1], size=(n_draws, b.shape[1]))
    if pairs is None:
        diffs = _grid_means(a, member_draws, draws_a) - _grid_means(b, member_draws, draws_b)
    else:
        diffs = _pair_means(a, pairs, member_draws, draws_a) - _pair_means(b, pairs, member_draws, draws_b)
    return _interval(a.mean() - b.mean(), diffs, level), _p_value(diffs)
