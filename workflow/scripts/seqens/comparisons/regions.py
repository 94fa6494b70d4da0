"""Output metrics of a DNA ensemble by genomic region: each per-position metric of the
outputs comparison (seqens.comparisons.outputs), averaged over the evaluation positions of
one region class (seqens.regions) with its Multi-Bootstrap interval, and each class against
a reference class of its axis (``intergenic``; ``unique``), paired by seed.

The metrics are joined by position (the order of every per-position array, the ``position``
column of the condition's regions table), so any per-position metric, a count baseline's
included, is broken down by adding it to ``per_position``. A bits-per-token metric that is
also reported per character (``PER_CHARACTER_METRICS``) is divided by the mean characters
(bases) of the class's own target tokens, so its estimate is the class's total bits over its
total bases."""

from __future__ import annotations

from typing import Mapping

import numpy as np
import pandas as pd

from ..config import Ensemble
from ..regions import OTHER, REGION_CLASSES, REPEAT_CLASSES
from .intervals import MemberValues, PairValues, Values, interval_row
from .outputs import PER_CHARACTER, PER_CHARACTER_METRICS

# Per axis (a column of the regions table): its classes and the class the others are contrasted with.
AXES = {"region": ((*REGION_CLASSES, OTHER), "intergenic"), "repeat": (REPEAT_CLASSES, "unique")}


def subset(values: Values, columns: np.ndarray, scale: float = 1.0) -> Values:
    """The same members' (or pairs') values at the chosen positions only, divided by ``scale``."""
    chosen = values.values[:, columns] / scale
    if isinstance(values, PairValues):
        return PairValues(chosen, values.pairs, values.n_members)
    return MemberValues(chosen)


def class_metrics(per_position: Mapping[str, Values], columns: np.ndarray, characters: np.ndarray) -> dict[str, Values]:
    """Every per-token metric at the chosen positions, and those of ``PER_CHARACTER_METRICS``
    per character of the chosen positions' targets (``characters``: per position)."""
    per_character = float(characters[columns].mean())
    metrics = {}
    for name, values in per_position.items():
        if name.endswith(PER_CHARACTER):
            continue  # recomputed with the class's own characters per token
        metrics[name] = subset(values, columns)
        if name in PER_CHARACTER_METRICS:
            metrics[name + PER_CHARACTER] = subset(values, columns, per_character)
    return metrics


def compare_regions(
    ensemble: Ensemble,
    per_position: Mapping[str, Values],
    regions: pd.DataFrame,
    *,
    draws: int = 1000,
    level: float = 0.95,
    seed: int = 0,
) -> dict[str, pd.DataFrame]:
    """``summary``: per axis, class (with positions) and metric, the mean and its interval;
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
            name: class_metrics(per_position, np.flatnonzero(column == name), characters)
            for name in classes
            if (column == name).any()
        }
        for name, metrics in by_class.items():
            count = int((column == name).sum())
            extra = {"axis": axis, "class": name, "positions": count,
                     "characters_per_target": float(characters[column == name].mean())}
            for metric, values in metrics.items():
                summary.append({**interval_row(labels, metric, values.interval(**options)), **extra})
            if name == reference or reference not in by_class:
                continue
            for metric, values in metrics.items():
                interval, p_value = values.minus(by_class[reference][metric], **options)
                contrasts.append({**labels, "axis": axis, "class": name, "reference": reference, "metric": metric,
                                  "difference": interval.estimate, "low": interval.low, "high": interval.high,
                                  "level": interval.level, "p_value": p_value, "draws": interval.n_draws})
    return {"summary": pd.DataFrame(summary), "contrasts": pd.DataFrame(contrasts)}
