"""Figures of the study (seaborn), built from the tidy tables in results/tables/.

Each function returns a matplotlib Figure at a journal width (one column 3.5 in, two columns
7 in) with 6-8 pt text, every quantity in bits, every axis labelled with its unit, and the
reference each number is read against (the unigram, log2 V, chance overlap). ``save``
writes it as PDF (fonts embedded, for papers) and PNG (for the HTML report)."""

from __future__ import annotations

import logging
from pathlib import Path

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


def _condition_palette(conditions: list[str]) -> dict[str, tuple]:
    colours = sns.color_palette("colorblind", n_colors=max(3, len(conditions)))
    return dict(zip(conditions, colours))


def _errorbars(ax, table: pd.DataFrame, x: str, hue: str, palette: dict, order: list, hue_order: list):
    """Point estimates with their bootstrap intervals, dodged by hue. An interval is drawn as
    it is, also where it does not hold the estimate (a set statistic that resampling biases,
    such as an effective rank)."""
    width = 0.8 / max(1, len(hue_order))
    for h_index, h in enumerate(hue_order):
        part = table[table[hue] == h].set_index(x).reindex(order)
        xs = np.arange(len(order)) - 0.4 + width * (h_index + 0.5)
        ax.vlines(xs, part["low"], part["high"], color=palette[h])
        ax.plot(xs, part["estimate"], "o", color=palette[h], label=h)
    ax.set_xticks(np.arange(len(order)), order)


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


def plot_entropy(summary: pd.DataFrame, ranks: pd.DataFrame, data_entropy: pd.DataFrame) -> plt.Figure:
    """What the models learned, against the data's own entropy: cross-entropy at the hidden
    positions beside the unigram entropy, Markov references and log2 V; bits gained over
    the unigram (per token and per character); entropy and KL from uniform of the
    predictions; the rank curve."""
    summary, ranks = with_variant(summary), with_variant(ranks)
    conditions = list(dict.fromkeys(summary["condition"]))
    variants = list(dict.fromkeys(summary["variant"]))
    palette = _condition_palette(variants)
    reference = summary[summary["metric"] == "unigram_cross_entropy_bits"].drop_duplicates("condition")
    fig, axes = plt.subplots(2, 3, figsize=(DOUBLE_COLUMN, 4.8), constrained_layout=True)
    panels = (
        (axes[0, 0], "cross_entropy_bits", "Cross-entropy at hidden positions", "bits per token"),
        (axes[0, 1], "bits_beyond_unigram", "Learned beyond the unigram, per token", "bits per token"),
        (axes[0, 2], "bits_beyond_unigram_per_character", "Learned beyond the unigram, per character", "bits per character"),
        (axes[1, 0], "entropy_bits", "Entropy of predictions", "bits per token"),
        (axes[1, 1], "kl_from_uniform_bits", "KL from uniform", "bits per token"),
    )
    for ax, metric, title, unit in panels:
        _errorbars(ax, summary[summary["metric"] == metric], "condition", "variant", palette, conditions, variants)
        ax.set(title=title, ylabel=unit, xlabel="")
        ax.tick_params(axis="x", labelrotation=15)
    for ax in (axes[0, 1], axes[0, 2]):
        ax.axhline(0.0, color="0.2", linewidth=0.8, label="the unigram")
    for ax in (axes[0, 0], axes[1, 0]):
        _references(ax, reference, conditions, "estimate", {"colors": "0.2", "linestyles": "-"}, "training unigram")
        orders = sorted(data_entropy["order"].unique())
        for order in orders[1:]:
            shade = 0.35 + 0.45 * (order - orders[1]) / max(1, orders[-1] - orders[1])
            _references(
                ax, data_entropy[data_entropy["order"] == order], conditions, "bits_per_token",
                {"colors": str(shade), "linestyles": ":"}, f"Markov order {orders[1]}..{orders[-1]}" if order == orders[1] else None,
            )
        _references(ax, data_entropy, conditions, "log2_vocab", {"colors": "0.6", "linestyles": "--"}, "log2 V")
    # KL(p || uniform) = log2 V - H(p): the unigram predictor's is log2 V - H(unigram).
    unigram_kl = data_entropy.drop_duplicates("condition").merge(
        summary[summary["metric"] == "unigram_entropy_bits"].drop_duplicates("condition")[["condition", "estimate"]],
        on="condition",
    )
    unigram_kl = unigram_kl.assign(kl=unigram_kl["log2_vocab"] - unigram_kl["estimate"])
    _references(axes[1, 1], unigram_kl, conditions, "kl", {"colors": "0.2", "linestyles": "-"}, "unigram predictor")
    axes[1, 1].axhline(0.0, color="0.6", linewidth=0.6)  # 0: uniform predictions
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=len(labels))
    condition_palette = _condition_palette(conditions)
    styles = ["-", "--", ":", "-."]
    for (condition, variant), part in ranks.groupby(["condition", "variant"], sort=False):
        axes[1, 2].plot(
            part["rank"], part["mean_probability"], color=condition_palette[condition],
            linestyle=styles[variants.index(variant) % len(styles)], label=f"{condition} ({variant})",
        )
    axes[1, 2].set(xscale="log", yscale="log", xlabel="rank", ylabel="mean probability", title="Sorted probability vs rank")
    axes[1, 2].legend(fontsize=5.5)
    return fig


