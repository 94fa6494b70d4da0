"""Output distributions of an ensemble: per-member metrics at each evaluation position
(entropy, KL from uniform, cross-entropy, bits beyond the unigram model, accuracy), pairwise
disagreement (JS distance per top-p, argmax), and the mean rank curve; each with a
Multi-Bootstrap interval."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from .. import distributions, paper_definitions
from ..config import Ensemble, file_of
from ..counts import prediction_context
from ..errors import InputError
from .intervals import INTERVAL_COLUMNS, MemberValues, PairValues, all_pairs, interval_row


class MemberStack:
    """[M, N, V] view over members' memory-mapped distributions, loading only the rows asked for."""

    def __init__(self, arrays: Sequence[np.ndarray]):
        self.arrays = list(arrays)
        self.shape = (len(self.arrays), *self.arrays[0].shape)

    def __getitem__(self, index):
        members, rows = index if isinstance(index, tuple) else (index, slice(None))
        chosen = self.arrays[members] if isinstance(members, slice) else [self.arrays[m] for m in np.atleast_1d(members)]
        return np.stack([np.asarray(a[rows], dtype=np.float64) for a in chosen])


def member_distributions(ensemble: Ensemble, eval_positions, distributions: list, records: list) -> list[np.ndarray]:
    """The ensemble's distributions (memory-mapped), found among a job's input files, after
    checking they were taken at ``eval_positions`` (seqens.positions.EvalPositions)."""
    for member in ensemble.members:
        record = json.loads(Path(file_of(records, member)).read_text())
        if record["positions_fingerprint"] != eval_positions.fingerprint:
            raise InputError(
                f"member {member.path}: its distributions were taken at other evaluation "
                "positions than its condition's (rerun its extraction)"
            )
    return [np.load(file_of(distributions, member), mmap_mode="r") for member in ensemble.members]


def load_count_baselines(paths: list, ensemble: Ensemble, eval_positions) -> tuple[np.ndarray, int]:
    """The count baselines the ensemble's members are measured against (its condition's, for
    the context its objective's predictions see; ``paths``: rule count_baselines' npz files),
    checked to be at these positions: log2-probabilities [K + 1, N] and the best order."""
    path = file_of([p for p in paths if Path(p).stem == prediction_context(ensemble.objective)], ensemble.condition)
    with np.load(path) as found:
        if str(found["positions_fingerprint"]) != eval_positions.fingerprint:
            raise InputError(f"{path}: taken at other evaluation positions than its condition's (rerun count_baselines)")
        return found["log2_probs"], int(found["best_order"])


PER_POSITION_METRICS = ("entropy_bits", "kl_from_uniform_bits", "cross_entropy_bits", "accuracy")
KL_FROM_UNIFORM = {"corrected": distributions.kl_from_uniform_bits, "paper": paper_definitions.kl_uniform_to_p_bits}
# Bits per token that are also reported per character of input (the suffix names them).
PER_CHARACTER_METRICS = ("cross_entropy_bits", "unigram_cross_entropy_bits", "bits_beyond_unigram", "unigram_entropy_bits")
PER_CHARACTER = "_per_character"
COUNT_PER_CHARACTER_METRICS = ("count_cross_entropy_bits", "bits_beyond_counts")


def count_metrics(count_log2: np.ndarray, best_order: int, cross_entropy: np.ndarray) -> dict[str, np.ndarray]:
    """At each position, the count baselines' surprisal of the true token per order k
    (``count_cross_entropy_bits_k{k}``; ``count_log2`` [K + 1, N], seqens.counts), the best
    order's (chosen on held-out training rows) and ``bits_beyond_counts``: how much less the
    member's ``cross_entropy`` is, what it knows beyond k-mer statistics."""
    metrics = {f"count_cross_entropy_bits_k{k}": -np.asarray(row, dtype=np.float64) for k, row in enumerate(count_log2)}
    metrics["count_cross_entropy_bits"] = metrics[f"count_cross_entropy_bits_k{best_order}"]
    metrics["bits_beyond_counts"] = metrics["count_cross_entropy_bits"] - cross_entropy
    return metrics


def per_position_metrics(
    probs: np.ndarray,
    targets: np.ndarray,
    unigram_log2: np.ndarray | None = None,
    characters_per_target: float = 1.0,
    chunk: int = 4096,
    definition: str = "corrected",
    counts: tuple[np.ndarray, int] | None = None,
) -> dict[str, np.ndarray]:
    """At each position: entropy, KL from uniform and cross-entropy of the prediction;
    ``unigram_cross_entropy_bits``, the surprisal of the target under the training unigram
    model (``unigram_log2``: log2 P(id), default the targets' own frequencies), and
    ``bits_beyond_unigram``, how much less the model's is: what it learned beyond token
    frequencies; ``unigram_entropy_bits``, the surprisal under the targets' own frequencies
    (its mean is their unigram entropy: no fixed predictor does better at these positions);
    correctness; with ``counts`` (the count baselines' log2-probabilities [K + 1, N] and
    their best order), ``count_metrics``; and the bit metrics per character (divided by the
    mean characters of a target token, so that their means are total bits over total
    characters). Under the ``paper`` definition: the four metrics the paper's code reports,
    its KL(U || p) as the KL."""
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
    per_character = list(PER_CHARACTER_METRICS)
    if counts is not None:
        found = count_metrics(*counts, metrics["cross_entropy_bits"])
        metrics.update(found)
        per_character += [name for name in found if name.startswith(COUNT_PER_CHARACTER_METRICS)]
    for name in per_character:
        metrics[name + PER_CHARACTER] = metrics[name] / characters_per_target
    return metrics


