"""One condition's leakage audit: per evaluation sequence, the share of its long k-grams found
in the training tokens, and whether extraction.leakage keeps it (see seqens.leakage)."""

import numpy as np

from seqens.leakage import kept_sequences, shared_kgrams
from seqens.packing import load_tokens
from seqens.runner import log, run_script
from seqens.tables import write_table
from seqens.tokenization import SequenceTokenizer


def main(snakemake):
    params = snakemake.params
    leakage = params.leakage
    k = leakage["dna_k"] if params.kind == "dna" else leakage["text_k"]
    tokenizer = SequenceTokenizer(snakemake.input.tokenizer)
    audit = shared_kgrams(
        params.kind,
        np.asarray(load_tokens(snakemake.input.eval)),
        load_tokens(snakemake.input.train),
        tokenizer=tokenizer if params.kind == "dna" else None,
        k=k,
        n_special=tokenizer.layout.count,
    )
    audit.insert(1, "k", k)
    audit["kept"] = kept_sequences(audit, leakage["max_shared_fraction"])
    write_table(audit, snakemake.output.audit)
    log.info(
        "k = %d: mean shared fraction %.4f, %d of %d sequences share any k-gram, %d kept",
        k, audit["shared_fraction"].mean(), int((audit["shared_kgrams"] > 0).sum()), len(audit), int(audit["kept"].sum()),
    )


run_script(snakemake, main)
