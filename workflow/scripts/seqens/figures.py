"""The study's figures, in one registry: the workflow reads it for the figure rules (their
names, input tables and report categories) and the figure script for what to draw. Free of
plotting libraries, so that reading the workflow needs none."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Figure:
    name: str  # results/figures/{name}.pdf and .png, rule figure_{name}, workflow/report/{name}.rst
    draw: str  # the seqens.plotting function that draws it from its tables
    tables: dict[str, tuple[str, str]]  # draw's argument -> (rule, output name) of the table
    category: str  # where the report files it


FIGURES = {
    figure.name: figure
    for figure in (
        Figure(
            "entropy",
            "plot_entropy",
            {
                "summary": ("compare_outputs", "summary"),
                "ranks": ("compare_outputs", "rank_curve"),
                "data_entropy": ("compare_outputs", "data_entropy"),
            },
            "Model outputs",
        ),
        Figure("js_distance", "plot_js_distance", {"js": ("compare_outputs", "js_distance")}, "Model outputs"),
        Figure("embeddings", "plot_embeddings", {"summary": ("compare_embeddings", "summary")}, "Static embeddings"),
        Figure("fisher", "plot_fisher", {"summary": ("compare_fisher", "summary")}, "Fisher information"),
        Figure(
            "probes",
            "plot_probes",
            {"summary": ("compare_probes", "summary")},
            "Probes",
        ),
        Figure("loss_curves", "plot_loss_curves", {"logs": ("training_curves", "table")}, "Training"),
    )
}
