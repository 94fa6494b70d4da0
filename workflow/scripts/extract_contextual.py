"""The contextual embeddings of an ensemble's members, one file per member: every layer's
hidden states, mean-pooled over each of the condition's first evaluation sequences (see
seqens.contextual)."""

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import torch

from seqens.config import Member, file_of
from seqens.extraction import contextual_embeddings, load_member
from seqens.io import atomic_path
from seqens.layers import hidden_state_names
from seqens.positions import EvalPositions
from seqens.runner import log, run_script
from seqens.training import resolve_device


def main(snakemake):
    torch.set_num_threads(snakemake.params.threads)  # the config's, not the allocation
    extraction = snakemake.params.extraction
    positions = EvalPositions.load(Path(snakemake.input.positions))
    device = resolve_device(snakemake.config["training"]["device"])  # run-time choice, not a param
    for seed in snakemake.params.seeds:
        wildcards = SimpleNamespace(**{**dict(snakemake.wildcards.items()), "seed": seed})
        member_path = Member.from_wildcards(wildcards)
        member = load_member(
            Path(file_of(snakemake.input.manifests, member_path)).parent, snakemake.input.tokenizer, wildcards
        )
        states = contextual_embeddings(
            member.objective,
            member.model,
            positions,
            n_sequences=extraction["contextual_sequences"],
            batch_size=extraction["batch_size"],
            device=device,
        )
        with atomic_path(file_of(snakemake.output.states, member_path)) as tmp:
            with open(tmp, "wb") as handle:
                np.savez(
                    handle,
                    states=states,
                    layers=np.array(hidden_state_names(len(states))),
                    positions_fingerprint=np.array(positions.fingerprint),
                )
        log.info("member %s: contextual embeddings %s (layers x sequences x hidden)", member.name, states.shape)


run_script(snakemake, main)
