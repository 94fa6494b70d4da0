"""Fetch one published member into a member folder (see seqens.published)."""

from pathlib import Path

from seqens.published import fetch_member, member_model
from seqens.runner import run_script


def main(snakemake):
    wildcards, (name, entry) = snakemake.wildcards, snakemake.params.entry
    seed = int(wildcards.seed)
    fetch_member(
        entry,
        seed,
        wildcards.objective,
        wildcards.architecture,
        Path(snakemake.output.manifest).parent,
        Path(snakemake.input.tokenizer),
        Path(snakemake.params.hub_cache),
        what=f"published.{name}, member of seed {seed} ({member_model(entry, seed)})",
        key=f"published.{name}",
    )


run_script(snakemake, main)
