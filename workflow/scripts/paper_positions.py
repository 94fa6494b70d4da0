"""Draw one condition's evaluation positions under the paper's rule (see
seqens.positions.draw_bernoulli_positions): for the distributions, and for the Fisher."""

from pathlib import Path

from seqens import paper_definitions
from seqens.leakage import read_kept
from seqens.positions import draw_bernoulli_positions
from seqens.runner import log, run_script
from seqens.special import layout_of


def main(snakemake):
    extraction, eval_tokens = snakemake.params.extraction, Path(snakemake.input.eval)
    kept = read_kept(snakemake.input.leakage, **snakemake.params.leakage_filter) if snakemake.input.leakage else None
    pad_id = layout_of(snakemake.params.tokenizer_type).special_tokens(0).pad
    draws = {
        "outputs": dict(n_sequences=extraction["sequences"], probability=extraction["mask_fraction"], stream=1),
        "fisher": dict(
            n_sequences=paper_definitions.FISHER_SEQUENCES,
            probability=paper_definitions.FISHER_MASK_PROBABILITY,
            stream=2,
        ),
    }
    for output, draw in draws.items():
        positions = draw_bernoulli_positions(eval_tokens, seed=snakemake.params.seed, kept=kept, pad_id=pad_id, **draw)
        positions.save(Path(snakemake.output[output]))
        log.info("%s: %d sequences, %d positions", output, len(positions.input_ids), int(positions.positions.sum()))


run_script(snakemake, main)
