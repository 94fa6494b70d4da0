"""Gather every member's training log into one table, after checking that the members of
each ensemble really differ (see seqens.comparisons.distinct_members)."""

from pathlib import Path

import pandas as pd

from seqens.comparisons.distinct_members import check_members_differ
from seqens.config import Ensemble, file_of
from seqens.member import read_manifest, read_training_log
from seqens.runner import run_script
from seqens.tables import write_table


def main(snakemake):
    frames = []
    for ensemble in map(Ensemble.from_spec, snakemake.params.ensembles):
        folders = {member: Path(file_of(snakemake.input.manifests, member)).parent for member in ensemble.members}
        check_members_differ(
            ensemble,
            {member.seed: read_manifest(member, folder).get("weights", {}) for member, folder in folders.items()},
        )
        for member, folder in folders.items():
            frames.append(read_training_log(member, folder).assign(**ensemble.labels(), seed=member.seed))
    write_table(pd.concat(frames, ignore_index=True), snakemake.output.table)


run_script(snakemake, main)
