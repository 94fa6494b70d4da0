"""Gather every member's training log into one table, after checking that the members of
each ensemble really differ (see seqens.comparisons.distinct_members)."""

import json
from pathlib import Path

import pandas as pd

from seqens.comparisons.distinct_members import check_members_differ
from seqens.config import Ensemble, file_of
from seqens.runner import run_script
from seqens.tables import write_table


def main(snakemake):
    frames = []
    for ensemble in map(Ensemble.from_spec, snakemake.params.ensembles):
        directories = {
            member.seed: Path(file_of(snakemake.input.manifests, member)).parent for member in ensemble.members
        }
        check_members_differ(
            ensemble,
            {seed: json.loads((d / "manifest.json").read_text()).get("weights", {}) for seed, d in directories.items()},
        )
        for seed, directory in directories.items():
            log = pd.read_csv(directory / "training_log.csv")
            frames.append(log.assign(**ensemble.labels(), seed=seed))
    write_table(pd.concat(frames, ignore_index=True), snakemake.output.table)


run_script(snakemake, main)
