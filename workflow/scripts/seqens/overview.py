"""The report's landing page: what the study is, what each ensemble learned beyond the
unigram, and whether the paper's findings hold, in numbers with their intervals."""

from __future__ import annotations

import pandas as pd

from .layers import last_layer

# The paper's findings, as DNA-minus-text contrasts: (contrast metric, expected sign, reading).
DIRECTIONS = (
    ("entropy_bits", +1, "DNA predictions are closer to uniform (entropy, bits)"),
    ("js_distance", +1, "DNA members disagree more (JS distance)"),
    ("topk_overlap@10", -1, "DNA embeddings share fewer neighbours (top-10 overlap)"),
    ("procrustes_disparity", +1, "DNA embeddings align worse (Procrustes disparity)"),
    ("fisher_fraction:embeddings", +1, "DNA Fisher information sits more in the embeddings (share)"),
)


def _interval(row) -> str:
    return f"{row['estimate']:.3g} [{row['low']:.3g}, {row['high']:.3g}]"


def _table(header: list[str], rows: list[list[str]]) -> str:
    """An RST list-table (robust to cell widths)."""
    lines = [".. list-table::", "   :header-rows: 1", ""]
    for row in [header, *rows]:
        lines.append(f"   * - {row[0]}")
        lines.extend(f"     - {cell}" for cell in row[1:])
    return "\n".join(lines) + "\n"


# How much an ensemble learned beyond the unigram. None when the interval of
# bits_beyond_unigram holds 0 (or lies below it); otherwise graded by the share of the
# unigram model's cross-entropy (bits per token at the same positions) the members remove:
# under TRACE_SHARE a trace (the demo's athal-kmer6 removes 0.4%), under MODEST_SHARE
# modest, beyond it substantial (the demo's wiki-bpe removes 22%).
TRACE_SHARE = 0.01
MODEST_SHARE = 0.10
VERDICTS = {
    "none": "**no more than token frequencies**",
    "trace": "*a trace* beyond token frequencies",
    "modest": "modestly from context",
    "substantial": "learned from context",
}


def learning_grade(low: float, estimate: float, unigram_bits: float) -> str:
    """none, trace, modest or substantial (see TRACE_SHARE and MODEST_SHARE)."""
    if low <= 0:
        return "none"
    share = estimate / unigram_bits
    return "trace" if share < TRACE_SHARE else "modest" if share < MODEST_SHARE else "substantial"


def learned_rows(summary: pd.DataFrame) -> list[tuple[str, list[str]]]:
    """(grade, table row) per ensemble."""
    rows = []
    for row in summary[summary["metric"] == "bits_beyond_unigram"].to_dict("records"):
        same = ((summary["condition"] == row["condition"]) & (summary["architecture"] == row["architecture"])
                & (summary["objective"] == row["objective"]))
        per_char = summary[same & (summary["metric"] == "bits_beyond_unigram_per_character")].iloc[0]
        unigram = summary[same & (summary["metric"] == "unigram_cross_entropy_bits")].iloc[0]["estimate"]
        grade = learning_grade(row["low"], row["estimate"], unigram)
        share = f" ({row['estimate'] / unigram:.1%} of the unigram's {unigram:.3g} bits)" if grade != "none" else ""
        rows.append((grade, [row["condition"], f"{row['architecture']} {row['objective']}", _interval(row),
                             _interval(per_char), VERDICTS[grade] + share]))
    return rows


def direction_rows(contrasts: pd.DataFrame) -> list[list[str]]:
    rows = []
    for metric, sign, reading in DIRECTIONS:
        for row in contrasts[contrasts["metric"] == metric].to_dict("records"):
            excludes_zero = row["low"] > 0 or row["high"] < 0
            holds = "yes" if excludes_zero and sign * row["difference"] > 0 else (
                "reversed" if excludes_zero else "unclear (interval holds 0)")
            rows.append([reading, f"{row['dna_condition']} − {row['text_condition']}",
                         f"{row['architecture']} {row['objective']}",
                         f"{row['difference']:.3g} [{row['low']:.3g}, {row['high']:.3g}]", holds])
    return rows


# The reproduction metrics the landing page shows (every one is in the *_reproduction.csv
# tables): (metric, reading).
REPRODUCTION_METRICS = (
    ("bits_beyond_unigram", "bits learned beyond the unigram, per token"),
    ("entropy_bits", "entropy of predictions (bits)"),
    ("js_distance", "disagreement between members (JS distance)"),
    ("topk_overlap@10", "static embeddings: top-10 neighbour overlap"),
    ("procrustes_disparity", "static embeddings: Procrustes disparity"),
    ("linear_cka", "contextual embeddings: linear CKA between members"),
    ("fisher_fraction:embeddings", "Fisher information in the embeddings (share)"),
)


def reproduction_rows(reproductions: pd.DataFrame) -> tuple[list[str], list[list[str]]]:
    """Per (trained, published) pair: a sentence counting the metrics that tell them apart,
    and a table row per metric of REPRODUCTION_METRICS with its verdict."""
    sentences, rows = [], []
    keys = ["condition", "objective", "trained_architecture", "published_architecture"]
    for (condition, objective, trained, published), part in reproductions.groupby(keys, sort=False):
        pair = f"{trained} (trained) − {published} (published), {condition} {objective}"
        differ = part["distinguishable"].astype(bool)
        sentences.append(f"{pair}: distinguishable in {int(differ.sum())} of {len(part)} metrics.")
        for metric, reading in REPRODUCTION_METRICS:
            for row in part[part["metric"] == metric].to_dict("records"):
                verdict = "**yes**: they differ" if row["distinguishable"] else "no (interval holds 0)"
                rows.append([reading, pair, f"{row['difference']:.3g} [{row['low']:.3g}, {row['high']:.3g}]", verdict])
    return sentences, rows


