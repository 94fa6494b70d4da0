"""Draw one condition's fixed evaluation positions (see seqens.extraction), from the sequences
the leakage audit keeps where extraction.leakage.max_shared_fraction is set."""

from pathlib import Path

from seqens.leakage import read_kept
from seqens.positions import draw_eval_positions
from seqens.runner import log, run_script
from seqens.special import layout_of


def main(snakemake):
    extraction = snakemake.params.extraction
    kept = read_kept(snakemake.input.leakage, **snakemake.params.leakage_filter) if snakemake.input.leakage else None
    positions = draw_eval_positions(
        Path(snakemake.input.eval),
        n_sequences=extraction["sequences"],
        mask_fraction=extraction["mask_fraction"],
        seed=snakemake.params.seed,
        kept=kept,
        n_special=layout_of(snakemake.params.tokenizer_type).count,
    )
    positions.save(Path(snakemake.output[0]))
    log.info("%d sequences, %d evaluation positions", len(positions.input_ids), int(positions.positions.sum()))


run_script(snakemake, main)
