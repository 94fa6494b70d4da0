"""Figures of the study (seaborn), built from the tidy tables in results/tables/.

Each function returns a matplotlib Figure at a journal width (one column 3.5 in, two columns
7 in) with 6-8 pt text, every quantity in bits, every axis labelled with its unit, and the
reference each number is read against (the unigram, log2 V, chance overlap). Within a
figure colour always means the condition (``Encoding``; marker and line style the variant),
and its one legend sits below the panels (``legend_below``), never on the data. ``save``
writes it as PDF (fonts embedded, for papers) and PNG (for the HTML report)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Sequence

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

from .io import atomic_path  # noqa: E402

# The PDF backend subsets fonts with fontTools, which logs a line per font table at INFO:
# they were nearly all of a figure job's log.
logging.getLogger("fontTools.subset").setLevel(logging.WARNING)

SINGLE_COLUMN, DOUBLE_COLUMN = 3.5, 7.0  # inches
sns.set_theme(
    context="paper",
    style="whitegrid",
    palette="colorblind",
    rc={
        "font.size": 7, "axes.titlesize": 7.5, "axes.labelsize": 7, "xtick.labelsize": 6.5,
        "ytick.labelsize": 6.5, "legend.fontsize": 6, "legend.title_fontsize": 6, "lines.linewidth": 1.0,
        "lines.markersize": 3.5, "errorbar.capsize": 2, "pdf.fonttype": 42,
    },
)


VARIANT_MARKERS = ("o", "s", "^", "D", "v", "P")
VARIANT_LINES = ("-", "--", ":", "-.")


class Encoding:
    """One encoding of the ensembles for a whole figure: colour is the condition (the same in
    every panel), marker and line style are the variant (architecture objective). Colours
    follow ``study_conditions``, the study's conditions in order, so that a condition keeps
    its colour from figure to figure even where a table lacks another; without it, the
    table's own order."""

    def __init__(self, table: pd.DataFrame, study_conditions: Sequence[str] | None = None):
        present = list(dict.fromkeys(table["condition"]))
        order = list(dict.fromkeys([*(study_conditions or ()), *present]))
        self.conditions = [c for c in order if c in present]
        self.variants = list(dict.fromkeys(table["variant"]))
        palette = sns.color_palette("colorblind", n_colors=max(3, len(order)))
        self.colours = dict(zip(order, palette))

    def marker(self, variant: str) -> str:
        return VARIANT_MARKERS[self.variants.index(variant) % len(VARIANT_MARKERS)]

    def line(self, variant: str) -> str:
        return VARIANT_LINES[self.variants.index(variant) % len(VARIANT_LINES)]

    def handles(self, lines: bool = False) -> list:
        """Legend entries: a colour per condition, a marker (and line style) per variant."""
        conditions = [
            plt.Line2D([], [], color=self.colours[c], marker="o", linestyle="-" if lines else "", label=c)
            for c in self.conditions
        ]
        variants = [
            plt.Line2D([], [], color="0.35", marker=self.marker(v), linestyle=self.line(v) if lines else "", label=v)
            for v in self.variants
        ]
        return conditions + variants


def legend_below(fig: plt.Figure, handles: list, max_columns: int = 5) -> None:
    """The figure's one legend, below its panels where it covers no data: the given entries,
    then every labelled reference line of the panels (each label once)."""
    entries = {handle.get_label(): handle for handle in handles}
    for ax in fig.axes:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            entries.setdefault(label, handle)
    if entries:  # a figure without data (no member pairs) has none
        fig.legend(list(entries.values()), list(entries), loc="outside lower center",
                   ncol=min(len(entries), max_columns))


def _errorbars(ax, table: pd.DataFrame, x: str, order: list, encoding: Encoding, dodge: str | None = None,
               dodge_order: list = (), tick_labels: list | None = None):
    """Point estimates with their bootstrap intervals at categorical positions ``order`` of
    column ``x``, dodged by column ``dodge``; colour the row's condition, marker its variant."""
    slots = list(dodge_order) if dodge else [None]
    width = 0.8 / max(1, len(slots))
    for row in table.to_dict("records"):
        if row[x] not in order or (dodge and row[dodge] not in slots):
            continue
        position = order.index(row[x]) + (width * (slots.index(row[dodge]) + 0.5) - 0.4 if dodge else 0.0)
        colour = encoding.colours[row["condition"]]
        ax.vlines(position, row["low"], row["high"], color=colour)
        # Above the reference lines drawn later, which an estimate may sit on.
        ax.plot(position, row["estimate"], marker=encoding.marker(row["variant"]), linestyle="", color=colour, zorder=3)
    ax.set_xticks(np.arange(len(order)), order if tick_labels is None else tick_labels)
    ax.set_xlim(-0.5, max(len(order), 1) - 0.5)  # an empty panel (no member pairs) keeps a range


