"""DNA-minus-text contrasts: every DNA ensemble against every text ensemble of the same
architecture and objective, never across them (a difference would then mix the data with the
model). Each metric's difference is a paired bootstrap difference (seed i of one ensemble with
seed i of the other, examples drawn per ensemble: seqens.bootstrap) with its two-sided p-value;
every measurement (outputs, embeddings, Fisher, probes, contextual) writes its contrasts
through ``dna_minus_text``, one row per ensemble pair and metric."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterable, Iterator, Mapping, TypeVar

import pandas as pd

from ..bootstrap import Interval
from ..config import Ensemble
from .intervals import Values

Result = TypeVar("Result")


@dataclass(frozen=True)
class Difference:
    """One metric's DNA-minus-text difference; ``columns``: more of the row's labels (after
    the contrast's own columns)."""

    metric: str
    interval: Interval
    p_value: float
    columns: Mapping[str, object] = field(default_factory=dict)


def difference_columns(difference: Difference) -> dict:
    """A contrast's columns: its metric, the difference with its interval, and its p-value."""
    interval = difference.interval
    return {
        "metric": difference.metric,
        "difference": interval.estimate,
        "low": interval.low,
        "high": interval.high,
        "level": interval.level,
        "p_value": difference.p_value,
        "draws": interval.n_draws,
    }


def dna_text_pairs(ensembles: Iterable[Ensemble]) -> Iterator[tuple[Ensemble, Ensemble]]:
    """Every (dna, text) pair of ensembles with the same architecture and objective."""
    ensembles = list(ensembles)
    for dna in (e for e in ensembles if e.condition.kind == "dna"):
        for text in ensembles:
            if text.condition.kind == "text" and (text.architecture, text.objective) == (dna.architecture, dna.objective):
                yield dna, text


CONTRAST_COLUMNS = [
    "architecture", "objective", "source", "dna_condition", "text_condition", "metric", "difference", "low", "high",
    "level", "p_value", "draws",
]


def dna_minus_text(
    results: Mapping[Ensemble, Result], differences: Callable[[Result, Result], Iterable[Difference]]
) -> pd.DataFrame:
    """The contrast table: for every (dna, text) pair of ``dna_text_pairs``, a row per
    ``differences(results[dna], results[text])``."""
    rows = [
        {
            "architecture": dna.architecture,
            "objective": dna.objective,
            "source": dna.source,  # one label, one source (seqens.config.checks)
            "dna_condition": dna.condition.name,
            "text_condition": text.condition.name,
            **difference_columns(difference),
            **difference.columns,
        }
        for dna, text in dna_text_pairs(results)
        for difference in differences(results[dna], results[text])
    ]
    # A study without both kinds (e.g. published text models only) has no pair: an empty
    # table that still names its columns.
    return pd.DataFrame(rows) if rows else pd.DataFrame(columns=CONTRAST_COLUMNS)


def metric_differences(
    dna: Mapping[str, Values], text: Mapping[str, Values], *, draws: int, level: float, seed: int
) -> Iterator[Difference]:
    """The difference of every metric both ensembles have, by name; each metric is resampled
    as what it is (per member or per pair: seqens.comparisons.intervals)."""
    for metric in sorted(dna.keys() & text.keys()):
        yield Difference(metric, *dna[metric].minus(text[metric], draws=draws, level=level, seed=seed))


def metric_contrasts(
    per_example: Mapping[Ensemble, Mapping[str, Values]], *, draws: int = 1000, level: float = 0.95, seed: int = 0
) -> pd.DataFrame:
    """``dna_minus_text`` of every metric two ensembles share: ``per_example[ensemble][metric]``
    is a MemberValues or a PairValues."""
    return dna_minus_text(
        per_example, lambda dna, text: metric_differences(dna, text, draws=draws, level=level, seed=seed)
    )


REPRODUCTION_COLUMNS = [
    "condition", "objective", "trained_architecture", "published_architecture", "metric", "difference", "low",
    "high", "level", "p_value", "draws", "distinguishable",
]


def trained_published_pairs(ensembles: Iterable[Ensemble]) -> Iterator[tuple[Ensemble, Ensemble]]:
    """Every (trained, published) pair of ensembles with the same condition (corpus and
    tokenizer) and objective: a retrained ensemble against a released one."""
    ensembles = list(ensembles)
    for trained in (e for e in ensembles if e.source == "trained"):
        for published in (e for e in ensembles if e.source == "published"):
            if (published.condition, published.objective) == (trained.condition, trained.objective):
                yield trained, published


def reproduction_contrasts(
    per_example: Mapping[Ensemble, Mapping[str, Values]], *, draws: int = 1000, level: float = 0.95, seed: int = 0
) -> pd.DataFrame:
    """Trained minus published, for every pair of ``trained_published_pairs`` and every metric
    both have (paired as ``metric_differences``); ``distinguishable``: the interval excludes 0."""
    rows = [
        {
            "condition": trained.condition.name,
            "objective": trained.objective,
            "trained_architecture": trained.architecture,
            "published_architecture": published.architecture,
            **difference_columns(difference),
            "distinguishable": not difference.interval.low <= 0 <= difference.interval.high,
        }
        for trained, published in trained_published_pairs(per_example)
        for difference in metric_differences(
            per_example[trained], per_example[published], draws=draws, level=level, seed=seed
        )
    ]
    return pd.DataFrame(rows, columns=REPRODUCTION_COLUMNS)