def plot_js_distance(js: pd.DataFrame) -> plt.Figure:
    """Pairwise Jensen-Shannon distance between members vs top-p truncation."""
    js = with_variant(js)
    variants = list(dict.fromkeys(js["variant"]))
    conditions = list(dict.fromkeys(js["condition"]))
    palette = _condition_palette(conditions)
    fig, axes = plt.subplots(1, len(variants), figsize=_width(len(variants), 2.6), squeeze=False,
                             constrained_layout=True)
    for ax, variant in zip(axes[0], variants):
        for condition in conditions:
            part = js[(js["variant"] == variant) & (js["condition"] == condition)].sort_values("top_p")
            if part.empty:
                continue
            ax.plot(part["top_p"], part["estimate"], marker="o", color=palette[condition], label=condition)
            ax.fill_between(part["top_p"], part["low"], part["high"], color=palette[condition], alpha=0.2)
        ax.set(xlabel="top-p (nucleus mass kept)", ylabel="JS distance between members (bits)", title=variant,
               ylim=(0, 1))
        ax.legend()
    return fig


def _against_k(ax, table: pd.DataFrame, palette: dict, variants: list) -> None:
    """One line with its interval band per condition x variant, over the neighbourhood size k."""
    for (condition, variant), part in table.groupby(["condition", "variant"], sort=False):
        part = part.sort_values("k")
        style = "-" if variant == variants[0] else "--"
        ax.plot(part["k"], part["estimate"], style, marker="o", color=palette[condition],
                label=f"{condition} ({variant})")
        ax.fill_between(part["k"].astype(float), part["low"], part["high"], color=palette[condition], alpha=0.2)


def plot_embeddings(summary: pd.DataFrame) -> plt.Figure:
    """Static-embedding stability: top-k overlap and local Spearman vs k, Procrustes, CKA
    (linear and RBF)."""
    summary = with_variant(summary)
    variants = list(dict.fromkeys(summary["variant"]))
    conditions = list(dict.fromkeys(summary["condition"]))
    palette = _condition_palette(conditions)
    fig, grid = plt.subplots(2, 2, figsize=(DOUBLE_COLUMN, 4.6), constrained_layout=True)
    axes = grid.flat
    overlap = summary[summary["metric"] == "topk_overlap"]
    _against_k(axes[0], overlap, palette, variants)
    for index, (condition, part) in enumerate(overlap.drop_duplicates(["condition", "k"]).groupby("condition", sort=False)):
        part = part.sort_values("k")
        axes[0].plot(part["k"], part["chance"], ":", color=palette[condition], linewidth=0.8,
                     label="chance (random neighbours)" if index == 0 else None)
    axes[0].set(xscale="log", xlabel="k (neighbours)", ylabel="Jaccard overlap", title="Top-k neighbour overlap",
                ylim=(0, 1))
    axes[0].legend(fontsize=5.5)
    _against_k(axes[1], summary[summary["metric"] == "local_spearman"], palette, variants)
    axes[1].set(xscale="log", xlabel="k (neighbours)", ylabel="Spearman's rho",
                title="Local Spearman of neighbour similarities")
    variant_palette = _condition_palette(variants)
    _errorbars(axes[2], summary[summary["metric"] == "procrustes_disparity"], "condition", "variant",
               variant_palette, conditions, variants)
    axes[2].set(title="Procrustes disparity", ylabel="disparity (0: same up to rotation)", xlabel="")
    kernels = {"linear_cka": "linear", "rbf_cka": "RBF"}
    cka = summary[summary["metric"].isin(list(kernels))]
    cka = cka.assign(series=cka["metric"].map(kernels) + " " + cka["variant"])
    series = list(dict.fromkeys(cka["series"]))
    _errorbars(axes[3], cka, "condition", "series", _condition_palette(series), conditions, series)
    axes[3].set(title="CKA, linear and RBF kernels", ylabel="CKA (1: same up to rotation, scale)", xlabel="")
    axes[3].legend(title="kernel, architecture objective")
    for ax in axes[2:]:
        ax.tick_params(axis="x", labelrotation=15)
    return fig


