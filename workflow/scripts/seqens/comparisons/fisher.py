"""Fisher information of an ensemble: each layer group's share of the total, as a ratio of
means over members and sequences (batches, for the paper's mini-batch Fisher), with
Multi-Bootstrap intervals, and its DNA-minus-text contrasts (seqens.fisher computes it)."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from .. import bootstrap
from ..config import Ensemble
from .contrasts import Contrast, Difference, dna_minus_text
from .intervals import interval_row, unit_sd


def compare_fisher(
    ensemble: Ensemble,
    member_tables: Sequence[pd.DataFrame],
    member_per_sequence: Sequence[np.ndarray],
    *,
    definition: str = "corrected",
    draws: int = 1000,
    level: float = 0.95,
    seed: int = 0,
) -> dict[str, pd.DataFrame | np.ndarray]:
    """Fraction of Fisher information per layer group, with Multi-Bootstrap intervals.

    A group's fraction is a ratio of means (group total / all groups' total), so each draw
    resamples members and sequences (batches, for the paper's mini-batch Fisher) and
    recomputes the ratio on the drawn grid. Every row is labelled with ``definition``."""
    labels = {**ensemble.labels(), "definition": definition}
    groups = list(member_tables[0]["group"])
    members = pd.concat(
        [table.assign(**labels, seed=s) for s, table in zip(ensemble.seeds, member_tables)], ignore_index=True
    )
    per_sequence = np.stack(member_per_sequence)  # [M, S, G]
    fractions = bootstrap.multi_bootstrap_ratio(per_sequence, n_draws=draws, level=level, seed=seed)
    totals = per_sequence.sum(axis=1)  # [M, G]
    member_fractions = totals / totals.sum(axis=1, keepdims=True)  # as the paper's figure: each model's shares
    summary = pd.DataFrame(
        [
            {
                **interval_row(labels, "fisher_fraction", interval, unit_sd(member_fractions[:, order], pairs=False)),
                "group": group,
                "order": order,
            }
            for order, (group, interval) in enumerate(zip(groups, fractions))
        ]
    )
    return {"members": members, "summary": summary, "per_sequence": per_sequence, "groups": groups}


def fisher_contrasts(
    results: dict[Ensemble, dict],
    *,
    draws: int = 1000,
    level: float = 0.95,
    seed: int = 0,
    contrast: Contrast = dna_minus_text,
) -> pd.DataFrame:
    """Paired bootstrap differences (``contrast``: dna minus text, or trained minus published)
    of every layer group's Fisher share; ``results`` maps ensembles to ``compare_fisher``
    outputs (ensembles whose groups differ are not contrasted)."""

    def differences(dna: dict, text: dict):
        if dna["groups"] != text["groups"]:
            return
        shares = bootstrap.paired_share_difference(
            dna["per_sequence"], text["per_sequence"], n_draws=draws, level=level, seed=seed
        )
        for group, (interval, p_value) in zip(dna["groups"], shares):
            yield Difference(f"fisher_fraction:{group}", interval, p_value)

    return contrast(results, differences)
