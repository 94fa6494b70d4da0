"""Compare the annotated DNA ensembles' output metrics per region class (see
seqens.comparisons.regions), at the positions and with the per-position metrics of the
outputs comparison."""

import numpy as np
import pandas as pd

from seqens.comparisons.intervals import bootstrap_options
from seqens.comparisons.outputs import load_count_baselines, member_distributions
from seqens.comparisons.regions import compare_regions, per_position_values
from seqens.config import Ensemble, file_of
from seqens.positions import EvalPositions
from seqens.runner import log, run_script
from seqens.tables import write_table


def main(snakemake):
    inputs = snakemake.input
    options = bootstrap_options(snakemake.params)
    summaries, contrasts = [], []
    for ensemble in (Ensemble.from_spec(spec) for spec in snakemake.params.ensembles):
        condition = ensemble.condition
        eval_positions = EvalPositions.load(file_of(inputs.positions, condition))
        per_position = per_position_values(
            member_distributions(ensemble, eval_positions, inputs.distributions, inputs.records),
            eval_positions.targets,
            np.load(file_of(inputs.unigram, condition)),
            counts=load_count_baselines(inputs.counts, ensemble, eval_positions),
        )
        regions = pd.read_csv(file_of(inputs.regions, condition), dtype={"record": str})
        result = compare_regions(ensemble, per_position, regions, **options)
        summary = result["summary"]
        for metric in ("bits_beyond_unigram_per_character", "bits_beyond_counts_per_character"):
            bits = summary[summary["metric"] == metric][["class", "estimate", "low", "high"]]
            log.info("%s, %s:\n%s", ensemble.name, metric, bits)
        summaries.append(result["summary"])
        contrasts.append(result["contrasts"])
    write_table(pd.concat(summaries, ignore_index=True), snakemake.output.summary)
    write_table(pd.concat(contrasts, ignore_index=True), snakemake.output.contrasts)


run_script(snakemake, main)