def member_rank_curve(probs: np.ndarray, chunk: int = 4096) -> np.ndarray:
    """One member's mean rank curve over all its positions [N, V] (distributions.rank_curve,
    read ``chunk`` rows at a time from a memory-mapped array): [V]."""
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
    counts: tuple[np.ndarray, int] | None = None,
    top_p_values=distributions.TOP_P_VALUES,
    draws: int = 1000,
    level: float = 0.95,
    seed: int = 0,
) -> dict[str, pd.DataFrame | dict]:
    """Per-member metrics, their Multi-Bootstrap summary, pairwise JS distance per top-p and
    argmax disagreement, and the mean rank curve of one ensemble. ``unigram_log2`` is the
    training unigram model (the baseline of ``bits_beyond_unigram``); ``characters_per_target``
    (mean characters of a target token) converts bits per token into bits per character;
    ``counts``, the count baselines at these positions (log2-probabilities [K + 1, N] and the
    best order), adds their cross-entropies and ``bits_beyond_counts``.
    ``definition`` (seqens.paper_definitions): ``paper`` computes the paper code's KL and
    top-p JS distance, and only the metrics it reports; every row is labelled with it.

    ``per_position`` holds the arrays the contrasts pair: each metric at each position, as
    MemberValues, and the pairs' disagreement (JS distance at the last top-p) as PairValues.
    An ensemble of one member has no pair: no disagreement rows and no disagreement arrays."""
    labels = {**ensemble.labels(), "definition": definition}
    metrics = [
        per_position_metrics(p, targets, unigram_log2, characters_per_target, definition=definition, counts=counts)
        for p in member_probs
    ]
    members = pd.DataFrame(
        [{**labels, "seed": s, **{name: float(values.mean()) for name, values in m.items()}} for s, m in zip(ensemble.seeds, metrics)]
    )
    members["perplexity"] = [distributions.perplexity(v) for v in members["cross_entropy_bits"]]
    members["log2_vocab"] = np.log2(member_probs[0].shape[1])
    members["characters_per_target"] = characters_per_target
    if counts is not None:
        members["count_order"] = counts[1]
    options = dict(draws=draws, level=level, seed=seed)
    per_position = {name: MemberValues(np.stack([m[name] for m in metrics])) for name in metrics[0]}
    summary = [interval_row(labels, name, values.interval(**options), values.sd()) for name, values in per_position.items()]
    n_members = len(member_probs)
    pairs = all_pairs(n_members)
    js_rows, disagreement = [], {}
    if pairs:  # an ensemble of one member has no pair: its disagreement is absent, not faked
        stack = MemberStack(member_probs)
        if definition == "paper":
            js_by_top_p, argmax = paper_definitions.pairwise_js_distance(stack, top_p_values), None
        else:
            found = distributions.pairwise_disagreement(stack, top_p_values)
            js_by_top_p = found["js_distance"]
            argmax = PairValues(found["argmax_differs"].astype(np.float64), pairs, n_members)
        for index, p in enumerate(top_p_values):
            js = PairValues(js_by_top_p[:, index, :], pairs, n_members)
            js_rows.append({**interval_row(labels, "js_distance", js.interval(**options), js.sd()), "top_p": p})
        summary.append(js_rows[-1] if top_p_values[-1] == 1.0 else js_rows[0])
        disagreement["js_distance"] = PairValues(js_by_top_p[:, -1, :], pairs, n_members)
        if argmax is not None:
            summary.append(interval_row(labels, "argmax_disagreement", argmax.interval(**options), argmax.sd()))
            disagreement["argmax_disagreement"] = argmax
    curve = np.mean([member_rank_curve(p) for p in member_probs], axis=0)
    ranks = pd.DataFrame({**labels, "rank": np.arange(1, len(curve) + 1), "mean_probability": curve})
    # The targets' own entropy is a plug-in estimate, biased low by a margin that depends on
    # how many positions there are per vocabulary entry: descriptive only, never contrasted.
    per_position_arrays = {
        **{name: values for name, values in per_position.items() if not name.startswith("unigram_entropy_bits")},
        **disagreement,
    }
    return {
        "members": members,
        "summary": pd.DataFrame(summary),
        "js_distance": pd.DataFrame(js_rows, columns=[*labels, *INTERVAL_COLUMNS, "top_p"]),
        "rank_curve": ranks,
        "per_position": per_position_arrays,
    }