def _lines(ax, table: pd.DataFrame, x: str, encoding: Encoding) -> None:
    """One line with its interval band per condition x variant over the numeric column ``x``."""
    for (condition, variant), part in table.groupby(["condition", "variant"], sort=False):
        part = part.sort_values(x)
        colour = encoding.colours[condition]
        ax.plot(part[x], part["estimate"], linestyle=encoding.line(variant), marker=encoding.marker(variant),
                color=colour)
        ax.fill_between(part[x].astype(float), part["low"].astype(float), part["high"].astype(float), color=colour,
                        alpha=0.2, linewidth=0)


def with_variant(table: pd.DataFrame) -> pd.DataFrame:
    """Add the ``variant`` column figures facet by: "architecture objective" (an ensemble is
    condition x variant)."""
    return table.assign(variant=table["architecture"] + " " + table["objective"])


def _references(ax, references: pd.DataFrame, conditions: list[str], column: str, style: dict, label: str):
    """A short horizontal line per condition at its reference value (x = condition index)."""
    for index, condition in enumerate(conditions):
        value = references.loc[references["condition"] == condition, column]
        if len(value):
            ax.hlines(float(value.iloc[0]), index - 0.45, index + 0.45, label=label if index == 0 else None, **style)


def plot_entropy(
    summary: pd.DataFrame,
    ranks: pd.DataFrame,
    data_entropy: pd.DataFrame,
    study_conditions: Sequence[str] | None = None,
) -> plt.Figure:
    """What the models learned, against the data's own entropy: cross-entropy at the hidden
    positions beside the unigram entropy, Markov references and log2 V; bits gained over
    the unigram (per token and per character); entropy and KL from uniform of the
    predictions; the rank curve."""
    summary, ranks = with_variant(summary), with_variant(ranks)
    encoding = Encoding(summary, study_conditions)
    conditions, variants = encoding.conditions, encoding.variants
    reference = summary[summary["metric"] == "unigram_cross_entropy_bits"].drop_duplicates("condition")
    fig, axes = plt.subplots(2, 3, figsize=(DOUBLE_COLUMN, 4.8), constrained_layout=True)
    panels = (
        (axes[0, 0], "cross_entropy_bits", "Cross-entropy at hidden positions", "bits per token"),
        (axes[0, 1], "bits_beyond_unigram", "Beyond the unigram, per token", "bits per token"),
        (axes[0, 2], "bits_beyond_unigram_per_character", "Beyond the unigram, per character", "bits per character"),
        (axes[1, 0], "entropy_bits", "Entropy of predictions", "bits per token"),
        (axes[1, 1], "kl_from_uniform_bits", "KL from uniform", "bits per token"),
    )
    for ax, metric, title, unit in panels:
        _errorbars(ax, summary[summary["metric"] == metric], "condition", conditions, encoding, "variant", variants)
        ax.set(title=title, ylabel=unit, xlabel="")
        ax.tick_params(axis="x", labelrotation=15)
    for ax in (axes[0, 1], axes[0, 2]):
        ax.axhline(0.0, color="0.2", linewidth=0.8)  # 0: the training unigram's own cross-entropy
    for ax in (axes[0, 0], axes[1, 0]):
        _references(ax, reference, conditions, "estimate", {"colors": "0.2", "linestyles": "-"}, "training unigram")
        markov = data_entropy[data_entropy["model"] == "markov"]
        orders = sorted(markov["order"].astype(int).unique())
        for order in orders[1:]:
            shade = 0.35 + 0.45 * (order - orders[1]) / max(1, orders[-1] - orders[1])
            _references(
                ax, markov[markov["order"] == order], conditions, "bits_per_token",
                {"colors": str(shade), "linestyles": ":"}, f"Markov order {orders[1]}..{orders[-1]}" if order == orders[1] else None,
            )
        _references(ax, data_entropy, conditions, "log2_vocab", {"colors": "0.6", "linestyles": "--"}, "log2 V")
    # The corpus's entropy rate (mixed-order model), per token of each condition.
    _references(axes[0, 0], data_entropy[data_entropy["model"] == "mixture"], conditions, "bits_per_token",
                {"colors": "tab:red", "linestyles": "-."}, "entropy rate (mixed orders)")
    # KL(p || uniform) = log2 V - H(p): the training unigram's is log2 V - H(unigram).
    unigram_kl = data_entropy.drop_duplicates("condition").merge(
        summary[summary["metric"] == "unigram_entropy_bits"].drop_duplicates("condition")[["condition", "estimate"]],
        on="condition",
    )
    unigram_kl = unigram_kl.assign(kl=unigram_kl["log2_vocab"] - unigram_kl["estimate"])
    _references(axes[1, 1], unigram_kl, conditions, "kl", {"colors": "0.2", "linestyles": "-"}, "training unigram")
    axes[1, 1].axhline(0.0, color="0.6", linewidth=0.6)  # 0: uniform predictions
    for (condition, variant), part in ranks.groupby(["condition", "variant"], sort=False):
        axes[1, 2].plot(part["rank"], part["mean_probability"], color=encoding.colours[condition],
                        linestyle=encoding.line(variant))
    axes[1, 2].set(xscale="log", yscale="log", xlabel="rank", ylabel="mean probability", title="Sorted probability vs rank")
    legend_below(fig, encoding.handles(lines=True))
    return fig


