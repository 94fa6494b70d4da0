"""Output metrics of a DNA ensemble by genomic region: each per-position metric of the
outputs comparison (seqens.comparisons.outputs), averaged over the evaluation positions of
one region class (seqens.regions) with its Multi-Bootstrap interval, and each class against
a reference class of its axis (``intergenic``; ``unique``), paired by seed.

The metrics are joined by position (the order of every per-position array, the ``position``
column of the condition's regions table), so any per-position metric is broken down by adding
it to ``per_position``: the count baselines' (seqens.counts, at the same positions) are, so
each class has its best count model's bits and the members' bits beyond counts. A
bits-per-token metric that is also reported per character (``PER_CHARACTER_METRICS``,
``COUNT_PER_CHARACTER_METRICS``) is divided by the mean characters (bases) of the class's own
target tokens, so its estimate is the class's total bits over its total bases."""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from .. import distributions
from ..config import Ensemble
from ..regions import OTHER, REGION_CLASSES, REPEAT_CLASSES
from .intervals import MemberValues, PairValues, Values, all_pairs, interval_row
from .outputs import (
    COUNT_PER_CHARACTER_METRICS,
    PER_CHARACTER,
    PER_CHARACTER_METRICS,
    MemberStack,
    per_position_metrics,
)

# The metrics broken down by region (and, for those of PER_CHARACTER_METRICS and
# COUNT_PER_CHARACTER_METRICS, per base): what was learned, beyond the unigram and beyond the
# best count model, and how sure and how alike the members are. A per-position metric added
# here by name is broken down with them.
REGION_METRICS = (
    "cross_entropy_bits",
    "unigram_cross_entropy_bits",
    "bits_beyond_unigram",
    "count_cross_entropy_bits",
    "bits_beyond_counts",
    "entropy_bits",
    "js_distance",
)
# Per axis (a column of the regions table): its classes and the class the others are contrasted with.
AXES = {"region": ((*REGION_CLASSES, OTHER), "intergenic"), "repeat": (REPEAT_CLASSES, "unique")}


def per_position_values(
    member_probs: Sequence[np.ndarray],
    targets: np.ndarray,
    unigram_log2: np.ndarray,
    counts: tuple[np.ndarray, int] | None = None,
) -> dict[str, Values]:
    """The per-position metrics of the outputs comparison (``per_position_metrics`` per
    member, with ``counts``, the count baselines at these positions, their bits and the
    members' bits beyond counts; JS distance of the untruncated distributions and argmax
    disagreement per pair), without its summaries, which the breakdown does not need."""
    metrics = [per_position_metrics(p, targets, unigram_log2, counts=counts) for p in member_probs]
    values: dict[str, Values] = {
        name: MemberValues(np.stack([m[name] for m in metrics]))
        for name in metrics[0]
        if not name.startswith("unigram_entropy_bits")  # the targets' own, descriptive only
    }
    n_members = len(member_probs)
    found = distributions.pairwise_disagreement(MemberStack(member_probs), (1.0,))
    values["js_distance"] = PairValues(found["js_distance"][:, 0, :], all_pairs(n_members), n_members)
    values["argmax_disagreement"] = PairValues(found["argmax_differs"].astype(np.float64), all_pairs(n_members), n_members)
    return values


def subset(values: Values, columns: np.ndarray, scale: float = 1.0) -> Values:
    """The same members' (or pairs') values at the chosen positions only, divided by ``scale``."""
    chosen = values.values[:, columns] / scale
    if isinstance(values, PairValues):
        return PairValues(chosen, values.pairs, values.n_members)
    return MemberValues(chosen)


def class_metrics(
    per_position: Mapping[str, Values], columns: np.ndarray, characters: np.ndarray, names: Sequence[str]
) -> dict[str, Values]:
    """The per-token metrics ``names`` at the chosen positions, and those of
    ``PER_CHARACTER_METRICS`` and ``COUNT_PER_CHARACTER_METRICS`` also per character of the
    chosen positions' targets (``characters``: per position; per-character values of
    ``per_position`` are not used). A name ``per_position`` lacks (the count metrics, without
    count baselines) is left out."""
    per_character = float(characters[columns].mean())
    metrics = {}
    for name in (name for name in names if name in per_position):
        values = per_position[name]
        metrics[name] = subset(values, columns)
        if name in PER_CHARACTER_METRICS + COUNT_PER_CHARACTER_METRICS:
            metrics[name + PER_CHARACTER] = subset(values, columns, per_character)
    return metrics


def compare_regions(
    ensemble: Ensemble,
    per_position: Mapping[str, Values],
    regions: pd.DataFrame,
    *,
    metrics: Sequence[str] = REGION_METRICS,
    draws: int = 1000,
    level: float = 0.95,
    seed: int = 0,
) -> dict[str, pd.DataFrame]:
    """``summary``: per axis, class (with positions) and metric (``metrics``, with the
    per-character ones: ``class_metrics``), the mean and its interval;
    ``contrasts``: per axis, class and metric, the class minus the axis's reference class.
    ``regions``: the condition's regions table (seqens.regions.POSITION_COLUMNS), one row per
    position of ``per_position``'s arrays; an axis whose column is empty (no repeat split) is
    skipped, and so is a class without positions."""
    n_positions = next(iter(per_position.values())).values.shape[1]
    if len(regions) != n_positions or not np.array_equal(regions["position"], np.arange(n_positions)):
        raise ValueError(f"the regions table has {len(regions)} rows, not one per position of the {n_positions}")
    labels = {**ensemble.labels(), "definition": "corrected"}
    options = dict(draws=draws, level=level, seed=seed)
    characters = regions["characters"].to_numpy(np.float64)
    summary, contrasts = [], []
    for axis, (classes, reference) in AXES.items():
        column = regions[axis].to_numpy(dtype=object)
        by_class = {
            name: class_metrics(per_position, np.flatnonzero(column == name), characters, metrics)
            for name in classes
            if (column == name).any()
        }
        for name, class_values in by_class.items():
            count = int((column == name).sum())
            extra = {"axis": axis, "class": name, "positions": count,
                     "characters_per_target": float(characters[column == name].mean())}
            for metric, values in class_values.items():
                summary.append({**interval_row(labels, metric, values.interval(**options), values.sd()), **extra})
            if name == reference or reference not in by_class:
                continue
            for metric, values in class_values.items():
                interval, p_value = values.minus(by_class[reference][metric], **options)
                contrasts.append({**labels, "axis": axis, "class": name, "reference": reference, "metric": metric,
                                  "difference": interval.estimate, "low": interval.low, "high": interval.high,
                                  "level": interval.level, "p_value": p_value, "draws": interval.n_draws})
    return {"summary": pd.DataFrame(summary), "contrasts": pd.DataFrame(contrasts)}
