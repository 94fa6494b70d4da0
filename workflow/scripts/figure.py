"""Draw one figure of the study from its tables (see seqens.figures for which)."""

import pandas as pd

from seqens import plotting
from seqens.figures import FIGURES
from seqens.runner import run_script
from seqens.tables import corrected_rows


def main(snakemake):
    figure = FIGURES[snakemake.params.figure]
    shown = (lambda table: table) if figure.every_definition else corrected_rows
    present = snakemake.input.keys()  # without the optional tables the study does not make
    tables = {argument: shown(pd.read_csv(snakemake.input[argument])) for argument in figure.tables if argument in present}
    if figure.by_condition:
        tables["study_conditions"] = snakemake.params.conditions
    drawn = getattr(plotting, figure.draw)(**tables)
    plotting.save(drawn, snakemake.output.pdf, snakemake.output.png)


run_script(snakemake, main)
