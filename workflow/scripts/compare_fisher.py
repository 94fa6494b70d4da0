"""Compare the layer-wise Fisher information of ensembles (see seqens.compare)."""

import numpy as np
import pandas as pd

from seqens.compare import compare_fisher, fisher_contrasts
from seqens.config import Ensemble, file_of
from seqens.runner import log, run_script
from seqens.tables import write_table


def main(snakemake):
    extraction = snakemake.params.extraction
    options = dict(draws=extraction["bootstrap_draws"], level=extraction["confidence_level"], seed=snakemake.params.seed)
    results = {}
    for spec in snakemake.params.ensembles:
        ensemble = Ensemble.from_spec(spec)
        member_tables = [pd.read_csv(file_of(snakemake.input.tables, m)) for m in ensemble.members]
        member_arrays = [np.load(file_of(snakemake.input.per_sequence, m)) for m in ensemble.members]
        results[ensemble] = compare_fisher(ensemble, member_tables, member_arrays, **options)
        log.info("%s:\n%s", ensemble.name, results[ensemble]["summary"][["group", "estimate"]])
    output = snakemake.output
    write_table(pd.concat([r["members"] for r in results.values()], ignore_index=True), output.members)
    summary = pd.concat([r["summary"] for r in results.values()], ignore_index=True)
    write_table(summary, output.summary, latex=output.latex)
    write_table(fisher_contrasts(results, **options), output.contrasts)


run_script(snakemake, main)