JS_DISTANCE_LABEL = "JS distance between members\n(square root of JS divergence in bits; 0 to 1)"


NO_PAIRS = "no member pairs:\nevery ensemble here has one member"


def _note_no_pairs(ax) -> None:
    """Say why a panel of pair metrics is empty (a study of single models has no pair rows)."""
    ax.text(0.5, 0.5, NO_PAIRS, ha="center", va="center", transform=ax.transAxes, color="0.35")


def plot_js_distance(js: pd.DataFrame, study_conditions: Sequence[str] | None = None) -> plt.Figure:
    """Pairwise Jensen-Shannon distance between members vs top-p truncation. The distance is
    the square root of the divergence in bits: no unit, between 0 and 1. Without pair rows
    (single models only), one empty panel that says so."""
    js = with_variant(js)
    encoding = Encoding(js, study_conditions)
    variants = encoding.variants or [""]
    fig, axes = plt.subplots(1, len(variants), figsize=_width(len(variants), 2.6), squeeze=False,
                             constrained_layout=True)
    for ax, variant in zip(axes[0], variants):
        _lines(ax, js[js["variant"] == variant], "top_p", encoding)
        ax.set(xlabel="top-p (nucleus mass kept)", ylabel=JS_DISTANCE_LABEL, title=variant, ylim=(0, 1))
    if js.empty:
        _note_no_pairs(axes[0][0])
    legend_below(fig, encoding.handles(lines=True))
    return fig


