"""Write the report's landing page (see seqens.overview)."""

import pandas as pd

from seqens.io import write_text_atomic
from seqens.overview import overview_page
from seqens.runner import run_script
from seqens.tables import corrected_rows


def main(snakemake):
    inputs = snakemake.input
    tables = [pd.read_csv(inputs.outputs), pd.read_csv(inputs.embeddings), pd.read_csv(inputs.fisher)]
    contrasts = pd.concat([corrected_rows(table) for table in tables], ignore_index=True)
    probes = pd.read_csv(inputs.probes) if "probes" in inputs.keys() else None
    reproductions = pd.concat([corrected_rows(pd.read_csv(path)) for path in inputs.reproductions], ignore_index=True)
    page = overview_page(
        snakemake.params.study, corrected_rows(pd.read_csv(inputs.summary)), contrasts, probes, reproductions
    )
    write_text_atomic(snakemake.output.page, page)


run_script(snakemake, main)
