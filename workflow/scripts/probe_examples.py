"""Cut one probe's labelled examples from its source and its prepared corpus (see
seqens.probes.examples)."""

from pathlib import Path

from seqens.io import manifest, write_json_atomic
from seqens.probes.examples import build_dna_examples, build_text_examples
from seqens.runner import log, run_script


def main(snakemake):
    name, spec = snakemake.wildcards.probe, snakemake.params.spec
    probe, corpus, inputs = spec["probe"], spec["corpus"], snakemake.input
    common = dict(probe_file=Path(inputs.source), seed=spec["data_seed"])
    if corpus["kind"] == "dna":
        examples = build_dna_examples(
            name, probe, corpus, fasta_files=[Path(p) for p in inputs.sequences], coordinates=Path(inputs.coordinates),
            **common,
        )
    else:
        examples = build_text_examples(
            name, probe, corpus, train_file=Path(inputs.train), eval_file=Path(inputs.eval), **common
        )
    log.info("probe %s: %d examples of %d classes, %d in the test split", name, len(examples.texts),
             len(examples.classes), int(examples.is_test.sum()))
    record = manifest(config=spec, inputs={"source": inputs.source}, probe=name, **examples.to_json())
    write_json_atomic(snakemake.output.examples, record)


run_script(snakemake, main)