def plot_embeddings(summary: pd.DataFrame, study_conditions: Sequence[str] | None = None) -> plt.Figure:
    """Static-embedding stability: top-k overlap and local Spearman vs k, Procrustes, CKA
    (linear and RBF), all between members (single models have no rows: the panels say so)."""
    summary = with_variant(summary)
    encoding = Encoding(summary, study_conditions)
    conditions, variants = encoding.conditions, encoding.variants
    ensembles = list(dict.fromkeys(zip(summary["condition"], summary["variant"])))
    summary = summary.assign(ensemble=list(zip(summary["condition"], summary["variant"])))
    fig, grid = plt.subplots(2, 2, figsize=(DOUBLE_COLUMN, 4.6), constrained_layout=True)
    axes = grid.flat
    overlap = summary[summary["metric"] == "topk_overlap"]
    _lines(axes[0], overlap, "k", encoding)
    for index, (condition, part) in enumerate(overlap.drop_duplicates(["condition", "k"]).groupby("condition", sort=False)):
        part = part.sort_values("k")
        axes[0].plot(part["k"], part["chance"], ":", color=encoding.colours[condition], linewidth=0.8,
                     label="chance (random neighbours)" if index == 0 else None)
    axes[0].set(xscale="log", xlabel="k (neighbours)", ylabel="Jaccard overlap", title="Top-k neighbour overlap",
                ylim=(0, 1))
    spearman = summary[summary["metric"] == "local_spearman"]
    ks = sorted(spearman["k"].unique())
    if len(ks) > 1:
        _lines(axes[1], spearman, "k", encoding)
        axes[1].set(xscale="log")
    else:  # one k: the ensembles side by side at it, not a line on a log axis
        _errorbars(axes[1], spearman, "k", ks, encoding, "ensemble", ensembles, [f"{int(k)}" for k in ks])
    axes[1].set(xlabel="k (neighbours)", ylabel="Spearman's rho", title="Local Spearman of neighbour similarities")
    _errorbars(axes[2], summary[summary["metric"] == "procrustes_disparity"], "condition", conditions, encoding,
               "variant", variants)
    axes[2].set(title="Procrustes disparity", ylabel="disparity (0: same up to rotation)", xlabel="")
    kernels = {"linear_cka": "linear", "rbf_cka": "RBF"}
    cka = summary[summary["metric"].isin(list(kernels))]
    # The kernel on the x axis, so that colour stays the condition as in the other panels.
    _errorbars(axes[3], cka, "metric", list(kernels), encoding, "ensemble", ensembles, list(kernels.values()))
    axes[3].set(title="CKA, linear and RBF kernels", ylabel="CKA (1: same up to rotation, scale)", xlabel="kernel")
    axes[2].tick_params(axis="x", labelrotation=15)
    # The chance lines are dotted in each condition's colour: one grey dotted entry stands for them.
    if summary.empty:
        for ax in axes:
            _note_no_pairs(ax)
    chance = plt.Line2D([], [], color="0.35", linestyle=":", linewidth=0.8, label="chance (random neighbours)")
    legend_below(fig, [*encoding.handles(lines=True), chance])
    return fig


CONTEXTUAL_PANELS = (  # metric, title, y label (seqens.contextual defines each)
    ("effective_rank", "Effective rank", "effective rank (dimensions)"),
    ("uniformity", "Uniformity", "log mean exp(-2 d^2)\n(lower: more uniform)"),
    ("anisotropy", "Anisotropy", "norm of the mean unit vector"),
    ("average_cosine", "Average cosine", "cosine similarity"),
    ("pairwise_distance_sd", "Spread of distances", "sd of pairwise distances"),
    ("neighbour_alignment", "Neighbour alignment (k = 10)", "shared neighbours (share)"),
    ("l2_alignment", "L2 alignment (coordinates)", "mean squared distance (unit vectors)"),
    ("linear_cka", "Linear CKA", "CKA (1: same up to rotation, scale)"),
)


def plot_contextual(summary: pd.DataFrame, study_conditions: Sequence[str] | None = None) -> plt.Figure:
    """Contextual embeddings (mean-pooled hidden states of the evaluation sequences): the
    participation ratio at every layer, then the last layer's geometry per member and the
    agreement between members."""
    summary = with_variant(summary)
    encoding = Encoding(summary, study_conditions)
    fig, grid = plt.subplots(3, 3, figsize=(DOUBLE_COLUMN, 6.4), constrained_layout=True)
    axes = grid.flat
    ratio = summary[summary["metric"] == "participation_ratio"]
    _lines(axes[0], ratio, "order", encoding)
    layers = ratio.drop_duplicates("order").sort_values("order")
    axes[0].set_xticks(layers["order"], layers["layer"], rotation=45)
    axes[0].set(title="Participation ratio by layer", ylabel="participation ratio (dimensions)",
                xlabel="layer (input to output)", ylim=(0, None))
    for ax, (metric, title, label) in zip(axes[1:], CONTEXTUAL_PANELS):
        _errorbars(ax, summary[summary["metric"] == metric], "condition", encoding.conditions, encoding, "variant",
                   encoding.variants)
        ax.set(title=title, ylabel=label, xlabel="")
        ax.tick_params(axis="x", labelrotation=15)
    legend_below(fig, encoding.handles(lines=True))
    return fig


