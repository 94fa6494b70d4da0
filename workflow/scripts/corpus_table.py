"""Collect per-condition corpus statistics into results/tables/corpora.csv."""

import json


from seqens.io import atomic_path
from seqens.runner import run_script
from seqens.tables import corpus_table


def main(snakemake):
    tokens = [json.loads(open(p).read()) for p in snakemake.input.tokens]
    corpora = [json.loads(open(p).read()) for p in snakemake.input.corpora]
    table = corpus_table(tokens, corpora)
    with atomic_path(snakemake.output[0]) as tmp:
        table.to_csv(tmp, index=False)


run_script(snakemake, main)
