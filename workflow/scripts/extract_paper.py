"""One member under the paper's definitions (seqens.paper_definitions), in one job so that
the model is loaded once: its distributions at the paper's evaluation positions, and its
mini-batch Fisher (batches of 8, 256 sequences) at the paper's Fisher positions."""

from pathlib import Path

import torch

from seqens import paper_definitions
from seqens.extraction import load_member, member_fisher, output_distributions, save_distributions, save_fisher
from seqens.positions import EvalPositions
from seqens.runner import log, run_script
from seqens.training import resolve_device


def main(snakemake):
    torch.set_num_threads(snakemake.params.threads)  # the config's, not the allocation
    inputs, output = snakemake.input, snakemake.output
    device = resolve_device(snakemake.config["training"]["device"])  # run-time choice, not a param
    member = load_member(Path(inputs.manifest).parent, inputs.tokenizer, snakemake.wildcards)
    positions = EvalPositions.load(Path(inputs.positions))
    probs = output_distributions(
        member.objective, member.model, positions, batch_size=snakemake.params.extraction["batch_size"], device=device
    )
    save_distributions(probs, positions, member.name, output.distributions, output.record)
    result = member_fisher(
        member,
        EvalPositions.load(Path(inputs.fisher_positions)),
        n_sequences=paper_definitions.FISHER_SEQUENCES,
        method="minibatch",
        chunk_size=paper_definitions.FISHER_BATCH_SIZE,
        device=device,
    )
    save_fisher(result, output.fisher, output.fisher_per_batch)
    log.info(
        "member %s: distributions %s; Fisher fractions %s",
        member.name,
        probs.shape,
        dict(zip(result.groups, result.fractions().round(4))),
    )


run_script(snakemake, main)