def plot_fisher(summary: pd.DataFrame, study_conditions: Sequence[str] | None = None) -> plt.Figure:
    """Share of empirical Fisher information per layer group, per condition."""
    summary = with_variant(summary)
    encoding = Encoding(summary, study_conditions)
    fig, axes = plt.subplots(1, len(encoding.variants), figsize=_width(len(encoding.variants), 2.8), squeeze=False,
                             constrained_layout=True)
    for ax, variant in zip(axes[0], encoding.variants):
        part = summary[summary["variant"] == variant]
        groups = list(part.sort_values("order")["group"].drop_duplicates())
        present = [c for c in encoding.conditions if c in set(part["condition"])]
        _errorbars(ax, part, "group", groups, encoding, "condition", present)
        # Log scale: the layers' shares (often ~0.001) stay visible beside the embeddings'.
        ax.set(ylabel="share of Fisher information", title=variant, yscale="log", xlabel="layer group (input to output)")
        ax.tick_params(axis="x", labelrotation=45)
    legend_below(fig, encoding.handles())
    return fig


PROBE_REFERENCES = {  # metric of the summary -> legend label, style of its reference mark
    "baseline_accuracy": ("count baseline", {"colors": "0.2", "linestyles": "--"}),
    "random_init_accuracy": ("untrained members", {"colors": "0.45", "linestyles": ":"}),
    "majority_accuracy": ("majority class", {"colors": "0.65", "linestyles": "-."}),
}
# Within an ensemble's slot: the members' accuracy, then each reference beside it (the
# positions _errorbars gives four dodged marks).
PROBE_OFFSETS = dict(zip(["accuracy", *PROBE_REFERENCES], (-0.3, -0.1, 0.1, 0.3)))


def baseline_name(baseline: str) -> str:
    """The count baseline's name for a reader: kmer4_counts -> 4-mer counts, bag_of_tokens
    -> bag of tokens."""
    if baseline.startswith("kmer") and baseline.endswith("_counts"):
        return f"{baseline[len('kmer'):-len('_counts')]}-mer counts"
    return baseline.replace("_", " ")


def plot_probes(summary: pd.DataFrame, study_conditions: Sequence[str] | None = None) -> plt.Figure:
    """Probe accuracy per ensemble (its members' mean, with its interval), one panel per
    probe and layer; beside it the baselines, each with its interval: the count baseline
    (k-mers or tokens, named in the panel's title), the same members untrained, and the
    majority class."""
    summary = with_variant(summary)
    encoding = Encoding(summary, study_conditions)
    summary = summary.assign(ensemble=summary["condition"] + "\n" + summary["variant"])
    panels = list(dict.fromkeys(zip(summary["probe"], summary["layer"])))
    fig, axes = plt.subplots(1, len(panels), figsize=_width(len(panels), 2.6), squeeze=False, constrained_layout=True)
    for ax, (probe, layer) in zip(axes[0], panels):
        part = summary[(summary["probe"] == probe) & (summary["layer"] == layer)]
        ensembles = list(dict.fromkeys(part["ensemble"]))
        scores = part[part["metric"] == "accuracy"]
        _errorbars(ax, scores.assign(mark="accuracy"), "ensemble", ensembles, encoding, "mark", list(PROBE_OFFSETS))
        for metric, (label, style) in PROBE_REFERENCES.items():
            # Each reference as a short line at its estimate with its interval, beside the members.
            for index, row in enumerate(part[part["metric"] == metric].to_dict("records")):
                x = ensembles.index(row["ensemble"]) + PROBE_OFFSETS[metric]
                ax.hlines(row["estimate"], x - 0.08, x + 0.08, linewidth=1.5, label=label if index == 0 else None,
                          **style)
                ax.vlines(x, row["low"], row["high"], colors=style["colors"])
        baselines = ", ".join(baseline_name(b) for b in dict.fromkeys(part["baseline"].dropna()))
        ax.set(title=f"probe {probe} ({layer}); count baseline: {baselines}", ylabel="test accuracy",
               xlabel="ensemble", ylim=(0, 1))
    legend_below(fig, encoding.handles(), max_columns=4)
    return fig


REGION_PANELS = (  # metric of the regions summary, title, unit
    ("bits_beyond_unigram_per_character", "Beyond the unigram, per base", "bits per base"),
    ("cross_entropy_bits_per_character", "Cross-entropy at hidden positions, per base", "bits per base"),
    ("entropy_bits", "Entropy of predictions", "bits per token"),
    ("js_distance", "Disagreement between members", "JS distance (0 to 1)"),
)


