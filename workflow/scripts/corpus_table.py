"""Collect per-condition corpus statistics and leakage audits into results/tables/corpora.csv
and leakage.csv."""

import json

import pandas as pd

from seqens.runner import run_script
from seqens.tables import corpus_table, write_table


def main(snakemake):
    tokens = [json.loads(open(p).read()) for p in snakemake.input.tokens]
    corpora = [json.loads(open(p).read()) for p in snakemake.input.corpora]
    audits = [pd.read_csv(p) for p in snakemake.input.leakage]
    write_table(corpus_table(tokens, corpora, audits), snakemake.output.corpora)
    conditions = [f"{record['corpus']}-{record['tokenizer']}" for record in tokens]
    leakage = pd.concat([audit.assign(condition=c) for audit, c in zip(audits, conditions)], ignore_index=True)
    write_table(leakage[["condition", *audits[0].columns]], snakemake.output.leakage)


run_script(snakemake, main)
