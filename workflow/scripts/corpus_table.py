"""Collect per-condition corpus statistics into results/tables/corpora.csv."""

import json

from seqens.runner import run_script
from seqens.tables import corpus_table, write_table


def main(snakemake):
    tokens = [json.loads(open(p).read()) for p in snakemake.input.tokens]
    corpora = [json.loads(open(p).read()) for p in snakemake.input.corpora]
    table = corpus_table(tokens, corpora)
    write_table(table, snakemake.output[0])


run_script(snakemake, main)