def plot_regions(summary: pd.DataFrame, study_conditions: Sequence[str] | None = None) -> plt.Figure:
    """The DNA ensembles' output metrics per region class of their evaluation positions
    (gene structure, then repeat vs unique), one mark per ensemble with its interval; the
    training unigram's cross-entropy per base of each class as a short line at each mark;
    under each class, its positions, one line per condition in the legend's order."""
    summary = with_variant(summary)
    encoding = Encoding(summary, study_conditions)
    summary = summary.assign(ensemble=summary["condition"] + " " + summary["variant"])
    ensembles = list(dict.fromkeys(summary["ensemble"]))
    classes = list(dict.fromkeys(summary["class"]))
    # Under each class its positions per condition, in the legend's order.
    counts = summary.drop_duplicates(["condition", "class"]).set_index(["class", "condition"])["positions"]
    ticks = ["\n".join([name, *(f"{counts.get((name, c), 0):,}" for c in encoding.conditions)]) for name in classes]
    fig, axes = plt.subplots(2, 2, figsize=(DOUBLE_COLUMN, 4.6), sharex=True, constrained_layout=True)
    width = 0.8 / len(ensembles)
    for ax, (metric, title, unit) in zip(axes.flat, REGION_PANELS):
        _errorbars(ax, summary[summary["metric"] == metric], "class", classes, encoding, "ensemble", ensembles, ticks)
        ax.set(title=title, ylabel=unit, xlabel="")
        if summary["axis"].nunique() > 1:  # gene structure | repeat split
            ax.axvline(sum(summary.drop_duplicates("class")["axis"] == "region") - 0.5, color="0.6", linewidth=0.6)
    axes[0, 0].axhline(0.0, color="0.2", linewidth=0.8)  # 0: the training unigram's own cross-entropy
    unigram = summary[summary["metric"] == "unigram_cross_entropy_bits_per_character"]
    for index, row in enumerate(unigram.to_dict("records")):
        x = classes.index(row["class"]) + width * (ensembles.index(row["ensemble"]) + 0.5) - 0.4
        axes[0, 1].hlines(row["estimate"], x - width / 2, x + width / 2, colors="0.2",
                          label="training unigram" if index == 0 else None)
    legend_below(fig, encoding.handles())
    return fig



# The references of "beyond k-mer statistics", per base or character of the same positions:
# metric of the summaries (or the data's entropy rate) -> legend label, style of its short line.
# The unigram's line is wide and light, so the count model's, often on it for DNA, shows on top.
BEYOND_COUNTS_REFERENCES = {
    "unigram_cross_entropy_bits_per_character": (
        "training unigram", {"colors": "0.65", "linestyles": "-", "linewidths": 2.4}
    ),
    "count_cross_entropy_bits_per_character": (
        "best count model (k visible tokens each side)", {"colors": "0.1", "linestyles": "--"}
    ),
    "entropy_rate": ("entropy rate (mixed orders)", {"colors": "tab:red", "linestyles": "-."}),
}
CHARACTER_UNITS = {"dna": "base", "text": "character"}


def _slot_lines(ax, rows: pd.DataFrame, x: str, order: list, dodge_order: list | None, label: str, style: dict):
    """A short line at each row's estimate, in the slot where ``_errorbars`` puts the row's
    mark (``x`` among ``order``; with ``dodge_order``, dodged by the row's ensemble)."""
    width = 0.8 / len(dodge_order) if dodge_order else 0.8
    for index, row in enumerate(rows.to_dict("records")):
        centre = order.index(row[x]) + (width * (dodge_order.index(row["ensemble"]) + 0.5) - 0.4 if dodge_order else 0.0)
        ax.hlines(row["estimate"], centre - width * 0.45, centre + width * 0.45, label=label if index == 0 else None,
                  **style)


