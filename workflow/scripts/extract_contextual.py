"""The contextual embeddings of an ensemble's members, one file per member: every layer's
hidden states, mean-pooled over each of the condition's first evaluation sequences
(``states``), and, for an ensemble measured under the paper's definitions, over the paper's
sequences masked as it masks them (``paper_states``; see seqens.contextual)."""

from pathlib import Path

import numpy as np
import torch

from seqens.config import Condition, Member, file_of
from seqens.extraction import contextual_embeddings
from seqens.io import atomic_path
from seqens.layers import hidden_state_names
from seqens.member import load_member
from seqens.positions import EvalPositions
from seqens.runner import log, run_script
from seqens.training import resolve_device


def main(snakemake):
    torch.set_num_threads(snakemake.params.threads)  # the config's, not the allocation
    extraction, inputs = snakemake.params.extraction, snakemake.input
    # What each saved array is pooled at: (prefix, positions, sequences).
    definitions = [("", EvalPositions.load(Path(inputs.positions)), extraction["contextual_sequences"])]
    if inputs.paper_positions:
        paper = EvalPositions.load(Path(inputs.paper_positions))
        definitions.append(("paper_", paper, len(paper.input_ids)))  # the paper's every sequence
    device = resolve_device(snakemake.config["training"]["device"])  # run-time choice, not a param
    wildcards = snakemake.wildcards
    condition = Condition(wildcards.corpus, wildcards.tokenizer, kind="")
    for seed in snakemake.params.seeds:
        member = Member(condition, wildcards.architecture, wildcards.objective, seed)
        loaded = load_member(member, Path(file_of(inputs.manifests, member)).parent, inputs.tokenizer)
        arrays = {}
        for prefix, positions, n_sequences in definitions:
            states = contextual_embeddings(
                loaded.objective,
                loaded.model,
                positions,
                n_sequences=n_sequences,
                batch_size=extraction["batch_size"],
                device=device,
            )
            arrays |= {f"{prefix}states": states, f"{prefix}positions_fingerprint": np.array(positions.fingerprint)}
            log.info("member %s: contextual embeddings %s%s (layers x sequences x hidden)", member.path, prefix, states.shape)
        with atomic_path(file_of(snakemake.output.states, member)) as tmp:
            with open(tmp, "wb") as handle:
                np.savez(handle, layers=np.array(hidden_state_names(len(states))), **arrays)


run_script(snakemake, main)
