"""Compare ensemble members' contextual embeddings (see seqens.contextual) under each metric
definition of the config: at the evaluation positions (corrected), and over the paper's
sequences masked as it masks them (paper)."""

import numpy as np
import pandas as pd

from seqens import paper_definitions
from seqens.comparisons.contrasts import trained_minus_published
from seqens.comparisons.intervals import bootstrap_options
from seqens.config import Ensemble, file_of
from seqens.contextual import compare_contextual, contextual_contrasts
from seqens.errors import InputError
from seqens.positions import EvalPositions
from seqens.runner import log, run_script
from seqens.tables import write_table

# Where each definition's states, and the fingerprint of their positions, lie in a member's
# file (extract_contextual).
STATES = {"corrected": ("states", "positions_fingerprint"), "paper": ("paper_states", "paper_positions_fingerprint")}


def member_states(ensemble: Ensemble, files: list[str], definition: str, fingerprint: str) -> list[np.ndarray]:
    """Each member's states under ``definition``, after checking they were taken on its
    condition's positions."""
    key, fingerprint_key = STATES[definition]
    states = []
    for member in ensemble.members:
        with np.load(file_of(files, member)) as saved:
            if key not in saved or str(saved[fingerprint_key]) != fingerprint:
                raise InputError(
                    f"member {member.path}: its contextual embeddings ({definition}) were taken at other evaluation "
                    "positions than its condition's, or not at all (rerun extract_contextual)"
                )
            states.append(saved[key])
    return states


def main(snakemake):
    inputs = snakemake.input
    options = bootstrap_options(snakemake.params)
    positions_of = {"corrected": inputs.positions, "paper": inputs.paper_positions}
    results, contrast_tables, reproduction_tables = [], [], []
    for definition in snakemake.params.definitions:
        by_ensemble = {}
        for spec in snakemake.params.ensembles:
            ensemble = Ensemble.from_spec(spec)
            if definition == "paper" and not paper_definitions.applies_to(ensemble.objective):
                continue
            fingerprint = EvalPositions.load(file_of(positions_of[definition], ensemble.condition)).fingerprint
            states = member_states(ensemble, inputs.states, definition, fingerprint)
            by_ensemble[ensemble] = compare_contextual(ensemble, states, definition=definition, **options)
            summary = by_ensemble[ensemble]["summary"]
            log.info("%s (%s):\n%s", ensemble.name, definition, summary[["metric", "layer", "estimate", "low", "high"]])
        results.extend(by_ensemble.values())
        contrast_tables.append(contextual_contrasts(by_ensemble, **options).assign(definition=definition))
        reproduction = contextual_contrasts(by_ensemble, **options, contrast=trained_minus_published)
        reproduction_tables.append(reproduction.assign(definition=definition))
    output = snakemake.output
    write_table(pd.concat([r["members"] for r in results], ignore_index=True), output.members)
    write_table(pd.concat([r["pairs"] for r in results], ignore_index=True), output.pairs)
    write_table(pd.concat([r["summary"] for r in results], ignore_index=True), output.summary, latex=output.latex)
    write_table(pd.concat(contrast_tables, ignore_index=True), output.contrasts)
    write_table(pd.concat(reproduction_tables, ignore_index=True), output.reproduction)


run_script(snakemake, main)
