"""One member's layer-wise empirical Fisher information (see seqens.fisher)."""

from pathlib import Path

import numpy as np
import torch

from seqens.extraction import load_member, member_fisher
from seqens.positions import EvalPositions
from seqens.io import atomic_path
from seqens.runner import log, run_script
from seqens.training import resolve_device


def main(snakemake):
    torch.set_num_threads(snakemake.params.threads)  # the config's, not the allocation
    extraction = snakemake.params.extraction
    member = load_member(snakemake.input.member, snakemake.input.tokenizer, snakemake.wildcards)
    positions = EvalPositions.load(Path(snakemake.input.positions))
    result = member_fisher(
        member,
        positions,
        n_sequences=extraction["fisher_sequences"],
        method=extraction["fisher_method"],
        chunk_size=extraction["fisher_chunk_size"],
        device=resolve_device(snakemake.config["training"]["device"])  # run-time choice, not a param,
    )
    with atomic_path(snakemake.output.per_sequence) as tmp:
        with open(tmp, "wb") as handle:
            np.save(handle, result.per_sequence)
    with atomic_path(snakemake.output.table) as tmp:
        result.to_frame().to_csv(tmp, index=False)
    log.info("member %s: Fisher fractions %s", member.name, dict(zip(result.groups, result.fractions().round(4))))


run_script(snakemake, main)
