"""Compare ensemble members' contextual embeddings (see seqens.contextual)."""

import numpy as np
import pandas as pd

from seqens.comparisons.intervals import bootstrap_options
from seqens.config import Ensemble, file_of
from seqens.contextual import compare_contextual, contextual_contrasts
from seqens.errors import InputError
from seqens.positions import EvalPositions
from seqens.runner import log, run_script
from seqens.tables import write_table


def member_states(ensemble: Ensemble, files: list[str], fingerprint: str) -> list[np.ndarray]:
    """Each member's states, after checking they were taken on its condition's positions."""
    states = []
    for member in ensemble.members:
        with np.load(file_of(files, member)) as saved:
            if str(saved["positions_fingerprint"]) != fingerprint:
                raise InputError(
                    f"member {member.path}: its contextual embeddings were taken at other evaluation positions "
                    "than its condition's (rerun extract_contextual)"
                )
            states.append(saved["states"])
    return states


def main(snakemake):
    inputs = snakemake.input
    options = bootstrap_options(snakemake.params)
    results = {}
    for spec in snakemake.params.ensembles:
        ensemble = Ensemble.from_spec(spec)
        fingerprint = EvalPositions.load(file_of(inputs.positions, ensemble.condition)).fingerprint
        result = compare_contextual(ensemble, member_states(ensemble, inputs.states, fingerprint), **options)
        log.info("%s:\n%s", ensemble.name, result["summary"][["metric", "layer", "estimate", "low", "high"]])
        results[ensemble] = result
    output = snakemake.output
    write_table(pd.concat([r["members"] for r in results.values()], ignore_index=True), output.members)
    write_table(pd.concat([r["pairs"] for r in results.values()], ignore_index=True), output.pairs)
    write_table(pd.concat([r["summary"] for r in results.values()], ignore_index=True), output.summary, latex=output.latex)
    write_table(contextual_contrasts(results, **options), output.contrasts)


run_script(snakemake, main)