CONTEXTUAL_PANELS = (  # metric, title, y label (seqens.contextual defines each)
    ("effective_rank", "Effective rank", "effective rank (dimensions)"),
    ("uniformity", "Uniformity", "log mean exp(-2 d^2) (lower: more uniform)"),
    ("anisotropy", "Anisotropy", "norm of the mean unit vector"),
    ("average_cosine", "Average cosine", "cosine similarity"),
    ("pairwise_distance_sd", "Spread of distances", "sd of pairwise distances"),
    ("neighbour_alignment", "Neighbour alignment (k = 10)", "shared neighbours (share)"),
    ("l2_alignment", "L2 alignment (coordinates)", "mean squared distance (unit vectors)"),
    ("linear_cka", "Linear CKA", "CKA (1: same up to rotation, scale)"),
)


def plot_contextual(summary: pd.DataFrame) -> plt.Figure:
    """Contextual embeddings (mean-pooled hidden states of the evaluation sequences): the
    participation ratio at every layer, then the last layer's geometry per member and the
    agreement between members."""
    summary = with_variant(summary)
    variants = list(dict.fromkeys(summary["variant"]))
    conditions = list(dict.fromkeys(summary["condition"]))
    palette = _condition_palette(conditions)
    fig, grid = plt.subplots(3, 3, figsize=(DOUBLE_COLUMN, 6.4), constrained_layout=True)
    axes = grid.flat
    ratio = summary[summary["metric"] == "participation_ratio"]
    for (condition, variant), part in ratio.groupby(["condition", "variant"], sort=False):
        part = part.sort_values("order")
        style = "-" if variant == variants[0] else "--"
        axes[0].plot(part["order"], part["estimate"], style, marker="o", color=palette[condition],
                     label=f"{condition} ({variant})")
        axes[0].fill_between(part["order"], part["low"], part["high"], color=palette[condition], alpha=0.2)
    layers = ratio.drop_duplicates("order").sort_values("order")
    axes[0].set_xticks(layers["order"], layers["layer"], rotation=45)
    axes[0].set(title="Participation ratio by layer", ylabel="participation ratio (dimensions)",
                xlabel="layer (input to output)", ylim=(0, None))
    axes[0].legend(fontsize=5.5)
    variant_palette = _condition_palette(variants)
    for ax, (metric, title, label) in zip(axes[1:], CONTEXTUAL_PANELS):
        _errorbars(ax, summary[summary["metric"] == metric], "condition", "variant", variant_palette,
                   conditions, variants)
        ax.set(title=title, ylabel=label, xlabel="")
        ax.tick_params(axis="x", labelrotation=15)
    axes[1].legend(title="architecture objective")
    return fig


def plot_fisher(summary: pd.DataFrame) -> plt.Figure:
    """Share of empirical Fisher information per layer group, per condition."""
    summary = with_variant(summary)
    variants = list(dict.fromkeys(summary["variant"]))
    conditions = list(dict.fromkeys(summary["condition"]))
    palette = _condition_palette(conditions)
    fig, axes = plt.subplots(1, len(variants), figsize=_width(len(variants), 2.8), squeeze=False,
                             constrained_layout=True)
    for ax, variant in zip(axes[0], variants):
        part = summary[summary["variant"] == variant]
        groups = list(part.sort_values("order")["group"].drop_duplicates())
        _errorbars(ax, part, "group", "condition", palette, groups, [c for c in conditions if c in set(part["condition"])])
        # Log scale: the layers' shares (often ~0.001) stay visible beside the embeddings'.
        ax.set(ylabel="share of Fisher information", title=variant, yscale="log", xlabel="layer group (input to output)")
        ax.tick_params(axis="x", labelrotation=45)
        ax.legend()
    return fig


