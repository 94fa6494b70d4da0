"""Compare ensemble members' output distributions (see seqens.comparisons.outputs), beside
each condition's own entropy (its unigram and Markov references), under each metric
definition of the config (seqens.paper_definitions): the paper's at its own evaluation
positions."""

import json
from pathlib import Path

import numpy as np
import pandas as pd

from seqens import paper_definitions
from seqens.comparisons.contrasts import metric_contrasts, trained_minus_published
from seqens.comparisons.intervals import bootstrap_options
from seqens.comparisons.outputs import compare_outputs, load_count_baselines, member_distributions
from seqens.config import Ensemble, file_of
from seqens.positions import EvalPositions
from seqens.runner import log, run_script
from seqens.tables import write_table


def main(snakemake):
    inputs = snakemake.input
    options = bootstrap_options(snakemake.params)
    ensembles = [Ensemble.from_spec(spec) for spec in snakemake.params.ensembles]
    conditions = list(dict.fromkeys(ensemble.condition for ensemble in ensembles))
    inputs_of = {
        "corrected": (inputs.positions, inputs.distributions, inputs.records),
        "paper": (inputs.paper_positions, inputs.paper_distributions, inputs.paper_records),
    }
    targets = {c: json.loads(Path(file_of(inputs.targets, c)).read_text()) for c in conditions}
    unigram = {c: np.load(file_of(inputs.unigram, c)) for c in conditions}
    results, contrast_tables, reproduction_tables = [], [], []
    for definition in snakemake.params.definitions:
        positions_files, distributions, records = inputs_of[definition]
        positions = {c: EvalPositions.load(file_of(positions_files, c)) for c in conditions}
        per_example = {}
        for ensemble in ensembles:
            if definition == "paper" and not paper_definitions.applies_to(ensemble.objective):
                continue
            eval_positions = positions[ensemble.condition]
            result = compare_outputs(
                ensemble,
                member_distributions(ensemble, eval_positions, distributions, records),
                eval_positions.targets,
                unigram_log2=unigram[ensemble.condition],
                characters_per_target=targets[ensemble.condition]["characters_per_target"],
                definition=definition,
                counts=load_count_baselines(inputs.counts, ensemble, eval_positions) if definition == "corrected" else None,
                **options,
            )
            log.info("%s (%s):\n%s", ensemble.name, definition, result["summary"][["metric", "estimate", "low", "high"]])
            results.append(result)
            per_example[ensemble] = result["per_position"]
        contrast_tables.append(metric_contrasts(per_example, **options).assign(definition=definition))
        reproduction_tables.append(
            metric_contrasts(per_example, **options, contrast=trained_minus_published).assign(definition=definition)
        )
    output = snakemake.output
    write_table(pd.concat([r["members"] for r in results], ignore_index=True), output.members)
    summary = pd.concat([r["summary"] for r in results], ignore_index=True)
    write_table(summary, output.summary, latex=output.latex)
    write_table(pd.concat([r["js_distance"] for r in results], ignore_index=True), output.js_distance)
    write_table(pd.concat([r["rank_curve"] for r in results], ignore_index=True), output.rank_curve)
    write_table(pd.concat(contrast_tables, ignore_index=True), output.contrasts)
    write_table(pd.concat(reproduction_tables, ignore_index=True), output.reproduction)
    data_entropy = [
        pd.read_csv(file_of(inputs.data_entropy, c)).assign(condition=c.name, kind=c.kind) for c in conditions
    ]
    write_table(pd.concat(data_entropy, ignore_index=True), output.data_entropy)


run_script(snakemake, main)