def plot_beyond_counts(
    summary: pd.DataFrame,
    data_entropy: pd.DataFrame,
    regions: pd.DataFrame | None = None,
    study_conditions: Sequence[str] | None = None,
) -> plt.Figure:
    """Does a member know more than k-mer statistics? Per ensemble, the members' bits per base
    (DNA) or character (text) at their hidden positions, with their interval, against three
    references at the same positions: the training unigram, the best two-sided count model
    (seqens.counts) and the corpus's entropy rate (data_entropy's ``mixture``); beside it the
    members' bits beyond the best count model (0: no more than the counts). With ``regions``
    (the annotated DNA ensembles' summary by region class), the same two panels per class."""
    summary = with_variant(summary)
    encoding = Encoding(summary, study_conditions)
    summary = summary.assign(ensemble=summary["condition"] + " " + summary["variant"])
    ensembles = list(dict.fromkeys(summary["ensemble"]))
    kinds = set(summary["kind"])
    unit = "bits per base (DNA) or character (text)" if len(kinds) > 1 else f"bits per {CHARACTER_UNITS[kinds.pop()]}"
    by_region = regions is not None and len(regions) > 0
    fig, axes = plt.subplots(2 if by_region else 1, 2, figsize=(DOUBLE_COLUMN, 4.8 if by_region else 2.6),
                             squeeze=False, constrained_layout=True)
    ticks = [e.replace(" ", "\n", 1) for e in ensembles]  # condition over variant

    def levels(ax, table, x, order, dodge_order=None, tick_labels=None):
        members = table[table["metric"] == "cross_entropy_bits_per_character"]
        _errorbars(ax, members, x, order, encoding, "ensemble" if dodge_order else None, dodge_order or (), tick_labels)
        for metric, (label, style) in BEYOND_COUNTS_REFERENCES.items():
            _slot_lines(ax, table[table["metric"] == metric], x, order, dodge_order, label, style)

    def beyond(ax, table, x, order, dodge_order=None, tick_labels=None):
        rows = table[table["metric"] == "bits_beyond_counts_per_character"]
        _errorbars(ax, rows, x, order, encoding, "ensemble" if dodge_order else None, dodge_order or (), tick_labels)
        ax.axhline(0.0, color="0.2", linewidth=0.8)  # 0: the best count model's own bits

    # The entropy rate is the corpus's, per base or character: a short line at each of its ensembles.
    rate = data_entropy[data_entropy["model"] == "mixture"].rename(columns={"bits_per_character": "estimate"})
    rate = summary.drop_duplicates("ensemble")[["condition", "ensemble"]].merge(
        rate[["condition", "estimate"]], on="condition").assign(metric="entropy_rate")
    levels(axes[0, 0], pd.concat([summary, rate]), "ensemble", ensembles, tick_labels=ticks)
    axes[0, 0].set(title="Bits at hidden positions", ylabel=unit, xlabel="")
    beyond(axes[0, 1], summary, "ensemble", ensembles, tick_labels=ticks)
    axes[0, 1].set(title="Beyond the best count model", ylabel=unit, xlabel="")
    if by_region:
        regions = with_variant(regions)
        regions = regions.assign(ensemble=regions["condition"] + " " + regions["variant"])
        classes, annotated = list(dict.fromkeys(regions["class"])), list(dict.fromkeys(regions["ensemble"]))
        levels(axes[1, 0], regions, "class", classes, annotated)
        axes[1, 0].set(title="Bits at hidden positions, by region", ylabel="bits per base", xlabel="")
        beyond(axes[1, 1], regions, "class", classes, annotated)
        axes[1, 1].set(title="Beyond the best count model, by region", ylabel="bits per base", xlabel="")
        if regions["axis"].nunique() > 1:  # gene structure | repeat split
            split = sum(regions.drop_duplicates("class")["axis"] == "region") - 0.5
            for ax in axes[1]:
                ax.axvline(split, color="0.6", linewidth=0.6)
    for ax in axes.flat:
        ax.tick_params(axis="x", labelsize=6)
    legend_below(fig, encoding.handles(), max_columns=4)
    return fig


