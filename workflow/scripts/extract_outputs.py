"""One member's output distributions at the condition's evaluation positions."""

from pathlib import Path

import torch

from seqens.extraction import load_member, output_distributions, save_distributions
from seqens.positions import EvalPositions
from seqens.runner import log, run_script
from seqens.training import resolve_device


def main(snakemake):
    torch.set_num_threads(snakemake.params.threads)  # the config's, not the allocation
    member = load_member(snakemake.input.member, snakemake.input.tokenizer, snakemake.wildcards)
    positions = EvalPositions.load(Path(snakemake.input.positions))
    probs = output_distributions(
        member.objective,
        member.model,
        positions,
        batch_size=snakemake.params.extraction["batch_size"],
        device=resolve_device(snakemake.config["training"]["device"])  # run-time choice, not a param,
    )
    save_distributions(probs, positions, member.name, snakemake.output.distributions, snakemake.output.record)
    log.info("member %s: distributions %s", member.name, probs.shape)


run_script(snakemake, main)
