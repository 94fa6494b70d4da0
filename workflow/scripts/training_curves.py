"""Gather every member's training log into one table."""

from pathlib import Path

import pandas as pd

from seqens.runner import run_script
from seqens.tables import write_table


def main(snakemake):
    members = iter(snakemake.input)
    frames = []
    for spec in snakemake.params.ensembles:
        for seed in spec["seeds"]:
            log = pd.read_csv(Path(next(members)) / "training_log.csv")
            frames.append(
                log.assign(
                    condition=f"{spec['corpus']}-{spec['tokenizer']}",
                    corpus=spec["corpus"],
                    tokenizer=spec["tokenizer"],
                    kind=spec["kind"],
                    architecture=spec["architecture"],
                    objective=spec["objective"],
                    seed=seed,
                )
            )
    write_table(pd.concat(frames, ignore_index=True), snakemake.output[0])


run_script(snakemake, main)