def plot_loss_curves(logs: pd.DataFrame) -> plt.Figure:
    """Training and held-out loss of every member, one panel per condition x variant."""
    logs = with_variant(logs)
    panels = list(dict.fromkeys(zip(logs["condition"], logs["variant"])))
    cols = min(3, len(panels))
    rows = int(np.ceil(len(panels) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(DOUBLE_COLUMN if cols > 1 else SINGLE_COLUMN, 2.1 * rows),
                             squeeze=False, constrained_layout=True)
    seeds = sorted(logs["seed"].unique())
    # Seeds in a sequential palette: the qualitative one means the condition in the other figures.
    colours = dict(zip(seeds, sns.color_palette("rocket", n_colors=len(seeds))))
    for ax, (condition, variant) in zip(axes.flat, panels):
        part = logs[(logs["condition"] == condition) & (logs["variant"] == variant)]
        for seed, member in part.groupby("seed"):
            ax.plot(member["step"], member["train_loss"] / np.log(2), color=colours[seed], alpha=0.7)
            evaluated = member.dropna(subset=["eval_loss"])
            ax.plot(evaluated["step"], evaluated["eval_loss"] / np.log(2), "o--", color=colours[seed], markersize=2.5)
        ax.set(title=f"{condition} ({variant})", xlabel="step", ylabel="loss (bits per token)")
    for ax in list(axes.flat)[len(panels) :]:
        ax.set_visible(False)
    # One legend for the figure, outside the data: colour is the seed, style train or held out.
    handles = [plt.Line2D([], [], color=colours[s], label=f"seed {s}") for s in seeds] + [
        plt.Line2D([], [], color="0.3", label="train (mean since last log)"),
        plt.Line2D([], [], color="0.3", linestyle="--", marker="o", markersize=2.5, label="held out"),
    ]
    legend_below(fig, handles, max_columns=len(handles))
    return fig


def plot_fisher_training(log: pd.DataFrame) -> plt.Figure:
    """Share of Fisher information per layer group over training, one panel per ensemble, a
    row of panels per metric definition (``definition``: corrected, by layer; paper, the
    paper's callback in its three groups, every layer as ``encoder``): the seeds' mean, and
    their range as a band."""
    log = with_variant(log)
    definitions = list(dict.fromkeys(log["definition"]))
    ensembles = list(dict.fromkeys(zip(log["condition"], log["variant"])))
    cols = min(3, len(ensembles))
    rows_per_definition = int(np.ceil(len(ensembles) / cols))
    rows = rows_per_definition * len(definitions)
    fig, axes = plt.subplots(rows, cols, figsize=(DOUBLE_COLUMN if cols > 1 else SINGLE_COLUMN, 2.1 * rows),
                             squeeze=False, sharey=True, constrained_layout=True)
    # Input to output, light to dark: a group's place in its definition's order (``encoder``,
    # every layer, between the embeddings and the head), the same colour in every panel.
    depth = log["order"] / log.groupby("definition")["order"].transform("max")
    groups = list(log.assign(depth=depth).sort_values("depth", kind="stable")["group"].drop_duplicates())
    colours = dict(zip(groups, sns.color_palette("viridis", n_colors=len(groups))))
    for d, definition in enumerate(definitions):
        place = axes[d * rows_per_definition : (d + 1) * rows_per_definition].flat
        for index, ax in enumerate(place):
            if index >= len(ensembles):
                ax.set_visible(False)
                continue
            condition, variant = ensembles[index]
            part = log[(log["definition"] == definition) & (log["condition"] == condition) & (log["variant"] == variant)]
            for group, rows_of_group in part.groupby("group", sort=False):
                by_step = rows_of_group.groupby("step")["fisher_fraction"]
                steps = by_step.mean().index
                ax.fill_between(steps, by_step.min(), by_step.max(), color=colours[group], alpha=0.25, linewidth=0)
                ax.plot(steps, by_step.mean(), color=colours[group], marker="o", markersize=2)
            ax.set(title=f"{condition} ({variant}), {definition}", xlabel="step", ylabel="share of Fisher information",
                   yscale="log")
    handles = [plt.Line2D([], [], color=colours[g], marker="o", markersize=2, label=g) for g in groups]
    legend_below(fig, handles, max_columns=6)
    return fig


def _width(panels: int, height: float) -> tuple[float, float]:
    """One column for a single panel, two columns for more."""
    return (SINGLE_COLUMN if panels == 1 else DOUBLE_COLUMN, height)


def save(fig: plt.Figure, pdf_path: str | Path, png_path: str | Path | None = None) -> None:
    """Write the figure atomically as PDF (and PNG for the report)."""
    with atomic_path(pdf_path) as tmp:
        fig.savefig(tmp, format="pdf", bbox_inches="tight")
    if png_path is not None:
        with atomic_path(png_path) as tmp:
            fig.savefig(tmp, format="png", dpi=150, bbox_inches="tight")
    plt.close(fig)
