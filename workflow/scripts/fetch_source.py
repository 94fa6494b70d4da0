"""Fetch one source, a corpus's or a probe's (params.what, also the wildcard naming it), into
resources/ and write its provenance record (see seqens.sources)."""

import json
from pathlib import Path

from seqens.io import atomic_path
from seqens.runner import log, run_script
from seqens.sources import fetch_source


def main(snakemake):
    what = snakemake.params.what
    record = fetch_source(
        getattr(snakemake.wildcards, what),
        snakemake.params.source,
        Path(snakemake.output.source),
        lock_file=Path(snakemake.params.lock_file),
        what=what,
    )
    with atomic_path(snakemake.output.record) as tmp:
        tmp.write_text(json.dumps(record, indent=2) + "\n")
    log.info("fetched %s", record)


run_script(snakemake, main)