PROBE_REFERENCES = {  # metric of the summary -> line style of its reference line
    "baseline_accuracy": {"colors": "0.2", "linestyles": "--"},
    "random_init_accuracy": {"colors": "0.45", "linestyles": ":"},
    "majority_accuracy": {"colors": "0.65", "linestyles": "-."},
}


def plot_probes(summary: pd.DataFrame) -> plt.Figure:
    """Probe accuracy per ensemble (its members' mean, with its interval), one panel per
    probe and layer; the baselines as reference lines per condition: the count baseline
    (k-mers or tokens), the same members untrained, and the majority class."""
    summary = with_variant(summary)
    summary = summary.assign(ensemble=summary["condition"] + "\n" + summary["variant"])
    panels = list(dict.fromkeys(zip(summary["probe"], summary["layer"])))
    fig, axes = plt.subplots(1, len(panels), figsize=_width(len(panels), 2.6), squeeze=False, constrained_layout=True)
    for ax, (probe, layer) in zip(axes[0], panels):
        part = summary[(summary["probe"] == probe) & (summary["layer"] == layer)]
        ensembles = list(dict.fromkeys(part["ensemble"]))
        scores = part[part["metric"] == "accuracy"]
        palette = _condition_palette(ensembles)
        _errorbars(ax, scores.assign(hue=scores["ensemble"]), "ensemble", "hue", palette, ensembles, ensembles)
        for metric, style in PROBE_REFERENCES.items():
            references = part[part["metric"] == metric].rename(columns={"estimate": "reference"})
            label = {"baseline_accuracy": f"{references['baseline'].iloc[0]} baseline" if len(references) else "baseline",
                     "random_init_accuracy": "untrained members", "majority_accuracy": "majority class"}[metric]
            _references(ax, references.assign(condition=references["ensemble"]), ensembles, "reference", style, label)
        ax.set(title=f"probe {probe} ({layer} layer)", ylabel="test accuracy", xlabel="ensemble", ylim=(0, 1))
        ax.legend(loc="best")
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
    colours = dict(zip(seeds, sns.color_palette("colorblind", n_colors=len(seeds))))
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
    fig.legend(handles=handles, loc="outside lower center", ncol=len(handles))
    return fig


def plot_fisher_training(log: pd.DataFrame) -> plt.Figure:
    """Share of Fisher information per layer group over training, one panel per ensemble:
    the seeds' mean, and their range as a band."""
    log = with_variant(log)
    panels = list(dict.fromkeys(zip(log["condition"], log["variant"])))
    cols = min(3, len(panels))
    rows = int(np.ceil(len(panels) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(DOUBLE_COLUMN if cols > 1 else SINGLE_COLUMN, 2.1 * rows),
                             squeeze=False, sharey=True, constrained_layout=True)
    groups = list(log.sort_values("order")["group"].drop_duplicates())
    # Input to output, light to dark: the same group has the same colour in every panel.
    colours = dict(zip(groups, sns.color_palette("viridis", n_colors=len(groups))))
    for ax, (condition, variant) in zip(axes.flat, panels):
        part = log[(log["condition"] == condition) & (log["variant"] == variant)]
        for group, rows_of_group in part.groupby("group", sort=False):
            by_step = rows_of_group.groupby("step")["fisher_fraction"]
            steps = by_step.mean().index
            ax.fill_between(steps, by_step.min(), by_step.max(), color=colours[group], alpha=0.25, linewidth=0)
            ax.plot(steps, by_step.mean(), color=colours[group], marker="o", markersize=2)
        ax.set(title=f"{condition} ({variant})", xlabel="step", ylabel="share of Fisher information", yscale="log")
    for ax in list(axes.flat)[len(panels) :]:
        ax.set_visible(False)
    handles = [plt.Line2D([], [], color=colours[g], marker="o", markersize=2, label=g) for g in groups]
    fig.legend(handles=handles, loc="outside lower center", ncol=min(len(handles), 6))
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
