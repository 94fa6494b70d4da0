"""Draw one condition's evaluation positions under the paper's rule (see
seqens.positions.draw_bernoulli_positions): for the distributions, and for the Fisher and the contextual embeddings."""

from pathlib import Path

from seqens import paper_definitions
from seqens.positions import draw_bernoulli_positions
from seqens.runner import log, run_script


def main(snakemake):
    extraction, eval_tokens = snakemake.params.extraction, Path(snakemake.input.eval)
    draws = {
        "outputs": dict(n_sequences=extraction["sequences"], probability=extraction["mask_fraction"], stream=1),
        # The paper masks its Fisher's and its contextual embeddings' sequences alike.
        "masked": dict(
            n_sequences=paper_definitions.SEQUENCES,
            probability=paper_definitions.MASK_PROBABILITY,
            stream=2,
        ),
    }
    for output, draw in draws.items():
        positions = draw_bernoulli_positions(eval_tokens, seed=snakemake.params.seed, **draw)
        positions.save(Path(snakemake.output[output]))
        log.info("%s: %d sequences, %d positions", output, len(positions.input_ids), int(positions.positions.sum()))


run_script(snakemake, main)
