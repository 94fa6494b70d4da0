"""Contrasts between ensembles. DNA minus text: every DNA ensemble against every text ensemble
of the same architecture and objective, never across them (a difference would then mix the
data with the model). Reproductions, trained minus published: a retrained ensemble against a
released one of the same condition and objective. Each metric's difference is a paired
bootstrap difference (seed i of one ensemble with seed i of the other, examples drawn per
ensemble: seqens.bootstrap) with its two-sided p-value; every measurement (outputs,
embeddings, Fisher, probes, contextual) writes its contrasts through ``dna_minus_text`` and
``trained_minus_published``, one row per ensemble pair and metric."""

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


def pairable(a: Ensemble, b: Ensemble) -> bool:
    """Whether two ensembles can be contrasted: members are paired by position in the seed list
    (seqens.bootstrap.paired_difference), so both need as many members. A single published
    model beside an ensemble of several is not contrasted with it."""
    return len(a.seeds) == len(b.seeds)


def dna_text_pairs(ensembles: Iterable[Ensemble]) -> Iterator[tuple[Ensemble, Ensemble]]:
    """Every (dna, text) pair of ensembles with the same architecture and objective (and as
    many members: ``pairable``)."""
    ensembles = list(ensembles)
    for dna in (e for e in ensembles if e.condition.kind == "dna"):
        for text in ensembles:
            if text.condition.kind == "text" and (text.architecture, text.objective) == (dna.architecture, dna.objective):
                if pairable(dna, text):
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


Contrast = Callable[[Mapping[Ensemble, Result], Callable[[Result, Result], Iterable[Difference]]], pd.DataFrame]


def metric_contrasts(
    per_example: Mapping[Ensemble, Mapping[str, Values]],
    *,
    draws: int = 1000,
    level: float = 0.95,
    seed: int = 0,
    contrast: Contrast = dna_minus_text,
) -> pd.DataFrame:
    """``contrast`` (``dna_minus_text`` or ``trained_minus_published``) of every metric two
    ensembles share: ``per_example[ensemble][metric]`` is a MemberValues or a PairValues."""
    return contrast(
        per_example, lambda a, b: metric_differences(a, b, draws=draws, level=level, seed=seed)
    )


REPRODUCTION_COLUMNS = [
    "condition", "objective", "trained_architecture", "published_architecture", "metric", "difference", "low",
    "high", "level", "p_value", "draws", "distinguishable",
]


def trained_published_pairs(ensembles: Iterable[Ensemble]) -> Iterator[tuple[Ensemble, Ensemble]]:
    """Every (trained, published) pair of ensembles with the same condition (corpus and
    tokenizer) and objective (and as many members: ``pairable``): a retrained ensemble against
    a released one."""
    ensembles = list(ensembles)
    for trained in (e for e in ensembles if e.source == "trained"):
        for published in (e for e in ensembles if e.source == "published"):
            if (published.condition, published.objective) == (trained.condition, trained.objective):
                if pairable(trained, published):
                    yield trained, published


def distinguishable(difference: Difference) -> bool:
    """A reproduction's verdict: its interval excludes 0 (the retrained members differ)."""
    return not difference.interval.low <= 0 <= difference.interval.high


def trained_minus_published(
    results: Mapping[Ensemble, Result], differences: Callable[[Result, Result], Iterable[Difference]]
) -> pd.DataFrame:
    """The reproduction table: for every pair of ``trained_published_pairs``, a row per
    ``differences(results[trained], results[published])`` (any measurement's, as for
    ``dna_minus_text``), with ``distinguishable``."""
    rows = [
        {
            "condition": trained.condition.name,
            "objective": trained.objective,
            "trained_architecture": trained.architecture,
            "published_architecture": published.architecture,
            **difference_columns(difference),
            "distinguishable": distinguishable(difference),
            **difference.columns,
        }
        for trained, published in trained_published_pairs(results)
        for difference in differences(results[trained], results[published])
    ]
    return pd.DataFrame(rows) if rows else pd.DataFrame(columns=REPRODUCTION_COLUMNS)
