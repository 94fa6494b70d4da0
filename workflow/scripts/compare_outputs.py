"""Compare ensemble members' output distributions (see seqens.compare), beside each
condition's own entropy (its unigram and Markov references)."""

import json

import numpy as np
import pandas as pd

from seqens.compare import Ensemble, compare_outputs, contrasts
from seqens.positions import EvalPositions
from seqens.io import InputError
from seqens.runner import log, run_script
from seqens.tables import write_table


def main(snakemake):
    extraction = snakemake.params.extraction
    options = dict(draws=extraction["bootstrap_draws"], level=extraction["confidence_level"], seed=snakemake.params.seed)
    conditions = snakemake.params.conditions  # the order of the per-condition inputs
    positions = dict(zip(conditions, snakemake.input.positions))
    targets = {c: json.loads(open(path).read()) for c, path in zip(conditions, snakemake.input.targets)}
    unigram = {c: np.load(path) for c, path in zip(conditions, snakemake.input.unigram)}
    distributions = iter(snakemake.input.distributions)
    records = iter(snakemake.input.records)
    results, per_example, pairs = [], {}, {}
    for spec in snakemake.params.ensembles:
        ensemble = Ensemble.from_spec(spec)
        eval_positions = EvalPositions.load(positions[ensemble.condition])
        member_paths = [next(distributions) for _ in ensemble.seeds]
        member_records = [pd.read_json(next(records), typ="series") for _ in ensemble.seeds]
        for seed, record in zip(ensemble.seeds, member_records):
            if record["positions_fingerprint"] != eval_positions.fingerprint:
                raise InputError(
                    f"member {ensemble.name}/seed{seed}: its distributions were taken at "
                    "other evaluation positions than its condition's (rerun extract_outputs)"
                )
        probs = [np.load(path, mmap_mode="r") for path in member_paths]
        result = compare_outputs(
            ensemble,
            probs,
            eval_positions.targets,
            unigram_log2=unigram[ensemble.condition],
            characters_per_target=targets[ensemble.condition]["characters_per_target"],
            **options,
        )
        log.info("%s:\n%s", ensemble.name, result["summary"][["metric", "estimate", "low", "high"]])
        results.append(result)
        per_example[ensemble] = result["per_position"]
        pairs[ensemble] = result["pairs"]
    output = snakemake.output
    write_table(pd.concat([r["members"] for r in results], ignore_index=True), output.members)
    summary = pd.concat([r["summary"] for r in results], ignore_index=True)
    write_table(summary, output.summary, latex=output.latex)
    write_table(pd.concat([r["js_distance"] for r in results], ignore_index=True), output.js_distance)
    write_table(pd.concat([r["rank_curve"] for r in results], ignore_index=True), output.rank_curve)
    write_table(contrasts(per_example, pairs, **options), output.contrasts)
    kinds = {f"{spec['corpus']}-{spec['tokenizer']}": spec["kind"] for spec in snakemake.params.ensembles}
    markov = [
        pd.read_csv(path).assign(condition=condition, kind=kinds[condition])
        for condition, path in zip(conditions, snakemake.input.markov)
    ]
    write_table(pd.concat(markov, ignore_index=True), output.data_entropy)


run_script(snakemake, main)
