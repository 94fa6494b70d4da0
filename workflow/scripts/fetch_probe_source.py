"""Fetch one probe's labelled source into resources/ and write its provenance record (see seqens.sources)."""

import json
from pathlib import Path

from seqens.io import atomic_path
from seqens.runner import log, run_script
from seqens.sources import fetch_source


def main(snakemake):
    record = fetch_source(
        snakemake.wildcards.probe,
        snakemake.params.source,
        Path(snakemake.output.source),
        lock_file=Path(snakemake.params.lock_file),
        what="probe",
    )
    with atomic_path(snakemake.output.record) as tmp:
        tmp.write_text(json.dumps(record, indent=2) + "\n")
    log.info("fetched %s", record)


run_script(snakemake, main)
