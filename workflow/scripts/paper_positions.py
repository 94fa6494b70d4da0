"""Draw one condition's evaluation positions under the paper's rule (see
seqens.positions.draw_bernoulli_positions): for the distributions, and for the Fisher."""

from pathlib import Path

from seqens import paper_definitions
from seqens.leakage import read_kept
from seqens.positions import draw_bernoulli_positions
from seqens.runner import log, run_script


def main(snakemake):
    extraction, eval_tokens = snakemake.params.extraction, Path(snakemake.input.eval)
    kept = read_kept(snakemake.input.leakage, **snakemake.params.leakage_filter) if snakemake.input.leakage else None
    draws = {
        "outputs": dict(n_sequences=extraction["sequences"], probability=extraction["mask_fraction"], stream=1),
        "fisher": dict(
            n_sequences=paper_definitions.FISHER_SEQUENCES,
            probability=paper_definitions.FISHER_MASK_PROBABILITY,
            stream=2,
        ),
    }
    for output, draw in draws.items():
        positions = draw_bernoulli_positions(eval_tokens, seed=snakemake.params.seed, kept=kept, **draw)
        positions.save(Path(snakemake.output[output]))
        log.info("%s: %d sequences, %d positions", output, len(positions.input_ids), int(positions.positions.sum()))


run_script(snakemake, main)
