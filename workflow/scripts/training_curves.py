"""Gather every member's training log into one table."""

from pathlib import Path

import pandas as pd

from seqens.config import Ensemble, file_of
from seqens.runner import run_script
from seqens.tables import write_table


def main(snakemake):
    frames = []
    for ensemble in map(Ensemble.from_spec, snakemake.params.ensembles):
        for member in ensemble.members:
            log = pd.read_csv(Path(file_of(snakemake.input.members, member)) / "training_log.csv")
            frames.append(log.assign(**ensemble.labels(), seed=member.seed))
    write_table(pd.concat(frames, ignore_index=True), snakemake.output.table)


run_script(snakemake, main)
