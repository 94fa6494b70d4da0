"""Fetch one corpus source into resources/ (see seqens.sources)."""

from pathlib import Path

from seqens.runner import log, run_script
from seqens.sources import fetch_source


def main(snakemake):
    record = fetch_source(
        snakemake.wildcards.corpus,
        snakemake.params.source,
        Path(snakemake.output[0]),
        lock_file=Path(snakemake.params.lock_file),
    )
    log.info("fetched %s", record)


run_script(snakemake, main)
