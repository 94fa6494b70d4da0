"""One member's layer-wise empirical Fisher information (see seqens.fisher)."""

from pathlib import Path

import torch

from seqens.extraction import load_member, member_fisher, save_fisher
from seqens.positions import EvalPositions
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
    save_fisher(result, snakemake.output.table, snakemake.output.per_sequence)
    log.info("member %s: Fisher fractions %s", member.name, dict(zip(result.groups, result.fractions().round(4))))


run_script(snakemake, main)
