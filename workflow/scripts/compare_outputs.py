"""Compare ensemble members' output distributions (see seqens.compare)."""

import numpy as np
import pandas as pd

from seqens.compare import Ensemble, compare_outputs, contrasts
from seqens.extraction import EvalPositions
from seqens.io import InputError
from seqens.runner import log, run_script
from seqens.tables import write_table


def main(snakemake):
    extraction = snakemake.params.extraction
    options = dict(draws=extraction["bootstrap_draws"], level=extraction["confidence_level"], seed=snakemake.params.seed)
    positions = {path.split("/")[-3] + "-" + path.split("/")[-2]: path for path in snakemake.input.positions}
    distributions = iter(snakemake.input.distributions)
    records = iter(snakemake.input.records)
    results, per_example, pairs = [], {}, {}
    for spec in snakemake.params.ensembles:
        ensemble = Ensemble(spec["corpus"], spec["tokenizer"], spec["kind"], spec["objective"], tuple(spec["seeds"]))
        eval_positions = EvalPositions.load(positions[ensemble.condition])
        member_paths = [next(distributions) for _ in ensemble.seeds]
        member_records = [pd.read_json(next(records), typ="series") for _ in ensemble.seeds]
        for seed, record in zip(ensemble.seeds, member_records):
            if record["positions_fingerprint"] != eval_positions.fingerprint:
                raise InputError(
                    f"member {ensemble.condition}/{ensemble.objective}/seed{seed}: its distributions were taken at "
                    "other evaluation positions than its condition's (rerun extract_outputs)"
                )
        probs = [np.load(path, mmap_mode="r") for path in member_paths]
        result = compare_outputs(ensemble, probs, eval_positions.targets, **options)
        log.info("%s/%s:\n%s", ensemble.condition, ensemble.objective, result["summary"][["metric", "estimate", "low", "high"]])
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


run_script(snakemake, main)
