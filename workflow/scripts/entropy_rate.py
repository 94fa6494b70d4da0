"""One corpus's entropy rate: a mixed-order model and compressors on its held-out split (see
seqens.entropy_rate)."""

from seqens.entropy_rate import entropy_rate_table
from seqens.runner import log, run_script
from seqens.tables import write_table


def main(snakemake):
    settings = snakemake.params.settings
    table = entropy_rate_table(
        snakemake.params.kind,
        snakemake.input.train,
        snakemake.input.eval,
        dna_orders=sorted(settings["dna_orders"]),
        text_orders=sorted(settings["text_orders"]),
        prior_strength=settings["prior_strength"],
        forgetting=settings["forgetting"],
        train_characters=settings["train_characters"],
        held_out_characters=settings["held_out_characters"],
    )
    write_table(table, snakemake.output.table)
    log.info("bits per base or character:\n%s", table.to_string(index=False))


run_script(snakemake, main)
