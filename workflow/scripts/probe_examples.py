"""Cut one probe's labelled examples from its source and its corpus (see seqens.probes)."""

from pathlib import Path

from seqens.io import manifest, write_json_atomic
from seqens.probes import build_examples
from seqens.runner import log, run_script


def main(snakemake):
    name, spec = snakemake.wildcards.probe, snakemake.params.spec
    examples = build_examples(
        name, spec["probe"], spec["corpus"], probe_file=Path(snakemake.input.source),
        corpus_files=[Path(p) for p in snakemake.input.corpus], eval_fraction=spec["eval_fraction"], seed=spec["data_seed"],
    )
    log.info("probe %s: %d examples of %d classes, %d in the test split", name, len(examples.texts),
             len(examples.classes), int(examples.is_test.sum()))
    record = manifest(config=spec, inputs={"source": snakemake.input.source}, probe=name, **examples.to_json())
    write_json_atomic(snakemake.output.examples, record)


run_script(snakemake, main)
