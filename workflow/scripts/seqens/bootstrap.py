"""Multi-Bootstrap confidence intervals (Sellam et al. 2022, "The MultiBERTs").

Each draw resamples the ensemble's members (seeds) AND the evaluation examples with
replacement and recomputes the statistic on the drawn members x examples grid, so an
interval reflects both the seed-to-seed variation and the finite evaluation set.
Intervals are percentile intervals (recentred for statistics of whole sets: see below); the
estimate is the statistic on the full data.

Pairwise metrics (one row per member pair) are resampled through the members: a draw of
members with replacement keeps every pair of drawn slots that hold two distinct members,
with multiplicity, i.e. pair (a, b) counts (times a was drawn) x (times b was drawn). A
member paired with itself is no comparison and is left out; a draw whose slots all hold one
member has no pair, gives NaN and is dropped (``Interval.n_draws`` counts the draws kept).

Draws are vectorised for the mean (the default statistic): a grid's mean is a weighted mean
with the draw's member and example counts as weights, so no grid is materialised, and
examples are drawn in batches of bounded size. Any other statistic is called once per draw
on the drawn grid. The member draws and each condition's example draws come from separate
child generators of ``numpy.random.default_rng(seed)``, so results depend only on the seed.
Values are assumed finite: a NaN makes every draw NaN and the interval NaN.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

Statistic = Callable[[np.ndarray], float]
BATCH_ELEMENTS = 1 << 22  # example indices drawn at once (32 MiB of int64)


@dataclass(frozen=True)
class Interval:
    """A point estimate with its percentile interval from ``n_draws`` bootstrap draws."""

    estimate: float
    low: float
    high: float
    n_draws: int
    level: float


def _check(n_draws: int, level: float) -> None:
    if n_draws < 1 or not 0.0 < level < 1.0:
        raise ValueError(f"need n_draws >= 1 and 0 < level < 1, got {n_draws} and {level}")


def _interval(estimate: float, draws: np.ndarray, level: float) -> Interval:
    draws = draws[np.isfinite(draws)]
    tail = (1.0 - level) / 2.0 * 100.0
    low, high = np.percentile(draws, [tail, 100.0 - tail]) if len(draws) else (np.nan, np.nan)
    return Interval(float(estimate), float(low), float(high), int(len(draws)), level)


def _p_value(diffs: np.ndarray) -> float:
    """Two-sided bootstrap p-value of a difference: 2 min(P(d <= 0), P(d >= 0)), in [1/draws, 1]."""
    finite = diffs[np.isfinite(diffs)]
    if not len(finite):
        return float("nan")
    p_value = 2.0 * min((finite <= 0).mean(), (finite >= 0).mean())
    return float(min(1.0, max(p_value, 1.0 / len(finite))))


def _generators(seed: int, n_conditions: int) -> tuple[np.random.Generator, list[np.random.Generator]]:
    """The member generator and one example generator per condition."""
    members, *examples = np.random.default_rng(seed).spawn(1 + n_conditions)
    return members, examples


def _member_counts(rng: np.random.Generator, n_members: int, n_draws: int) -> np.ndarray:
    """How often each member is drawn in each draw of n_members with replacement: [draws, M]."""
    draws = rng.integers(0, n_members, size=(n_draws, n_members))
    return _row_counts(draws, n_members)


def _row_counts(indices: np.ndarray, n: int) -> np.ndarray:
    """Counts of 0..n-1 in each row of ``indices``: [rows, n]."""
    offsets = n * np.arange(len(indices))[:, None]
    return np.bincount((indices + offsets).ravel(), minlength=n * len(indices)).reshape(len(indices), n)


def _pair_weights(pairs: Sequence[tuple[int, int]], member_counts: np.ndarray) -> np.ndarray:
    """Multiplicity of each pair (a, b) in each draw: the number of pairs of drawn slots that
    hold a and b, counts[a] x counts[b]. [draws, P] from member counts [draws, M]."""
    first, second = np.asarray(pairs, dtype=np.int64).reshape(-1, 2).T
    return member_counts[..., first] * member_counts[..., second]


def _draw_statistics(
    values: np.ndarray, row_weights: np.ndarray, rng: np.random.Generator, statistic: Statistic
) -> np.ndarray:
    """The statistic on each draw's grid: the rows of ``values`` [R, N, ...] repeated
    row_weights[d] times [draws, R], crossed with N examples drawn with replacement.

    For the mean, the result is [draws, ...] (trailing axes of ``values`` kept) and NaN where a
    draw has no rows; for any other statistic it is [draws] from a call per draw."""
    n_draws, n = len(row_weights), values.shape[1]
    batch = max(1, BATCH_ELEMENTS // n)
    out = []
    for start in range(0, n_draws, batch):
        examples = rng.integers(0, n, size=(min(batch, n_draws - start), n))
        weights = row_weights[start : start + len(examples)]
        if statistic is np.mean:
            example_means = np.tensordot(_row_counts(examples, n).astype(np.float64), values, axes=(1, 1)) / n
            totals = weights.sum(axis=1).reshape((-1,) + (1,) * (values.ndim - 2))
            with np.errstate(invalid="ignore", divide="ignore"):
                out.append(np.einsum("dr,dr...->d...", weights.astype(np.float64), example_means) / totals)
        else:
            out.append(
                [
                    statistic(values[np.repeat(np.arange(len(w)), w)][:, drawn]) if w.any() else np.nan
                    for w, drawn in zip(weights, examples)
                ]
            )
    return np.concatenate([np.asarray(part, dtype=np.float64) for part in out])


def _as_values(values: np.ndarray, ndim: int) -> np.ndarray:
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != ndim:
        raise ValueError(f"expected a {ndim}-d array, got shape {values.shape}")
    return values


def multi_bootstrap(
    values: np.ndarray,
    *,
    n_draws: int = 1000,
    level: float = 0.95,
    seed: int = 0,
    statistic: Statistic = np.mean,
) -> Interval:
    """Interval for a statistic (default: the mean) of a per-member, per-example metric
    ``values`` [M, N]; ``statistic`` maps a drawn [M, N] grid to a number."""
    _check(n_draws, level)
    values = _as_values(values, 2)
    member_rng, (example_rng,) = _generators(seed, 1)
    counts = _member_counts(member_rng, len(values), n_draws)
    return _interval(statistic(values), _draw_statistics(values, counts, example_rng, statistic), level)


def multi_bootstrap_pairs(
    values: np.ndarray,
    pairs: Sequence[tuple[int, int]],
    n_members: int,
    *,
    n_draws: int = 1000,
    level: float = 0.95,
    seed: int = 0,
    statistic: Statistic = np.mean,
) -> Interval:
    """Interval for a statistic (default: the mean) of a pairwise metric ``values`` [P, N],
    one row per member pair in ``pairs`` (indices into ``n_members`` members). Members are
    drawn with replacement and pairs kept as described in the module docstring; examples are
    resampled as for single members. ``statistic`` maps a drawn [pairs, N] grid to a number."""
    _check(n_draws, level)
    values = _as_values(values, 2)
    if len(values) != len(pairs):
        raise ValueError(f"{len(values)} rows of values for {len(pairs)} pairs")
    member_rng, (example_rng,) = _generators(seed, 1)
    weights = _pair_weights(pairs, _member_counts(member_rng, n_members, n_draws))
    return _interval(statistic(values), _draw_statistics(values, weights, example_rng, statistic), level)


def _shares(means: np.ndarray) -> np.ndarray:
    return means / means.sum(axis=-1, keepdims=True)


def multi_bootstrap_ratio(
    values: np.ndarray, *, n_draws: int = 1000, level: float = 0.95, seed: int = 0
) -> list[Interval]:
    """Intervals for each share of a total: values [M, N, G] are per-example amounts in G
    groups; the statistic for group g is mean(values[..., g]) / mean(values.sum(-1)) on the
    drawn grid (a ratio of means, as the Fisher fractions are defined)."""
    _check(n_draws, level)
    values = _as_values(values, 3)
    member_rng, (example_rng,) = _generators(seed, 1)
    counts = _member_counts(member_rng, len(values), n_draws)
    shares = _shares(_draw_statistics(values, counts, example_rng, np.mean))  # [draws, G]
    estimate = _shares(values.mean(axis=(0, 1)))
    return [_interval(estimate[g], shares[:, g], level) for g in range(values.shape[2])]


def _paired_weights(a, b, pairs, n_members, rng, n_draws) -> np.ndarray:
    """Row weights shared by both conditions: member counts, or pair multiplicities."""
    if len(a) != len(b):
        raise ValueError(f"paired conditions need the same members or pairs, got {len(a)} and {len(b)} rows")
    if pairs is None:
        return _member_counts(rng, len(a), n_draws)
    if len(a) != len(pairs) or n_members is None:
        raise ValueError("pair metrics need one row per pair and n_members")
    return _pair_weights(pairs, _member_counts(rng, n_members, n_draws))


def paired_difference(
    values_a: np.ndarray,
    values_b: np.ndarray,
    *,
    pairs: Sequence[tuple[int, int]] | None = None,
    n_members: int | None = None,
    n_draws: int = 1000,
    level: float = 0.95,
    seed: int = 0,
    statistic: Statistic = np.mean,
) -> tuple[Interval, float]:
    """Interval and two-sided p-value for statistic(a) - statistic(b) between two ensembles.

    The member draw is shared (both ensembles use the same seed list, so seed i of one is
    paired with seed i of the other); examples are resampled independently per ensemble
    (they come from different corpora, and N may differ). With ``pairs`` (and ``n_members``)
    the values are pairwise metrics [P, N] with the same pairs in both; otherwise per-member
    metrics [M, N]. p = 2 min(P(d <= 0), P(d >= 0)) over the draws, at least 1 / n_draws."""
    _check(n_draws, level)
    a, b = _as_values(values_a, 2), _as_values(values_b, 2)
    member_rng, (rng_a, rng_b) = _generators(seed, 2)
    weights = _paired_weights(a, b, pairs, n_members, member_rng, n_draws)
    diffs = _draw_statistics(a, weights, rng_a, statistic) - _draw_statistics(b, weights, rng_b, statistic)
    return _interval(statistic(a) - statistic(b), diffs, level), _p_value(diffs)


def paired_share_difference(
    values_a: np.ndarray, values_b: np.ndarray, *, n_draws: int = 1000, level: float = 0.95, seed: int = 0
) -> list[tuple[Interval, float]]:
    """Per group g, the difference of shares (as in ``multi_bootstrap_ratio``) between two
    ensembles [M, N, G] with the same groups, paired by member as in ``paired_difference``."""
    _check(n_draws, level)
    a, b = _as_values(values_a, 3), _as_values(values_b, 3)
    member_rng, (rng_a, rng_b) = _generators(seed, 2)
    weights = _paired_weights(a, b, None, None, member_rng, n_draws)
    shares_a = _shares(_draw_statistics(a, weights, rng_a, np.mean))
    diffs = shares_a - _shares(_draw_statistics(b, weights, rng_b, np.mean))
    estimate = _shares(a.mean(axis=(0, 1))) - _shares(b.mean(axis=(0, 1)))
    return [(_interval(estimate[g], diffs[:, g], level), _p_value(diffs[:, g])) for g in range(a.shape[2])]



# --- statistics of whole sets of examples ----------------------------------------------------
#
# Some metrics are not means over examples but properties of the whole set (an effective rank,
# a neighbour structure). A draw then resamples members as above and the examples as integer
# weights (how often each was drawn): ``statistic(counts)`` maps the draws' example counts
# [d, N] to each row's values of K metrics [R, d, K] (rows: members, or member pairs), and a
# draw's value of each metric is the mean over its rows, weighted as for the mean metrics
# (member counts, pair multiplicities). All K metrics see the same draws, so a statistic can
# share work between them (one decomposition for several spectral metrics).
#
# A resampled set holds duplicates (about 63% distinct examples), which moves a set statistic
# off its value on n distinct examples: fewer distinct sequences lower a rank, repeated ones
# change a kernel alignment either way. The draws' own spread is the uncertainty; their shift
# is an artefact of resampling. So set intervals are percentile intervals of the draws
# recentred on the estimate (each metric's draws minus the draws' mean, plus the estimate:
# the bootstrap's bias estimate removed), and set contrasts' p-values use recentred
# differences. A mean metric has no such shift: recentring it changes next to nothing.

SetStatistic = Callable[[np.ndarray], np.ndarray]
SET_DRAWS_AT_ONCE = 50  # draws whose example counts one call of a set statistic receives


def _set_draw_statistics(
    statistic: SetStatistic, row_weights: np.ndarray, n_examples: int, rng: np.random.Generator
) -> np.ndarray:
    """Each draw's value of each metric [draws, K]: row_weights [draws, R], examples drawn from rng."""
    out = []
    for start in range(0, len(row_weights), SET_DRAWS_AT_ONCE):
        weights = row_weights[start : start + SET_DRAWS_AT_ONCE].astype(np.float64)[:, :, None]
        examples = rng.integers(0, n_examples, size=(len(weights), n_examples))
        values = np.moveaxis(np.asarray(statistic(_row_counts(examples, n_examples).astype(np.float64))), 0, 1)
        with np.errstate(invalid="ignore", divide="ignore"):
            out.append(np.where(weights > 0, weights * values, 0.0).sum(axis=1) / weights.sum(axis=1))
    return np.concatenate(out)


