"""Gather every member's Fisher log (layer-wise empirical Fisher during training) into one
table, under the metric definitions of the config (the log holds both)."""

from pathlib import Path

import pandas as pd

from seqens.config import Ensemble, file_of
from seqens.member import read_fisher_log
from seqens.runner import run_script
from seqens.tables import write_table


def main(snakemake):
    frames = []
    for ensemble in map(Ensemble.from_spec, snakemake.params.ensembles):
        for member in ensemble.members:
            folder = Path(file_of(snakemake.input.manifests, member)).parent
            frames.append(read_fisher_log(member, folder).assign(**ensemble.labels(), seed=member.seed))
    table = pd.concat(frames, ignore_index=True)
    write_table(table[table["definition"].isin(snakemake.params.definitions)], snakemake.output.table)


run_script(snakemake, main)
