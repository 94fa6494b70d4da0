"""One member, one model load: its output distributions at the condition's evaluation
positions, its static input-embedding matrix [V, H] and its layer-wise empirical Fisher
information (see seqens.fisher)."""

from pathlib import Path

import torch

from seqens.config import Member
from seqens.extraction import ExtractionFiles, extract_member
from seqens.member import load_member
from seqens.positions import EvalPositions
from seqens.runner import run_script
from seqens.training import resolve_device


def main(snakemake):
    torch.set_num_threads(snakemake.params.threads)  # the config's, not the allocation
    inputs, output, extraction = snakemake.input, snakemake.output, snakemake.params.extraction
    positions = EvalPositions.load(Path(inputs.positions))
    extract_member(
        load_member(Member.from_wildcards(snakemake.wildcards), Path(inputs.manifest).parent, inputs.tokenizer),
        positions,
        positions,
        batch_size=extraction["batch_size"],
        fisher_sequences=extraction["fisher_sequences"],
        fisher_method=extraction["fisher_method"],
        fisher_chunk_size=extraction["fisher_chunk_size"],
        device=resolve_device(snakemake.config["training"]["device"]),  # run-time choice, not a param
        files=ExtractionFiles(
            output.distributions, output.record, output.fisher, output.fisher_per_sequence, output.embeddings
        ),
    )


run_script(snakemake, main)
