"""One condition's count baselines at its evaluation positions, for the members that see
the tokens on both sides of a position (two_sided) or those before it (one_sided): the
log2-probability of each position's token under the count model of every order (seqens.counts),
keyed by the position's row and column, and the held-out choice of order and discounts."""

import numpy as np

from seqens.counts import count_baselines
from seqens.io import atomic_path
from seqens.packing import load_tokens
from seqens.positions import EvalPositions
from seqens.runner import log, run_script
from seqens.tables import write_table
from seqens.tokenization import SequenceTokenizer


def main(snakemake):
    params = snakemake.params
    positions = EvalPositions.load(snakemake.input.positions)
    tokenizer = SequenceTokenizer(snakemake.input.tokenizer)
    found = count_baselines(
        load_tokens(snakemake.input.train),
        positions.input_ids,
        positions.positions,
        max_order=params.extraction["counts_max_order"],
        two_sided=snakemake.wildcards.context == "two_sided",
        vocab_size=tokenizer.vocab_size,
        held_out_sequences=params.extraction["counts_held_out_sequences"],
        train_sequences=params.extraction["counts_train_sequences"],
        mask_fraction=params.extraction["mask_fraction"],
        seed=params.seed,
        n_special=tokenizer.layout.count,
    )
    rows, columns = np.nonzero(positions.positions)
    with atomic_path(snakemake.output.log2_probs) as tmp:
        with open(tmp, "wb") as handle:
            np.savez(
                handle,
                log2_probs=found.log2_probs,
                best_order=np.array(found.best_order),
                rows=rows,
                columns=columns,
                positions_fingerprint=np.array(positions.fingerprint),
            )
    write_table(found.selection, snakemake.output.selection)
    cross_entropy = -found.log2_probs.mean(axis=1)
    log.info(
        "%s count models: best order %d on held-out training rows\n%s\nat the evaluation positions (bits/token): %s",
        snakemake.wildcards.context,
        found.best_order,
        found.selection.to_string(index=False),
        np.round(cross_entropy, 4).tolist(),
    )


run_script(snakemake, main)
