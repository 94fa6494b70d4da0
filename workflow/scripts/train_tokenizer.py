"""Train or build one condition's tokenizer on the train split (see seqens.tokenization)."""

from pathlib import Path

from seqens.io import manifest
from seqens.packing import check_budget_fits
from seqens.prepare import read_split
from seqens.progress import progress
from seqens.published import save_published_tokenizer
from seqens.runner import log, run_script
from seqens.tokenization import build_tokenizer, capped_texts, save_tokenizer


def main(snakemake):
    spec, kind = snakemake.params.spec, snakemake.params.kind
    corpus, tokenizer = snakemake.wildcards.corpus, snakemake.wildcards.tokenizer
    # Refused now rather than in pack_tokens, after training. Read at run time, not as params:
    # the budget does not shape the tokenizer, so editing it retrains none.
    check_budget_fits(
        {"train": snakemake.input.train, "eval": snakemake.input.eval},
        snakemake.config["data"],
        spec,
        snakemake.config["corpora"][corpus]["window"],
        f"{corpus}-{tokenizer}",
    )
    if spec["type"] == "pretrained":  # a published model's, renumbered (seqens.published)
        size = save_published_tokenizer(
            spec, kind, Path(snakemake.output[0]), Path(snakemake.params.hub_cache),
            snakemake.params.model_max_length, what=f"tokenizers.{tokenizer}",
        )
        log.info("tokenizer of %s for %s: vocabulary of %d", spec["model"], kind, size)
        return
    documents = read_split(snakemake.input.train)
    # The paper's BPE trains on every document of its training split (no cap: None).
    if snakemake.params.max_characters is not None:
        documents = capped_texts(documents, snakemake.params.max_characters)
    texts = progress(
        documents,
        desc="tokenizer training: documents read",
        unit="doc",
    )
    tokenizer = build_tokenizer(spec, kind, texts)
    out = Path(snakemake.output[0])
    provenance = manifest(
        config={"tokenizer": spec, "kind": kind, "max_characters": snakemake.params.max_characters},
        inputs={"train_text": snakemake.input.train},
    )
    save_tokenizer(tokenizer, spec, kind, out, snakemake.params.model_max_length, provenance)
    log.info("%s tokenizer for %s: vocabulary of %d", spec["type"], kind, tokenizer.get_vocab_size())


run_script(snakemake, main)
