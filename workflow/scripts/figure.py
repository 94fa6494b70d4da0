"""Draw one figure of the study from its tables; the rule name says which."""

import pandas as pd

from seqens import plotting
from seqens.runner import run_script

FIGURES = {
    "figure_entropy": lambda t: plotting.plot_entropy(t["summary"], t["rank_curve"], t["data_entropy"]),
    "figure_js_distance": lambda t: plotting.plot_js_distance(t["js_distance"]),
    "figure_embeddings": lambda t: plotting.plot_embeddings(t["summary"]),
    "figure_fisher": lambda t: plotting.plot_fisher(t["summary"]),
    "figure_loss_curves": lambda t: plotting.plot_loss_curves(t["training_log"]),
}


def main(snakemake):
    tables = {name: pd.read_csv(path) for name, path in snakemake.input.items()}
    figure = FIGURES[snakemake.rule](tables)
    plotting.save(figure, snakemake.output.pdf, snakemake.output.png)


run_script(snakemake, main)
