"""Figures of the study (seaborn), built from the tidy tables in results/tables/.

Each function returns a matplotlib Figure; ``save`` writes it as PDF (for papers) and PNG
(for the HTML report)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

from .io import atomic_path  # noqa: E402

sns.set_theme(context="paper", style="whitegrid", font_scale=1.0)
KIND_PALETTE = {"text": "#1f77b4", "dna": "#2ca02c"}


def _condition_palette(conditions: list[str]) -> dict[str, tuple]:
    colours = sns.color_palette("colorblind", n_colors=max(3, len(conditions)))
    return dict(zip(conditions, colours))


def _errorbars(ax, table: pd.DataFrame, x: str, hue: str, palette: dict, order: list, hue_order: list):
    """Point estimates with their bootstrap intervals, dodged by hue."""
    width = 0.8 / max(1, len(hue_order))
    for h_index, h in enumerate(hue_order):
        part = table[table[hue] == h].set_index(x).reindex(order)
        xs = np.arange(len(order)) - 0.4 + width * (h_index + 0.5)
        ax.errorbar(
            xs,
            part["estimate"],
            yerr=[part["estimate"] - part["low"], part["high"] - part["estimate"]],
            fmt="o",
            capsize=3,
            color=palette[h],
            label=h,
        )
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
    fig, axes = plt.subplots(2, 3, figsize=(11, 6.4), constrained_layout=True)
    panels = (
        (axes[0, 0], "cross_entropy_bits", "Cross-entropy at hidden positions", "bits per token"),
        (axes[0, 1], "bits_beyond_unigram", "Learned beyond the unigram, per token", "bits per token"),
        (axes[0, 2], "bits_beyond_unigram_per_character", "Learned beyond the unigram, per character", "bits per character"),
        (axes[1, 0], "entropy_bits", "Entropy of predictions", "bits"),
        (axes[1, 1], "kl_from_uniform_bits", "KL from uniform", "bits"),
    )
    for ax, metric, title, unit in panels:
        _errorbars(ax, summary[summary["metric"] == metric], "condition", "variant", palette, conditions, variants)
        ax.set(title=title, ylabel=unit, xlabel="")
        ax.tick_params(axis="x", labelrotation=15)
    for ax in (axes[0, 1], axes[0, 2]):
        ax.axhline(0.0, color="0.3", linewidth=0.8)
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
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=len(labels), fontsize="small")
    condition_palette = _condition_palette(conditions)
    styles = ["-", "--", ":", "-."]
    for (condition, variant), part in ranks.groupby(["condition", "variant"], sort=False):
        axes[1, 2].plot(
            part["rank"], part["mean_probability"], color=condition_palette[condition],
            linestyle=styles[variants.index(variant) % len(styles)], label=f"{condition} ({variant})",
        )
    axes[1, 2].set(xscale="log", yscale="log", xlabel="rank", ylabel="mean probability", title="Sorted probability vs rank")
    axes[1, 2].legend(fontsize="x-small")
    return fig


def plot_js_distance(js: pd.DataFrame) -> plt.Figure:
    """Pairwise Jensen-Shannon distance between members vs top-p truncation."""
    js = with_variant(js)
    variants = list(dict.fromkeys(js["variant"]))
    conditions = list(dict.fromkeys(js["condition"]))
    palette = _condition_palette(conditions)
    fig, axes = plt.subplots(1, len(variants), figsize=(4.2 * len(variants), 3.6), squeeze=False,
                             constrained_layout=True)
    for ax, variant in zip(axes[0], variants):
        for condition in conditions:
            part = js[(js["variant"] == variant) & (js["condition"] == condition)].sort_values("top_p")
            if part.empty:
                continue
            ax.plot(part["top_p"], part["estimate"], marker="o", color=palette[condition], label=condition)
            ax.fill_between(part["top_p"], part["low"], part["high"], color=palette[condition], alpha=0.2)
        ax.set(xlabel="top-p", ylabel="JS distance between members", title=variant, ylim=(0, None))
        ax.legend(fontsize="small")
    return fig


def plot_embeddings(summary: pd.DataFrame) -> plt.Figure:
    """Static-embedding stability: top-k overlap vs k, local Spearman, Procrustes, CKA."""
    summary = with_variant(summary)
    variants = list(dict.fromkeys(summary["variant"]))
    conditions = list(dict.fromkeys(summary["condition"]))
    palette = _condition_palette(conditions)
    fig, axes = plt.subplots(1, 4, figsize=(15, 3.6), constrained_layout=True)
    overlap = summary[summary["metric"] == "topk_overlap"]
    for (condition, variant), part in overlap.groupby(["condition", "variant"], sort=False):
        part = part.sort_values("k")
        style = "-" if variant == variants[0] else "--"
        axes[0].plot(part["k"], part["estimate"], style, marker="o", color=palette[condition],
                     label=f"{condition} ({variant})")
        axes[0].fill_between(part["k"].astype(float), part["low"], part["high"], color=palette[condition], alpha=0.2)
    axes[0].set(xscale="log", xlabel="k", ylabel="Jaccard overlap", title="Top-k neighbour overlap", ylim=(0, 1))
    axes[0].legend(fontsize="x-small")
    variant_palette = _condition_palette(variants)
    for ax, metric, title in (
        (axes[1], "local_spearman", "Local Spearman of similarities"),
        (axes[2], "procrustes_disparity", "Procrustes disparity"),
        (axes[3], "linear_cka", "Linear CKA"),
    ):
        _errorbars(ax, summary[summary["metric"] == metric], "condition", "variant", variant_palette,
                   conditions, variants)
        ax.set_title(title)
        ax.tick_params(axis="x", labelrotation=20)
    axes[1].legend(title="architecture objective", fontsize="small")
    return fig


def plot_fisher(summary: pd.DataFrame) -> plt.Figure:
    """Share of empirical Fisher information per layer group, per condition."""
    summary = with_variant(summary)
    variants = list(dict.fromkeys(summary["variant"]))
    conditions = list(dict.fromkeys(summary["condition"]))
    palette = _condition_palette(conditions)
    fig, axes = plt.subplots(1, len(variants), figsize=(5 * len(variants), 3.8), squeeze=False,
                             constrained_layout=True)
    for ax, variant in zip(axes[0], variants):
        part = summary[summary["variant"] == variant]
        groups = list(part.sort_values("order")["group"].drop_duplicates())
        _errorbars(ax, part, "group", "condition", palette, groups, [c for c in conditions if c in set(part["condition"])])
        ax.set(ylabel="fraction of Fisher information", title=variant, ylim=(0, None))
        ax.tick_params(axis="x", labelrotation=45)
        ax.legend(fontsize="small")
    return fig


def plot_loss_curves(logs: pd.DataFrame) -> plt.Figure:
    """Training and held-out loss of every member, one panel per condition x variant."""
    logs = with_variant(logs)
    panels = list(dict.fromkeys(zip(logs["condition"], logs["variant"])))
    cols = min(3, len(panels))
    rows = int(np.ceil(len(panels) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.2 * rows), squeeze=False, constrained_layout=True)
    for ax, (condition, variant) in zip(axes.flat, panels):
        part = logs[(logs["condition"] == condition) & (logs["variant"] == variant)]
        seeds = sorted(part["seed"].unique())
        colours = dict(zip(seeds, sns.color_palette("viridis", n_colors=len(seeds))))
        for seed, member in part.groupby("seed"):
            ax.plot(member["step"], member["train_loss"], color=colours[seed], alpha=0.6, label=f"seed {seed} train")
            evaluated = member.dropna(subset=["eval_loss"])
            ax.plot(evaluated["step"], evaluated["eval_loss"], "o--", color=colours[seed], label=f"seed {seed} eval")
        ax.set(title=f"{condition} ({variant})", xlabel="step", ylabel="loss (nats)")
        ax.legend(fontsize="xx-small", ncol=2)
    for ax in list(axes.flat)[len(panels) :]:
        ax.set_visible(False)
    return fig


def save(fig: plt.Figure, pdf_path: str | Path, png_path: str | Path | None = None) -> None:
    """Write the figure atomically as PDF (and PNG for the report)."""
    with atomic_path(pdf_path) as tmp:
        fig.savefig(tmp, format="pdf", bbox_inches="tight")
    if png_path is not None:
        with atomic_path(png_path) as tmp:
            fig.savefig(tmp, format="png", dpi=150, bbox_inches="tight")
    plt.close(fig)
