"""Pack both splits of one condition into fixed-length token arrays (see seqens.packing)."""

from pathlib import Path

from seqens.io import manifest, write_json_atomic
from seqens.packing import load_tokens, pack_sequences, token_statistics
from seqens.prepare import read_split
from seqens.runner import log, run_script
from seqens.tokenization import SequenceTokenizer


def main(snakemake):
    corpus, tokenizer_name = snakemake.wildcards.corpus, snakemake.wildcards.tokenizer
    data = snakemake.params.data
    tokenizer = SequenceTokenizer(snakemake.input.tokenizer)
    splits = {}
    for split, n_sequences in (("train", data["train_sequences"]), ("eval", data["eval_sequences"])):
        out = Path(snakemake.output[split])
        stats = pack_sequences(
            read_split(snakemake.input[split]),
            tokenizer,
            out,
            n_sequences=n_sequences,
            length=data["sequence_length"],
            sampling=data["sampling"],
            what=f"corpus '{corpus}' / tokenizer '{tokenizer_name}' / {split} split",
        )
        splits[split] = {**stats.as_dict(), **token_statistics(
            load_tokens(out), tokenizer.vocab_size, stats.characters, tokenizer.layout
        )}
        log.info("%s/%s %s: %s", corpus, tokenizer_name, split, splits[split])
    record = manifest(
        config=snakemake.params.config_slice,
        inputs={
            "tokenizer": Path(snakemake.input.tokenizer) / "tokenizer.json",
            "train_text": snakemake.input.train,
            "eval_text": snakemake.input.eval,
        },
        corpus=corpus,
        tokenizer=tokenizer_name,
        splits=splits,
    )
    write_json_atomic(snakemake.output.stats, record)


run_script(snakemake, main)
