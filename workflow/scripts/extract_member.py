"""One member, one model load: its output distributions at the condition's evaluation
positions, its static input-embedding matrix [V, H] and its layer-wise empirical Fisher
information (see seqens.fisher); where the job has the paper's files, the same member under
the paper's definitions (seqens.paper_definitions): its distributions at the paper's
positions and its mini-batch Fisher (batches of 8, 256 sequences) at the paper's masking."""

from pathlib import Path

import torch

from seqens import paper_definitions
from seqens.config import Member
from seqens.extraction import Extraction, ExtractionFiles, extract_member
from seqens.member import load_member
from seqens.positions import EvalPositions
from seqens.runner import run_script
from seqens.training import resolve_device


def main(snakemake):
    torch.set_num_threads(snakemake.params.threads)  # the config's, not the allocation
    inputs, output, settings = snakemake.input, snakemake.output, snakemake.params.extraction
    positions = EvalPositions.load(Path(inputs.positions))
    extractions = [
        Extraction(
            positions,
            positions,
            settings["fisher_sequences"],
            settings["fisher_method"],
            settings["fisher_chunk_size"],
            ExtractionFiles(
                output.distributions, output.record, output.fisher, output.fisher_per_sequence, output.embeddings
            ),
        )
    ]
    if "paper_distributions" in output.keys():  # extract_member, not extract_member_corrected
        extractions.append(
            Extraction(
                EvalPositions.load(Path(inputs.paper_positions)),
                EvalPositions.load(Path(inputs.paper_masked_positions)),
                paper_definitions.SEQUENCES,
                "minibatch",
                paper_definitions.FISHER_BATCH_SIZE,
                ExtractionFiles(
                    output.paper_distributions, output.paper_record, output.paper_fisher, output.paper_fisher_per_batch
                ),
            )
        )
    extract_member(
        load_member(Member.from_wildcards(snakemake.wildcards), Path(inputs.manifest).parent, inputs.tokenizer),
        extractions,
        batch_size=settings["batch_size"],
        device=resolve_device(snakemake.config["training"]["device"]),  # run-time choice, not a param
    )


run_script(snakemake, main)