def _set_estimate(statistic: SetStatistic, n_examples: int) -> np.ndarray:
    """Each metric on the full data [K]: every example once, every row once."""
    return np.asarray(statistic(np.ones((1, n_examples))))[:, 0].mean(axis=0)


def _recentred(draws: np.ndarray, estimate: np.ndarray) -> np.ndarray:
    """Draws [d, K] shifted so that each metric's finite draws average its estimate [K]."""
    finite = np.isfinite(draws)
    with np.errstate(invalid="ignore", divide="ignore"):  # a metric without finite draws stays NaN
        means = np.where(finite, draws, 0.0).sum(axis=0) / finite.sum(axis=0)
    return draws - means + estimate


def _row_weights(rng, n_members: int, pairs, n_draws: int) -> np.ndarray:
    counts = _member_counts(rng, n_members, n_draws)
    return counts if pairs is None else _pair_weights(pairs, counts)


def multi_bootstrap_sets(
    statistic: SetStatistic,
    n_examples: int,
    *,
    n_members: int,
    pairs: Sequence[tuple[int, int]] | None = None,
    n_draws: int = 1000,
    level: float = 0.95,
    seed: int = 0,
) -> list[Interval]:
    """An interval for each of a set statistic's K metrics in one ensemble: rows are its
    ``n_members`` members, or the member ``pairs`` (resampled through the members, as
    ``multi_bootstrap_pairs``); draws recentred on the estimate (see above)."""
    _check(n_draws, level)
    member_rng, (example_rng,) = _generators(seed, 1)
    weights = _row_weights(member_rng, n_members, pairs, n_draws)
    estimate = _set_estimate(statistic, n_examples)
    draws = _recentred(_set_draw_statistics(statistic, weights, n_examples, example_rng), estimate)
    return [_interval(estimate[m], draws[:, m], level) for m in range(len(estimate))]


def paired_set_difference(
    statistic_a: SetStatistic,
    statistic_b: SetStatistic,
    n_examples_a: int,
    n_examples_b: int,
    *,
    n_members: int,
    pairs: Sequence[tuple[int, int]] | None = None,
    n_draws: int = 1000,
    level: float = 0.95,
    seed: int = 0,
) -> list[tuple[Interval, float]]:
    """For each metric, the interval and p-value of statistic_a - statistic_b between two
    ensembles, paired by member and with examples drawn independently per ensemble, as
    ``paired_difference``."""
    _check(n_draws, level)
    member_rng, (rng_a, rng_b) = _generators(seed, 2)
    weights = _row_weights(member_rng, n_members, pairs, n_draws)
    estimate = _set_estimate(statistic_a, n_examples_a) - _set_estimate(statistic_b, n_examples_b)
    diffs = _recentred(
        _set_draw_statistics(statistic_a, weights, n_examples_a, rng_a)
        - _set_draw_statistics(statistic_b, weights, n_examples_b, rng_b),
        estimate,
    )
    return [(_interval(estimate[m], diffs[:, m], level), _p_value(diffs[:, m])) for m in range(len(estimate))]
