"""Static input embeddings of an ensemble: for every member pair, top-k neighbour overlap,
local Spearman, Procrustes disparity and aligned cosine, linear and RBF CKA, each with a
Multi-Bootstrap interval over members and tokens."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from .. import embedding_similarity, paper_definitions
from ..config import Ensemble
from .intervals import INTERVAL_COLUMNS, PairValues, all_pairs, interval_row


def compare_embeddings(
    ensemble: Ensemble,
    member_embeddings: Sequence[np.ndarray],
    *,
    ks: Sequence[int],
    spearman_ks: Sequence[int],
    definitions: Sequence[str] = ("corrected",),
    draws: int = 1000,
    level: float = 0.95,
    seed: int = 0,
) -> dict[str, pd.DataFrame | dict]:
    """For every member pair: top-k overlap at each of ``ks``, local Spearman at each of
    ``spearman_ks``, Procrustes, linear and RBF CKA; plus summaries. Local Spearman is
    computed under each of ``definitions`` (the paper's is one-directional,
    seqens.paper_definitions); the other metrics are the same under both (``definition``
    "both"). Each member's neighbours are searched once, at the largest k, and reused in
    every pair. ``per_token``: each (metric, k, definition)'s values per pair and token, as
    PairValues, for the contrasts. An ensemble of one member has no pair: its tables have no
    rows (absent, not faked)."""
    labels = ensemble.labels()
    n_members = len(member_embeddings)
    pairs = all_pairs(n_members)
    k_search = max(k for k in (*ks, *spearman_ks) if k < len(member_embeddings[0]))
    neighbours = [embedding_similarity.cosine_neighbours(E, k_search) for E in member_embeddings] if pairs else []
    per_token: dict[tuple[str, int | None, str], list[np.ndarray]] = {}
    rows = []

    def add(pair_labels: dict, metric: str, k: int | None, definition: str, values: np.ndarray) -> None:
        per_token.setdefault((metric, k, definition), []).append(values)
        rows.append({**pair_labels, "definition": definition, "metric": metric, "k": k, "value": float(np.nanmean(values))})

    for i, j in pairs:
        a, b = member_embeddings[i], member_embeddings[j]
        found = (neighbours[i], neighbours[j])
        pair_labels = {**labels, "seed_a": ensemble.seeds[i], "seed_b": ensemble.seeds[j]}
        for k, values in embedding_similarity.topk_overlap(a, b, ks, neighbours=found).items():
            add(pair_labels, "topk_overlap", k, paper_definitions.BOTH, values)
        for k in spearman_ks:
            if "corrected" in definitions:
                add(pair_labels, "local_spearman", k, "corrected",
                    embedding_similarity.local_spearman(a, b, k, neighbours=found))
            if "paper" in definitions:
                add(pair_labels, "local_spearman", k, "paper",
                    paper_definitions.local_spearman_one_directional(a, b, k, neighbours=neighbours[i]))
        disparity, mean_cosine = embedding_similarity.procrustes(a, b)
        cka = embedding_similarity.linear_cka(a, b)
        rbf_cka = embedding_similarity.rbf_cka(a, b)
        for metric, value in (
            ("procrustes_disparity", disparity), ("aligned_cosine", mean_cosine), ("linear_cka", cka), ("rbf_cka", rbf_cka)
        ):
            add(pair_labels, metric, None, paper_definitions.BOTH, np.array([value]))
    summary = []
    arrays = {}
    for (metric, k, definition), values in per_token.items():
        stacked = np.stack(values)
        arrays[(metric, k, definition)] = PairValues(stacked, pairs, n_members)
        # Constant neighbour rows give NaN Spearman: they carry no information either way.
        summarised = PairValues(paper_definitions.nan_to_pair_mean(stacked), pairs, n_members)
        interval = summarised.interval(draws=draws, level=level, seed=seed)
        chance = embedding_similarity.chance_topk_overlap(k, len(member_embeddings[0])) if metric == "topk_overlap" else None
        row = interval_row({**labels, "definition": definition}, metric, interval, summarised.sd())
        summary.append({**row, "k": k, "chance": chance})
    return {
        "pairs_table": pd.DataFrame(rows, columns=[*labels, "seed_a", "seed_b", "definition", "metric", "k", "value"]),
        "summary": pd.DataFrame(summary, columns=[*labels, "definition", *INTERVAL_COLUMNS, "k", "chance"]),
        "per_token": arrays,
        "pairs": pairs,
    }
