"""Probe every member of one ensemble, and the same members untrained, on the corpus's probe
tasks; with the baselines that need no model (see seqens.probes.fit)."""

import json
from pathlib import Path

import pandas as pd
import torch
from threadpoolctl import threadpool_limits

from seqens.config import Condition, Member, file_of
from seqens.layers import hidden_state_names
from seqens.member import load_member
from seqens.probes.examples import Examples
from seqens.probes.fit import kmer_counts, mean_pooled_states, probe_predictions, token_counts, token_rows
from seqens.runner import log, run_script
from seqens.tables import write_table
from seqens.tokenization import SequenceTokenizer


def main(snakemake):
    # The config's thread count for torch and for the BLAS under scikit-learn: the numbers
    # must not depend on the cores a job is given.
    torch.set_num_threads(snakemake.params.threads)
    threadpool_limits(snakemake.params.threads)
    params, wildcards = snakemake.params, snakemake.wildcards
    condition = Condition(wildcards.corpus, wildcards.tokenizer, kind=params.kind)
    probing = params.probing
    tokenizer = SequenceTokenizer(snakemake.input.tokenizer)
    tables = []
    for path in snakemake.input.examples:
        record = json.loads(Path(path).read_text())
        examples = Examples.from_json(record)
        rows = token_rows(tokenizer, examples.texts, params.sequence_length)
        features = {}
        for seed in params.seeds:
            identity = Member(condition, wildcards.architecture, wildcards.objective, seed)
            manifest = file_of(snakemake.input.manifests, identity)  # by its path, not its position
            member = load_member(identity, Path(manifest).parent, snakemake.input.tokenizer)
            features[f"member:{seed}"] = mean_pooled_states(member.objective, member.model, rows)
            torch.manual_seed(seed)  # the member's own initialisation (seqens.training)
            untrained = member.objective.build_model(params.preset)
            features[f"random_init:{seed}"] = mean_pooled_states(member.objective, untrained, rows)
        layers = hidden_state_names(len(next(iter(features.values()))))
        if not probing["every_layer"]:
            layers = layers[-1:]
        if params.kind == "dna":
            k = params.kmer[record["probe"]]
            baseline, baseline_features = f"kmer{k}_counts", kmer_counts(examples.texts, k)
        else:
            baseline, baseline_features = "bag_of_tokens", token_counts(rows, tokenizer.vocab_size)
        predictions = probe_predictions(
            examples, features, baseline=baseline, baseline_features=baseline_features, layers=layers,
            folds=probing["folds"], cs=probing["regularisation_grid"], seed=params.seed,
        )
        table = pd.DataFrame(predictions).assign(probe=record["probe"])
        scores = table.assign(correct=table["label"] == table["prediction"]).groupby(["layer", "model", "seed"])["correct"].mean()
        log.info("probe %s accuracies:\n%s", record["probe"], scores.to_string())
        tables.append(table)
    write_table(pd.concat(tables, ignore_index=True), snakemake.output.predictions)


run_script(snakemake, main)
