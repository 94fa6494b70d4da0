"""Compare ensemble members' static input embeddings (see seqens.comparisons.embeddings),
local Spearman under each metric definition of the config (seqens.paper_definitions)."""

import numpy as np
import pandas as pd

from seqens.comparisons.contrasts import dna_minus_text, metric_contrasts, trained_minus_published
from seqens.comparisons.embeddings import compare_embeddings
from seqens.comparisons.intervals import bootstrap_options
from seqens.config import Ensemble, file_of
from seqens.runner import log, run_script
from seqens.tables import write_table


def main(snakemake):
    comparison = snakemake.params.comparison
    options = bootstrap_options(snakemake.params)
    results, per_token = [], {}
    for spec in snakemake.params.ensembles:
        ensemble = Ensemble.from_spec(spec)
        matrices = [np.load(file_of(snakemake.input.embeddings, member)) for member in ensemble.members]
        # The config refuses a k above a condition's vocabulary; only a char tokenizer on text,
        # whose vocabulary the config bounds without knowing it, can come out smaller.
        skipped = [k for k in comparison["top_k"] if k >= len(matrices[0])]
        if skipped:
            log.warning("%s: top-k %s skipped (a vocabulary of %d has fewer neighbours)", ensemble.name, skipped, len(matrices[0]))
        result = compare_embeddings(
            ensemble,
            matrices,
            ks=comparison["top_k"],
            spearman_ks=comparison["spearman_k"],
            definitions=snakemake.params.definitions,
            **options,
        )
        log.info("%s:\n%s", ensemble.name, result["summary"][["definition", "metric", "k", "estimate"]])
        results.append(result)
        for (metric, k, definition), values in result["per_token"].items():
            name = f"{metric}@{k}" if k is not None else metric
            per_token.setdefault(definition, {}).setdefault(ensemble, {})[name] = values
    for definition in snakemake.params.definitions:  # single models only have no arrays: empty tables
        per_token.setdefault(definition, {})
    output = snakemake.output
    write_table(pd.concat([r["pairs_table"] for r in results], ignore_index=True), output.pairs)
    write_table(pd.concat([r["summary"] for r in results], ignore_index=True), output.summary, latex=output.latex)
    for contrast, path in ((dna_minus_text, output.contrasts), (trained_minus_published, output.reproduction)):
        tables = [
            metric_contrasts(per_example, **options, contrast=contrast).assign(definition=definition)
            for definition, per_example in per_token.items()
        ]
        write_table(pd.concat(tables, ignore_index=True), path)


run_script(snakemake, main)
