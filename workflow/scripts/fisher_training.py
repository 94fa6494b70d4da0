"""Gather every member's Fisher log (layer-wise empirical Fisher during training) into one table."""

from pathlib import Path

import pandas as pd

from seqens.config import Ensemble, file_of
from seqens.errors import InputError
from seqens.runner import run_script
from seqens.tables import write_table


def main(snakemake):
    frames = []
    for ensemble in map(Ensemble.from_spec, snakemake.params.ensembles):
        for member in ensemble.members:
            path = Path(file_of(snakemake.input.manifests, member)).parent / "fisher_log.csv"
            if not path.is_file():
                raise InputError(f"member {member.path}: {path} is missing (trained before training.fisher_log was set?)")
            frames.append(pd.read_csv(path).assign(**ensemble.labels(), seed=member.seed))
    write_table(pd.concat(frames, ignore_index=True), snakemake.output.table)


run_script(snakemake, main)
