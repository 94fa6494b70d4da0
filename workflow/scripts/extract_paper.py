"""One member under the paper's definitions (seqens.paper_definitions), in one job so that
the model is loaded once: its distributions at the paper's evaluation positions, and its
mini-batch Fisher (batches of 8, 256 sequences) at the paper's Fisher positions."""

from pathlib import Path

import torch

from seqens import paper_definitions
from seqens.config import Member
from seqens.extraction import ExtractionFiles, extract_member
from seqens.member import load_member
from seqens.positions import EvalPositions
from seqens.runner import run_script
from seqens.training import resolve_device


def main(snakemake):
    torch.set_num_threads(snakemake.params.threads)  # the config's, not the allocation
    inputs, output = snakemake.input, snakemake.output
    extract_member(
        load_member(Member.from_wildcards(snakemake.wildcards), Path(inputs.manifest).parent, inputs.tokenizer),
        EvalPositions.load(Path(inputs.positions)),
        EvalPositions.load(Path(inputs.fisher_positions)),
        batch_size=snakemake.params.extraction["batch_size"],
        fisher_sequences=paper_definitions.FISHER_SEQUENCES,
        fisher_method="minibatch",
        fisher_chunk_size=paper_definitions.FISHER_BATCH_SIZE,
        device=resolve_device(snakemake.config["training"]["device"]),  # run-time choice, not a param
        files=ExtractionFiles(output.distributions, output.record, output.fisher, output.fisher_per_batch),
    )


run_script(snakemake, main)
