"""One member, one model load: its output distributions at the condition's evaluation
positions, its static input-embedding matrix [V, H] and its layer-wise empirical Fisher
information (see seqens.fisher)."""

from pathlib import Path

import torch

from seqens.extraction import load_member, member_fisher, output_distributions, save_distributions, save_fisher
from seqens.io import save_array_atomic
from seqens.positions import EvalPositions
from seqens.runner import log, run_script
from seqens.training import resolve_device


def main(snakemake):
    torch.set_num_threads(snakemake.params.threads)  # the config's, not the allocation
    inputs, output, extraction = snakemake.input, snakemake.output, snakemake.params.extraction
    device = resolve_device(snakemake.config["training"]["device"])  # run-time choice, not a param
    member = load_member(Path(inputs.manifest).parent, inputs.tokenizer, snakemake.wildcards)
    positions = EvalPositions.load(Path(inputs.positions))

    probs = output_distributions(
        member.objective, member.model, positions, batch_size=extraction["batch_size"], device=device
    )
    save_distributions(probs, positions, member.name, output.distributions, output.record)
    log.info("member %s: distributions %s", member.name, probs.shape)

    embeddings = member.objective.input_embeddings(member.model).detach().float().cpu().numpy()
    save_array_atomic(output.embeddings, embeddings)
    log.info("member %s: embeddings %s", member.name, embeddings.shape)

    result = member_fisher(
        member,
        positions,
        n_sequences=extraction["fisher_sequences"],
        method=extraction["fisher_method"],
        chunk_size=extraction["fisher_chunk_size"],
        device=device,
    )
    save_fisher(result, output.fisher, output.fisher_per_sequence)
    log.info("member %s: Fisher fractions %s", member.name, dict(zip(result.groups, result.fractions().round(4))))


run_script(snakemake, main)
