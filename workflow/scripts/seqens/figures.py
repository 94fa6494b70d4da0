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
    requires: str | None = None  # a config key ("section.key") that must be set for it to exist
    # draw takes ``conditions``, the study's conditions in order: colour is the condition, the
    # same in every figure even where a table lacks one (a condition without a probe)
    by_condition: bool = True
    # draw shows every metric definition of its tables (a ``definition`` column); the others
    # show the corrected rows (seqens.tables.corrected_rows)
    every_definition: bool = False
    # draw's arguments it draws without: a table whose rule the study does not run (the
    # regions summary without an annotated DNA corpus) is then no input of the figure
    optional: tuple[str, ...] = ()


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
        Figure(
            "contextual", "plot_contextual", {"summary": ("compare_contextual", "summary")}, "Contextual embeddings"
        ),
        Figure("fisher", "plot_fisher", {"summary": ("compare_fisher", "summary")}, "Fisher information"),
        Figure(
            "probes",
            "plot_probes",
            {"summary": ("compare_probes", "summary")},
            "Probes",
        ),
        Figure("regions", "plot_regions", {"summary": ("compare_regions", "summary")}, "Model outputs"),
        Figure(
            "beyond_counts",
            "plot_beyond_counts",
            {
                "summary": ("compare_outputs", "summary"),
                "data_entropy": ("compare_outputs", "data_entropy"),
                "regions": ("compare_regions", "summary"),
            },
            "Model outputs",
            optional=("regions",),
        ),
        Figure(
            "loss_curves", "plot_loss_curves", {"logs": ("training_curves", "table")}, "Training", by_condition=False
        ),
        Figure(
            "fisher_training",
            "plot_fisher_training",
            {"log": ("fisher_training", "table")},
            "Fisher information",
            requires="training.fisher_log",
            by_condition=False,
            every_definition=True,
        ),
    )
}


def study_figures(config: dict) -> dict[str, Figure]:
    """The registry's figures the study's config asks for (a figure whose ``requires`` key is
    unset, such as the Fisher during training with ``training.fisher_log: null``, is not made)."""

    def is_set(key: str) -> bool:
        section, name = key.split(".")
        return bool(config.get(section, {}).get(name))

    return {name: figure for name, figure in FIGURES.items() if figure.requires is None or is_set(figure.requires)}
