"""One condition's own entropy: held-out cross-entropy of smoothed k-th order Markov models
of its tokens (see seqens.markov) and, beside them, its corpus's entropy rate (rule
entropy_rate); the training unigram model, the baseline of what members learned; and the
characters per token at its evaluation positions."""

import numpy as np
import pandas as pd

from seqens.io import save_array_atomic, write_json_atomic
from seqens.markov import held_out_positions, markov_cross_entropies, unigram_log2_probs
from seqens.packing import load_tokens
from seqens.runner import log, run_script
from seqens.tables import write_table
from seqens.tokenization import SequenceTokenizer


def main(snakemake):
    params = snakemake.params
    tokenizer = SequenceTokenizer(snakemake.input.tokenizer)
    characters = tokenizer.characters_per_token()
    train = load_tokens(snakemake.input.train)
    held_out = np.asarray(load_tokens(snakemake.input.eval))
    # Markov counts on evenly spaced training sequences when capped (not the head of the
    # split, which is one region of one genome); the unigram baseline on all of them.
    counted = train
    if params.train_sequences and params.train_sequences < len(train):
        counted = train[np.unique(np.linspace(0, len(train) - 1, params.train_sequences).astype(np.int64))]
    n_special = tokenizer.layout.count
    table = markov_cross_entropies(
        np.asarray(counted), held_out, max_order=params.max_order, vocab_size=tokenizer.vocab_size, n_special=n_special
    )
    _, scored = held_out_positions(held_out, max_order=0, vocab_size=tokenizer.vocab_size, n_special=n_special)
    table.insert(0, "model", "markov")
    table["characters_per_token"] = characters[scored].mean()
    table["bits_per_character"] = table["bits_per_token"] / table["characters_per_token"]
    # The corpus's entropy rate per base or character, and per token of this condition's
    # tokens (x their mean characters): references, not models of the tokens.
    rate = pd.read_csv(snakemake.input.entropy_rate)
    rate = rate.assign(
        order=rate["max_order"],
        targets=rate["characters"],
        distinct_contexts=np.nan,
        characters_per_token=table["characters_per_token"].iloc[0],
        bits_per_token=rate["bits_per_character"] * table["characters_per_token"].iloc[0],
    )
    table = pd.concat([table, rate[[*table.columns, "train_characters"]]], ignore_index=True)
    table["log2_vocab"] = np.log2(tokenizer.vocab_size)
    write_table(table, snakemake.output.data_entropy)
    save_array_atomic(snakemake.output.unigram, unigram_log2_probs(np.asarray(train), vocab_size=tokenizer.vocab_size, n_special=n_special))
    with np.load(snakemake.input.positions) as positions:
        targets = positions["input_ids"][positions["positions"]]
    write_json_atomic(
        snakemake.output.targets,
        {"positions": int(len(targets)), "characters_per_target": float(characters[targets].mean())},
    )
    log.info("Held-out bits by model and order:\n%s", table[["model", "order", "bits_per_token", "bits_per_character"]])


run_script(snakemake, main)
