"""Ensemble comparisons: per-member metrics, pairwise disagreement, embedding stability and
Fisher fractions, each with a Multi-Bootstrap interval, and text-vs-DNA contrasts as paired
bootstrap differences. Every function returns a tidy DataFrame (columns: docs/tables.md)."""

from __future__ import annotations

from itertools import combinations
from typing import Sequence

import numpy as np
import pandas as pd

from . import bootstrap, distributions, embedding_similarity, paper_definitions
from .config import Ensemble
from .errors import InputError


def check_members_differ(ensemble: Ensemble, weights: dict[int, dict[str, str]]) -> None:
    """An ensemble compares members that differ in their seed: identical weight files (their
    manifests' sha256) mean the seed never reached the model, and every agreement metric
    would measure nothing. ``weights``: seed -> {file name: sha256}."""
    first_with = {}
    for seed, files in weights.items():
        if not files:  # no checksums recorded: extraction refuses such a member anyway
            continue
        key = tuple(sorted(files.items()))
        if key in first_with:
            raise InputError(
                f"ensemble {ensemble.name}: members seed{first_with[key]} and seed{seed} have identical weights "
                "(sha256 in their manifest.json): their seed did not change the model; retrain them"
            )
        first_with[key] = seed


class MemberStack:
    """[M, N, V] view over members' memory-mapped distributions, loading only the rows asked for."""

    def __init__(self, arrays: Sequence[np.ndarray]):
        self.arrays = list(arrays)
        self.shape = (len(self.arrays), *self.arrays[0].shape)

    def __getitem__(self, index):
        members, rows = index if isinstance(index, tuple) else (index, slice(None))
        chosen = self.arrays[members] if isinstance(members, slice) else [self.arrays[m] for m in np.atleast_1d(members)]
        return np.stack([np.asarray(a[rows], dtype=np.float64) for a in chosen])


# --- model outputs ------------------------------------------------------------------------

PER_POSITION_METRICS = ("entropy_bits", "kl_from_uniform_bits", "cross_entropy_bits", "accuracy")
KL_FROM_UNIFORM = {"corrected": distributions.kl_from_uniform_bits, "paper": paper_definitions.kl_uniform_to_p_bits}
# Bits per token that are also reported per character of input (the suffix names them).
PER_CHARACTER_METRICS = ("cross_entropy_bits", "unigram_cross_entropy_bits", "bits_beyond_unigram", "unigram_entropy_bits")
PER_CHARACTER = "_per_character"


def per_position_metrics(
    probs: np.ndarray,
    targets: np.ndarray,
    unigram_log2: np.ndarray | None = None,
    characters_per_target: float = 1.0,
    chunk: int = 4096,
    definition: str = "corrected",
) -> dict[str, np.ndarray]:
    """At each position: entropy, KL from uniform and cross-entropy of the prediction;
    ``unigram_cross_entropy_bits``, the surprisal of the target under the training unigram
    model (``unigram_log2``: log2 P(id), default the targets' own frequencies), and
    ``bits_beyond_unigram``, how much less the model's is: what it learned beyond token
    frequencies; ``unigram_entropy_bits``, the surprisal under the targets' own frequencies
    (its mean is their unigram entropy: no fixed predictor does better at these positions);
    correctness; and the bit metrics per character (divided by the mean characters of a
    target token, so that their means are total bits over total characters). Under the
    ``paper`` definition: the four metrics the paper's code reports, its KL(U || p) as the KL."""
    out = {name: [] for name in PER_POSITION_METRICS}
    for start in range(0, len(targets), chunk):
        p = np.asarray(probs[start : start + chunk], dtype=np.float64)
        t = targets[start : start + chunk]
        out["entropy_bits"].append(distributions.entropy_bits(p))
        out["kl_from_uniform_bits"].append(KL_FROM_UNIFORM[definition](p))
        out["cross_entropy_bits"].append(distributions.cross_entropy_bits(p, t))
        out["accuracy"].append(distributions.correct(p, t).astype(np.float64))
    metrics = {name: np.concatenate(parts) for name, parts in out.items()}
    if definition == "paper":
        return metrics
    metrics["unigram_entropy_bits"] = distributions.unigram_surprisal_bits(targets)
    metrics["unigram_cross_entropy_bits"] = (
        metrics["unigram_entropy_bits"] if unigram_log2 is None else -np.asarray(unigram_log2, dtype=np.float64)[targets]
    )
    metrics["bits_beyond_unigram"] = metrics["unigram_cross_entropy_bits"] - metrics["cross_entropy_bits"]
    for name in PER_CHARACTER_METRICS:
        metrics[name + PER_CHARACTER] = metrics[name] / characters_per_target
    return metrics


