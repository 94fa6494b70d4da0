"""Frozen-feature probes of an ensemble (seqens.probes.fit trains them): the members' test
accuracy and macro F1 against random initialisation, the majority class and the count
baseline, their gains, spread across seeds and agreement, each with a Multi-Bootstrap
interval; and the DNA-minus-text contrasts of the last layer's."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from ..config import Ensemble
from ..layers import last_layer
from .contrasts import dna_minus_text, metric_differences
from .intervals import MemberValues, PairValues, all_pairs, interval_row


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
    """Accuracy and macro F1 of [rows, N] predictions: each with its Multi-Bootstrap interval
    and its standard deviation over members."""
    correct = MemberValues((predictions == labels).astype(np.float64))
    codes = MemberValues((labels * n_classes + predictions).astype(np.float64))
    f1 = _f1_statistic(n_classes)
    return {
        f"{prefix}accuracy": (correct.interval(**options), correct.sd()),
        f"{prefix}macro_f1": (codes.interval(statistic=f1, **options), codes.sd(statistic=f1)),
    }


def compare_probe(
    ensemble: Ensemble, predictions: pd.DataFrame, *, draws: int = 1000, level: float = 0.95, seed: int = 0
) -> dict:
    """Per probe and layer: the members' scores, those of randomly initialised members, of the
    majority class and of the count baseline (k-mers or tokens), the members' gains over the
    baseline and over their own initialisation and how often two members predict the same
    class; each with a Multi-Bootstrap interval over seeds and test examples and its standard
    deviation over members (over pairs, for the agreement). ``predictions``: the ensemble's probe_ensemble table. ``per_example``: per
    (probe, layer), the arrays the contrasts pair (MemberValues, PairValues)."""
    labels_of = ensemble.labels()
    options = dict(draws=draws, level=level, seed=seed)
    n_members = len(ensemble.seeds)
    pairs = all_pairs(n_members)
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
            "gain_over_baseline": MemberValues(correct - (grid(baseline) == truth)),
            "gain_over_random_init": MemberValues(correct - (random_init == truth)),
        }
        if pairs:  # an ensemble of one member has no agreement (absent, not faked)
            agreement = np.stack([(members[a] == members[b]).astype(np.float64) for a, b in pairs])
            values["probe_agreement"] = PairValues(agreement, pairs, n_members)
        for metric, value in values.items():
            intervals[metric] = (value.interval(**options), value.sd())
        extra = {"probe": probe, "layer": layer, "baseline": baseline, "n_test": len(truth), "n_classes": n_classes}
        for metric, (interval, sd) in intervals.items():
            rows.append({**interval_row(labels_of, metric, interval, sd), **extra})
        for i, seed_ in enumerate(ensemble.seeds):
            for model, grid_ in (("member", members), ("random_init", random_init)):
                member_rows.append({**labels_of, "probe": probe, "layer": layer, "model": model, "seed": seed_,
                                    "accuracy": float((grid_[i] == truth).mean()),
                                    "macro_f1": macro_f1(truth, grid_[i], n_classes)})
        per_example[(probe, layer)] = {"accuracy": MemberValues(correct), **values}
    return {"summary": pd.DataFrame(rows), "members": pd.DataFrame(member_rows), "per_example": per_example}


def probe_contrasts(results: dict[Ensemble, dict], *, draws: int = 1000, level: float = 0.95, seed: int = 0) -> pd.DataFrame:
    """Paired bootstrap differences (dna minus text) of the last layer's probe accuracy, gains
    and agreement, for every DNA probe x text probe of ensembles of the same architecture and
    objective (the tasks differ: the gains over their baselines are the comparable part)."""
    last = {ensemble: _last_layer_of(r["per_example"]) for ensemble, r in results.items()}

    def differences(dna: dict, text: dict):
        for (dna_probe, _), dna_values in dna.items():
            for (text_probe, _), text_values in text.items():
                for difference in metric_differences(dna_values, text_values, draws=draws, level=level, seed=seed):
                    yield replace(difference, columns={"dna_probe": dna_probe, "text_probe": text_probe})

    return dna_minus_text(last, differences)


def _last_layer_of(per_example: dict) -> dict:
    """The (probe, layer) entries of an ensemble's deepest probed layer."""
    last = last_layer(layer for _, layer in per_example)
    return {key: value for key, value in per_example.items() if key[1] == last}
