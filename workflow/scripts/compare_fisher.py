"""Compare the layer-wise Fisher information of ensembles (see seqens.comparisons.fisher)
under each metric definition of the config (seqens.paper_definitions: the paper's mini-batch
Fisher)."""

import numpy as np
import pandas as pd

from seqens import paper_definitions
from seqens.comparisons.contrasts import trained_minus_published
from seqens.comparisons.fisher import compare_fisher, fisher_contrasts
from seqens.comparisons.intervals import bootstrap_options
from seqens.config import Ensemble, file_of
from seqens.runner import log, run_script
from seqens.tables import write_table


def main(snakemake):
    options = bootstrap_options(snakemake.params)
    inputs = snakemake.input
    inputs_of = {
        "corrected": (inputs.tables, inputs.per_sequence),
        "paper": (inputs.paper_tables, inputs.paper_per_batch),
    }
    results, contrast_tables, reproduction_tables = [], [], []
    for definition in snakemake.params.definitions:
        tables, rows = inputs_of[definition]
        by_ensemble = {}
        for spec in snakemake.params.ensembles:
            ensemble = Ensemble.from_spec(spec)
            if definition == "paper" and not paper_definitions.applies_to(ensemble.objective):
                continue
            member_tables = [pd.read_csv(file_of(tables, m)) for m in ensemble.members]
            member_arrays = [np.load(file_of(rows, m)) for m in ensemble.members]
            by_ensemble[ensemble] = compare_fisher(ensemble, member_tables, member_arrays, definition=definition, **options)
            log.info("%s (%s):\n%s", ensemble.name, definition, by_ensemble[ensemble]["summary"][["group", "estimate"]])
        results.extend(by_ensemble.values())
        contrast_tables.append(fisher_contrasts(by_ensemble, **options).assign(definition=definition))
        reproduction = fisher_contrasts(by_ensemble, **options, contrast=trained_minus_published)
        reproduction_tables.append(reproduction.assign(definition=definition))
    output = snakemake.output
    write_table(pd.concat([r["members"] for r in results], ignore_index=True), output.members)
    summary = pd.concat([r["summary"] for r in results], ignore_index=True)
    write_table(summary, output.summary, latex=output.latex)
    write_table(pd.concat(contrast_tables, ignore_index=True), output.contrasts)
    write_table(pd.concat(reproduction_tables, ignore_index=True), output.reproduction)


run_script(snakemake, main)
