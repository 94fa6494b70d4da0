"""What a comparison bootstraps: a metric per member, or per member pair, and per example.

The two are distinct types because they are resampled differently (seqens.bootstrap): a draw
of members with replacement weighs a member's row by how often it was drawn, and a pair's row
by how many pairs of drawn slots hold its two members. With 3 seeds an ensemble has 3 members
and 3 pairs, so the shape of an array cannot tell them apart: its type does.

Beside each interval a summary gives the standard deviation over the same units (``sd``): the
paper's error bars (mean ± SD over models or pairs, lbcb-sci/GFMs @277899c). Its figures take
the SD over models with ddof=1 (src/analyze/plotting.py: ``barplot`` and ``plot_fisher``'s
``_per_model_stats``, ``np.std(..., ddof=1)``) and over pairs with ddof=0
(src/analyze/metrics.py ``meanstd``: ``np.std`` and ``torch.std(unbiased=False)``); so does
``unit_sd``."""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations
from typing import Sequence, Union

import numpy as np

from .. import bootstrap

MEMBER_SD_DDOF = 1  # the paper's SD over models
PAIR_SD_DDOF = 0  # the paper's SD over pairs


def unit_sd(per_unit: Sequence[float], *, pairs: bool) -> float:
    """Standard deviation of a metric's values per member (``pairs`` False, ddof=1) or per
    member pair (ddof=0), as the paper's figures draw them; NaN where too few units."""
    per_unit = np.asarray(per_unit, dtype=np.float64)
    ddof = PAIR_SD_DDOF if pairs else MEMBER_SD_DDOF
    return float(np.std(per_unit, ddof=ddof)) if len(per_unit) > ddof else float("nan")


@dataclass(frozen=True, eq=False)
class MemberValues:
    """A metric per member and example [M, N], rows in the ensemble's seed order."""

    values: np.ndarray

    def interval(self, *, draws: int, level: float, seed: int, statistic=np.mean) -> bootstrap.Interval:
        """The statistic (default: the mean) with its interval over members and examples."""
        return bootstrap.multi_bootstrap(self.values, n_draws=draws, level=level, seed=seed, statistic=statistic)

    def sd(self, statistic=np.mean) -> float:
        """The statistic's standard deviation over members (each member's row on its own)."""
        return unit_sd([statistic(row[None, :]) for row in self.values], pairs=False)

    def minus(self, other: MemberValues, *, draws: int, level: float, seed: int) -> tuple[bootstrap.Interval, float]:
        """Mean of self minus mean of other (another ensemble's), seed i paired with seed i:
        the interval and two-sided p-value."""
        if not isinstance(other, MemberValues):
            raise TypeError(f"a per-member metric is paired with a per-member one, got {type(other).__name__}")
        return bootstrap.paired_difference(self.values, other.values, n_draws=draws, level=level, seed=seed)


@dataclass(frozen=True, eq=False)
class PairValues:
    """A metric per member pair and example [P, N], one row per pair in ``pairs`` (indices
    into the ensemble's ``n_members`` members)."""

    values: np.ndarray
    pairs: Sequence[tuple[int, int]]
    n_members: int

    def interval(self, *, draws: int, level: float, seed: int) -> bootstrap.Interval:
        """The mean with its interval over members (through their pairs) and examples."""
        return bootstrap.multi_bootstrap_pairs(
            self.values, self.pairs, self.n_members, n_draws=draws, level=level, seed=seed
        )

    def sd(self) -> float:
        """The mean's standard deviation over member pairs."""
        return unit_sd(self.values.mean(axis=1), pairs=True)

    def minus(self, other: PairValues, *, draws: int, level: float, seed: int) -> tuple[bootstrap.Interval, float]:
        """Mean of self minus mean of other (another ensemble's, with the same pairs), members
        paired by seed: the interval and two-sided p-value."""
        if not isinstance(other, PairValues) or (list(other.pairs), other.n_members) != (list(self.pairs), self.n_members):
            raise TypeError("a pair metric is paired with a pair metric of the same member pairs")
        return bootstrap.paired_difference(
            self.values, other.values, pairs=self.pairs, n_members=self.n_members, n_draws=draws, level=level, seed=seed
        )


Values = Union[MemberValues, PairValues]


def all_pairs(n_members: int) -> list[tuple[int, int]]:
    """Every pair of members i < j, in the order every pair table and array uses."""
    return list(combinations(range(n_members), 2))


INTERVAL_COLUMNS = ["metric", "estimate", "low", "high", "sd", "level", "draws"]  # interval_row's, after the labels


def interval_row(labels: dict, metric: str, interval: bootstrap.Interval, sd: float) -> dict:
    """A summary table's row: the ensemble's ``labels``, the metric, its interval and its
    standard deviation over members or pairs (``unit_sd``)."""
    return {
        **labels,
        "metric": metric,
        "estimate": interval.estimate,
        "low": interval.low,
        "high": interval.high,
        "sd": sd,
        "level": interval.level,
        "draws": interval.n_draws,  # fewer than drawn where a draw had no pair of distinct members
    }


def bootstrap_options(params) -> dict:
    """A comparison job's bootstrap settings (its rule's params ``comparison`` and ``seed``)
    as the keyword arguments every comparison takes: draws, level, seed."""
    comparison = params.comparison
    return {"draws": comparison["bootstrap_draws"], "level": comparison["confidence_level"], "seed": params.seed}