def rank_curve(probs: np.ndarray, chunk: int = 4096) -> np.ndarray:
    n = len(probs)
    total = None
    for start in range(0, n, chunk):
        part = distributions.rank_curve(np.asarray(probs[start : start + chunk], dtype=np.float64))
        weighted = part * min(chunk, n - start)
        total = weighted if total is None else total + weighted
    return total / n


def compare_outputs(
    ensemble: Ensemble,
    member_probs: Sequence[np.ndarray],
    targets: np.ndarray,
    *,
    unigram_log2: np.ndarray | None = None,
    characters_per_target: float = 1.0,
    definition: str = "corrected",
    top_p_values=distributions.TOP_P_VALUES,
    draws: int = 1000,
    level: float = 0.95,
    seed: int = 0,
) -> dict[str, pd.DataFrame | dict]:
    """Per-member metrics, their Multi-Bootstrap summary, pairwise JS distance per top-p and
    argmax disagreement, and the mean rank curve of one ensemble. ``unigram_log2`` is the
    training unigram model (the baseline of ``bits_beyond_unigram``); ``characters_per_target``
    (mean characters of a target token) converts bits per token into bits per character.
    ``definition`` (seqens.paper_definitions): ``paper`` computes the paper code's KL and
    top-p JS distance, and only the metrics it reports; every row is labelled with it."""
    labels = {**ensemble.labels(), "definition": definition}
    metrics = [
        per_position_metrics(p, targets, unigram_log2, characters_per_target, definition=definition) for p in member_probs
    ]
    members = pd.DataFrame(
        [{**labels, "seed": s, **{name: float(values.mean()) for name, values in m.items()}} for s, m in zip(ensemble.seeds, metrics)]
    )
    members["perplexity"] = [distributions.perplexity(v) for v in members["cross_entropy_bits"]]
    members["log2_vocab"] = np.log2(member_probs[0].shape[1])
    members["characters_per_target"] = characters_per_target
    per_position = {name: np.stack([m[name] for m in metrics]) for name in metrics[0]}
    summary = [
        _interval_row(labels, name, bootstrap.multi_bootstrap(values, n_draws=draws, level=level, seed=seed))
        for name, values in per_position.items()
    ]
    pairs = list(combinations(range(len(member_probs)), 2))
    if definition == "paper":
        disagreement = {"js_distance": paper_definitions.pairwise_js_distance(MemberStack(member_probs), top_p_values)}
    else:
        found = distributions.pairwise_disagreement(MemberStack(member_probs), top_p_values)
        disagreement = {
            "js_distance": found["js_distance"],
            "argmax_disagreement": found["argmax_differs"].astype(np.float64),
        }
    js_rows = []
    for index, p in enumerate(top_p_values):
        interval = bootstrap.multi_bootstrap_pairs(
            disagreement["js_distance"][:, index, :], pairs, len(member_probs), n_draws=draws, level=level, seed=seed
        )
        js_rows.append({**_interval_row(labels, "js_distance", interval), "top_p": p})
    summary.append(js_rows[-1] if top_p_values[-1] == 1.0 else js_rows[0])
    if "argmax_disagreement" in disagreement:
        summary.append(
            _interval_row(
                labels,
                "argmax_disagreement",
                bootstrap.multi_bootstrap_pairs(
                    disagreement["argmax_disagreement"], pairs, len(member_probs), n_draws=draws, level=level, seed=seed
                ),
            )
        )
    curve = np.mean([rank_curve(p) for p in member_probs], axis=0)
    ranks = pd.DataFrame({**labels, "rank": np.arange(1, len(curve) + 1), "mean_probability": curve})
    # The targets' own entropy is a plug-in estimate, biased low by a margin that depends on
    # how many positions there are per vocabulary entry: descriptive only, never contrasted.
    per_position_arrays = {
        **{name: values for name, values in per_position.items() if not name.startswith("unigram_entropy_bits")},
        **disagreement,
        "js_distance": disagreement["js_distance"][:, -1, :],
    }
    return {
        "members": members,
        "summary": pd.DataFrame(summary),
        "js_distance": pd.DataFrame(js_rows),
        "rank_curve": ranks,
        "per_position": per_position_arrays,
        "pairs": pairs,
    }