def probe_rows(probes: pd.DataFrame) -> list[list[str]]:
    """Per ensemble and probe (last layer): the members' accuracy, the count baseline's, and
    whether the members beat it and their own untrained initialisation."""
    rows = []
    for (condition, architecture, objective, probe), part in probes.groupby(
        ["condition", "architecture", "objective", "probe"], sort=False
    ):
        row = part[part["layer"] == last_layer(part["layer"])].set_index("metric")

        def verdict(metric: str) -> str:
            low, high = row.loc[metric, "low"], row.loc[metric, "high"]
            return "yes" if low > 0 else ("no, worse" if high < 0 else "unclear (interval holds 0)")

        rows.append([f"{probe} ({condition})", f"{architecture} {objective}", _interval(row.loc["accuracy"]),
                     f"{row.loc['accuracy', 'baseline']}: {_interval(row.loc['baseline_accuracy'])}",
                     verdict("gain_over_baseline"), verdict("gain_over_random_init")])
    return rows


def overview_page(
    study: dict,
    summary: pd.DataFrame,
    contrasts: pd.DataFrame,
    probes: pd.DataFrame | None = None,
    reproductions: pd.DataFrame | None = None,
) -> str:
    """RST for the report's landing page. ``study`` describes the design (name, conditions,
    architectures, objectives, seeds, model, steps, tokens per member, the published single
    models); ``contrasts`` holds the output, embedding and Fisher contrasts together;
    ``probes`` is the probe summary (None when the study has no probes); ``reproductions``
    the trained-minus-published contrasts of every measurement together (None or empty when
    no trained ensemble shares a condition with a published one)."""
    title = f"Ensemble study '{study['name']}'"
    learned = learned_rows(summary)
    nothing, trace = ([row[0] + " (" + row[1] + ")" for grade, row in learned if grade == wanted]
                      for wanted in ("none", "trace"))
    parts = [
        title, "=" * len(title), "",
        f"Ensembles of {len(study['seeds'])} members (seeds {', '.join(map(str, study['seeds']))}) that differ only in "
        f"their seed, for each of the conditions {', '.join(study['conditions'])}, architectures "
        f"{', '.join(study['architectures'])} and objectives {', '.join(study['objectives'])}. Model preset "
        f"'{study['model']}'; {study['steps']} steps, {study['tokens_per_member']:,} training tokens per member. "
        "Intervals are 95% Multi-Bootstrap intervals over seeds and held-out positions.", "",
        "What each ensemble learned beyond the unigram", "-" * 45, "",
        "Cross-entropy gained over the training unigram model at the held-out masked positions. "
        "An ensemble whose interval includes 0 predicts token frequencies only: its entropy, "
        "disagreement and embedding numbers describe the tokenizer, not a learned model. Otherwise the "
        f"verdict grades the gain by the share of the unigram's bits it removes: under {TRACE_SHARE:.0%} a "
        f"trace, under {MODEST_SHARE:.0%} modest, beyond that learned.", "",
        _table(["condition", "variant", "bits per token", "bits per character", "verdict"],
               [row for _, row in learned]),
    ]
    if study.get("single_models"):
        parts += [f".. note:: Single published models: {', '.join(study['single_models'])}. With one member there "
                  "is no seed to resample: their intervals are over held-out positions only, and they have no pair "
                  "metrics (disagreement, embedding stability, agreement between members) and no contrasts with "
                  "ensembles of several members.", ""]
    if nothing:
        parts += [f".. warning:: No learning beyond the unigram for {', '.join(nothing)}: read its "
                  "comparisons as tokenizer statistics.", ""]
    if trace:
        parts += [f".. note:: Only a trace of learning beyond the unigram for {', '.join(trace)}: its "
                  "comparisons mostly describe the tokenizer.", ""]
    parts += [
        "The paper's findings, DNA minus text", "-" * 36, "",
        _table(["finding", "contrast", "variant", "difference", "holds?"], direction_rows(contrasts)),
    ]
    if reproductions is not None and not reproductions.empty:
        sentences, rows = reproduction_rows(reproductions)
        parts += [
            "Reproductions: trained minus published", "-" * 39, "",
            "A trained ensemble against a published one of the same corpus, tokenizer and objective, members "
            "paired by seed order: distinguishable where the interval of the difference excludes 0 "
            "(every metric: the ``*_reproduction.csv`` tables).", "",
            *(f"- {sentence}" for sentence in sentences), "",
            _table(["metric", "contrast", "difference", "distinguishable?"], rows),
        ]
    if probes is not None:
        parts += [
            "Frozen features on labelled tasks", "-" * 33, "",
            "Test accuracy of a logistic-regression probe on the members' mean-pooled last-layer states, on "
            "examples no member trained on, against a count baseline without a model (k-mers for DNA, bag of "
            "tokens for text) and against the same members untrained.", "",
            _table(["probe", "variant", "accuracy", "count baseline", "beats the baseline?", "beats untrained?"],
                   probe_rows(probes)),
        ]
    parts += ["The figures and tables (categories on the left) have the details.", ""]
    return "\n".join(parts)
