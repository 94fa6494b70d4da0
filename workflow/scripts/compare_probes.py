"""Compare the ensembles' frozen-feature probe scores (see seqens.comparisons.probes)."""

import pandas as pd

from seqens.comparisons.intervals import bootstrap_options
from seqens.comparisons.probes import compare_probe, probe_contrasts
from seqens.config import Ensemble, file_of
from seqens.layers import last_layer
from seqens.runner import log, run_script
from seqens.tables import write_table


def main(snakemake):
    options = bootstrap_options(snakemake.params)
    results = {}
    for spec in snakemake.params.ensembles:
        ensemble = Ensemble.from_spec(spec)
        predictions = pd.read_csv(file_of(snakemake.input.predictions, ensemble))
        results[ensemble] = compare_probe(ensemble, predictions, **options)
        summary = results[ensemble]["summary"]
        log.info("%s:\n%s", ensemble.name, summary[summary["layer"] == last_layer(summary["layer"])][["probe", "metric", "estimate", "low", "high"]])
    output = snakemake.output
    write_table(pd.concat([r["members"] for r in results.values()], ignore_index=True), output.members)
    summary = pd.concat([r["summary"] for r in results.values()], ignore_index=True)
    write_table(summary, output.summary, latex=output.latex)
    write_table(probe_contrasts(results, **options), output.contrasts)


run_script(snakemake, main)
