"""Prepare one corpus into train/eval splits (see seqens.prepare)."""

from pathlib import Path

from seqens.io import manifest, write_json_atomic
from seqens.prepare import prepare_dna, prepare_text
from seqens.runner import log, run_script
from seqens.sources import named_by_origin, source_origins


def main(snakemake):
    corpus_name = snakemake.wildcards.corpus
    corpus = snakemake.params.corpus
    preparation = snakemake.params.preparation
    sources = [Path(p) for p in snakemake.input]
    out_dir = Path(snakemake.output.train).parent
    common = dict(
        eval_fraction=preparation["eval_fraction"],
        seed=snakemake.params.seed,
        max_characters=preparation.get("max_characters"),
    )
    # The readers' errors name the fetched copies under resources/; the user knows the sources.
    with named_by_origin(sources, source_origins(corpus_name, corpus)):
        if corpus["kind"] == "dna":
            stats = prepare_dna(
                corpus_name,
                sources,
                out_dir,
                window=corpus["window"],
                softmask=corpus["softmask"],
                max_n_fraction=corpus["max_n_fraction"],
                eval_block=corpus["eval_block"],
                **common,
            )
        else:
            stats = prepare_text(
                corpus_name,
                sources,
                out_dir,
                fmt=corpus["format"],
                field=corpus.get("field"),
                encoding=corpus.get("encoding", "utf-8"),
                **common,
            )
    for split, split_stats in stats.splits.items():
        log.info("%s %s: %d items, %d characters", corpus_name, split, split_stats.items, split_stats.characters)
    record = manifest(
        config={"corpus": corpus, "preparation": preparation, "data_seed": snakemake.params.seed},
        inputs={f"source{i}": path for i, path in enumerate(sources)},
        stats=stats.as_dict(),
    )
    write_json_atomic(snakemake.output.stats, record)


run_script(snakemake, main)