def _interval_row(labels: dict, metric: str, interval) -> dict:
    return {
        **labels,
        "metric": metric,
        "estimate": interval.estimate,
        "low": interval.low,
        "high": interval.high,
        "level": interval.level,
        "draws": interval.n_draws,  # fewer than drawn where a draw had no pair of distinct members
    }


# --- static embeddings ------------------------------------------------------------------------


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
    every pair."""
    labels = ensemble.labels()
    pairs = list(combinations(range(len(member_embeddings)), 2))
    k_search = max(k for k in (*ks, *spearman_ks) if k < len(member_embeddings[0]))
    neighbours = [embedding_similarity.cosine_neighbours(E, k_search) for E in member_embeddings]
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
        arrays[(metric, k, definition)] = stacked
        interval = bootstrap.multi_bootstrap_pairs(
            _nan_to_mean(stacked), pairs, len(member_embeddings), n_draws=draws, level=level, seed=seed
        )
        chance = embedding_similarity.chance_topk_overlap(k, len(member_embeddings[0])) if metric == "topk_overlap" else None
        summary.append({**_interval_row({**labels, "definition": definition}, metric, interval), "k": k, "chance": chance})
    return {"pairs_table": pd.DataFrame(rows), "summary": pd.DataFrame(summary), "per_token": arrays, "pairs": pairs}


def _nan_to_mean(values: np.ndarray) -> np.ndarray:
    """Constant neighbour rows give NaN Spearman; replace by the pair's mean so they do not
    poison the bootstrap (they carry no information either way)."""
    means = np.nanmean(values, axis=1, keepdims=True)
    return np.where(np.isnan(values), means, values)


# --- Fisher -----------------------------------------------------------------------------------


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
    summary = pd.DataFrame(
        [
            {**_interval_row(labels, "fisher_fraction", interval), "group": group, "order": order}
            for order, (group, interval) in enumerate(zip(groups, fractions))
        ]
    )
    return {"members": members, "summary": summary, "per_sequence": per_sequence, "groups": groups}


# --- text vs DNA ------------------------------------------------------------------------------


def contrasts(
    per_example: dict[Ensemble, dict[str, np.ndarray]],
    pairs: dict[Ensemble, list],
    *,
    draws: int = 1000,
    level: float = 0.95,
    seed: int = 0,
) -> pd.DataFrame:
    """Paired bootstrap differences (dna minus text) between every DNA ensemble and every text
    ensemble of the same architecture and objective, for each metric both have.

    ``per_example[ensemble][metric]`` is [M, N] for per-member metrics, or [P, N] for pair
    metrics (one row per member pair, listed in ``pairs[ensemble]``)."""
    rows = []
    for dna, text in _contrast_pairs(per_example):
        for metric in sorted(per_example[dna].keys() & per_example[text].keys()):
            interval, p_value = bootstrap.paired_difference(
                per_example[dna][metric],
                per_example[text][metric],
                pairs=pairs[dna] if _is_pair_metric(metric) else None,
                n_members=len(dna.seeds),
                n_draws=draws,
                level=level,
                seed=seed,
            )
            rows.append(_contrast_row(dna, text, metric, interval, p_value))
    return pd.DataFrame(rows)


PAIR_METRICS = {"js_distance", "argmax_disagreement", "topk_overlap", "local_spearman", "probe_agreement"}


def _is_pair_metric(metric: str) -> bool:
    return metric.split("@")[0] in PAIR_METRICS or metric in {"procrustes_disparity", "aligned_cosine", "linear_cka", "rbf_cka"}


def _contrast_pairs(per_example: dict):
    """Every (dna, text) pair of ensembles with the same architecture and objective."""
    for dna in (e for e in per_example if e.condition.kind == "dna"):
        for text in per_example:
            if text.condition.kind == "text" and (text.architecture, text.objective) == (dna.architecture, dna.objective):
                yield dna, text


def _contrast_row(dna: Ensemble, text: Ensemble, metric: str, interval, p_value: float) -> dict:
    return {
        "architecture": dna.architecture,
        "objective": dna.objective,
        "dna_condition": dna.condition.name,
        "text_condition": text.condition.name,
        "metric": metric,
        "difference": interval.estimate,
        "low": interval.low,
        "high": interval.high,
        "level": interval.level,
        "p_value": p_value,
        "draws": interval.n_draws,
    }


def fisher_contrasts(
    results: dict[Ensemble, dict], *, draws: int = 1000, level: float = 0.95, seed: int = 0
) -> pd.DataFrame:
    """Paired bootstrap differences (dna minus text) of every layer group's Fisher share;
    ``results`` maps ensembles to ``compare_fisher`` outputs."""
    rows = []
    for dna, text in _contrast_pairs(results):
        if results[dna]["groups"] != results[text]["groups"]:
            continue
        differences = bootstrap.paired_share_difference(
            results[dna]["per_sequence"], results[text]["per_sequence"], n_draws=draws, level=level, seed=seed
        )
        for group, (interval, p_value) in zip(results[dna]["groups"], differences):
            rows.append(_contrast_row(dna, text, f"fisher_fraction:{group}", interval, p_value))
    return pd.DataFrame(rows)


# --- frozen-feature probes --------------------------------------------------------------------

def macro_f1(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> float:
    """Unweighted mean over classes of F1 (a class never predicted nor present counts 0)."""
    confusion = np.bincount(y_true * n_classes + y_pred, minlength=n_classes * n_classes).reshape(n_classes, n_classes)
    hits = np.diag(confusion).astype(np.float64)
    denominator = confusion.sum(axis=0) + confusion.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        f1 = np.where(denominator > 0, 2 * hits / denominator, 0.0)
    return float(f1.mean())


def _f1_statistic(n_classes: int):
    """Mean over members of macro F1, on a grid of label * n_classes + prediction codes."""

    def statistic(codes: np.ndarray) -> float:
        codes = codes.astype(np.int64)
        return float(np.mean([macro_f1(row // n_classes, row % n_classes, n_classes) for row in codes]))

    return statistic


def _score_intervals(labels: np.ndarray, predictions: np.ndarray, n_classes: int, prefix: str, options: dict):
    """Accuracy and macro F1 of [rows, N] predictions, with Multi-Bootstrap intervals."""
    correct = (predictions == labels).astype(np.float64)
    codes = (labels * n_classes + predictions).astype(np.float64)
    return {
        f"{prefix}accuracy": bootstrap.multi_bootstrap(correct, **options),
        f"{prefix}macro_f1": bootstrap.multi_bootstrap(codes, statistic=_f1_statistic(n_classes), **options),
    }


def compare_probe(
    ensemble: Ensemble, predictions: pd.DataFrame, *, draws: int = 1000, level: float = 0.95, seed: int = 0
) -> dict:
    """Per probe and layer: the members' scores, those of randomly initialised members, of the
    majority class and of the count baseline (k-mers or tokens), the members' gains over the
    baseline and over their own initialisation, their spread across seeds and how often two
    members predict the same class; each with a Multi-Bootstrap interval over seeds and test
    examples. ``predictions``: the ensemble's probe_ensemble table."""
    labels_of = ensemble.labels()
    options = dict(n_draws=draws, level=level, seed=seed)
    pairs = list(combinations(range(len(ensemble.seeds)), 2))
    rows, member_rows, per_example = [], [], {}
    for (probe, layer), table in predictions.groupby(["probe", "layer"], sort=False):
        n_classes = int(table["n_classes"].iloc[0])
        baseline = table.loc[~table["model"].isin(["member", "random_init", "majority"]), "model"].iloc[0]

        def grid(model: str) -> np.ndarray:
            part = table[table["model"] == model].sort_values(["seed", "example"])
            return part["prediction"].to_numpy().reshape(part["seed"].nunique(), -1)

        truth = table[table["model"] == "majority"].sort_values("example")["label"].to_numpy()
        members, random_init = grid("member"), grid("random_init")
        intervals = {
            **_score_intervals(truth, members, n_classes, "", options),
            **_score_intervals(truth, random_init, n_classes, "random_init_", options),
            **_score_intervals(truth, grid("majority"), n_classes, "majority_", options),
            **_score_intervals(truth, grid(baseline), n_classes, "baseline_", options),
        }
        correct = (members == truth).astype(np.float64)
        values = {
            "gain_over_baseline": correct - (grid(baseline) == truth),
            "gain_over_random_init": correct - (random_init == truth),
        }
        for metric, value in values.items():
            intervals[metric] = bootstrap.multi_bootstrap(value, **options)
        agreement = np.stack([(members[a] == members[b]).astype(np.float64) for a, b in pairs])
        intervals["probe_agreement"] = bootstrap.multi_bootstrap_pairs(agreement, pairs, len(members), **options)
        per_seed = correct.mean(axis=1)
        extra = {"probe": probe, "layer": layer, "baseline": baseline, "n_test": len(truth), "n_classes": n_classes}
        for metric, interval in intervals.items():
            rows.append({**_interval_row(labels_of, metric, interval), **extra})
        rows.append({**labels_of, "metric": "accuracy_seed_sd", "estimate": float(per_seed.std(ddof=1)),
                     "low": float(per_seed.min()), "high": float(per_seed.max()), "level": np.nan, **extra})
        for i, seed_ in enumerate(ensemble.seeds):
            for model, grid_ in (("member", members), ("random_init", random_init)):
                member_rows.append({**labels_of, "probe": probe, "layer": layer, "model": model, "seed": seed_,
                                    "accuracy": float((grid_[i] == truth).mean()),
                                    "macro_f1": macro_f1(truth, grid_[i], n_classes)})
        per_example[(probe, layer)] = {"accuracy": correct, **values, "probe_agreement": agreement}
    return {"summary": pd.DataFrame(rows), "members": pd.DataFrame(member_rows), "per_example": per_example, "pairs": pairs}


def probe_contrasts(results: dict[Ensemble, dict], *, draws: int = 1000, level: float = 0.95, seed: int = 0) -> pd.DataFrame:
    """Paired bootstrap differences (dna minus text) of the last layer's probe accuracy, gains
    and agreement, for every DNA probe x text probe of ensembles of the same architecture and
    objective (the tasks differ: the gains over their baselines are the comparable part)."""
    last = {ensemble: {key: value for key, value in r["per_example"].items() if key[1] == "last"} for ensemble, r in results.items()}
    tables = []
    for dna, text in _contrast_pairs(last):
        for dna_key, dna_values in last[dna].items():
            for text_key, text_values in last[text].items():
                table = contrasts({dna: dna_values, text: text_values}, {dna: results[dna]["pairs"], text: results[text]["pairs"]},
                                  draws=draws, level=level, seed=seed)
                tables.append(table.assign(dna_probe=dna_key[0], text_probe=text_key[0]))
    return pd.concat(tables, ignore_index=True) if tables else pd.DataFrame()
