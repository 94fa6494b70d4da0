"""CPU time of the probe stage's parts on a finished study (the demo by default).

    python benchmarks/bench_probes.py                  # results/ of config/config.yaml
    python benchmarks/bench_probes.py --results results

Per probe: cutting the examples from the study's prepared corpus (build_text_examples or
build_dna_examples, as probe_examples does). Per ensemble: loading its members, their mean-pooled states and those of the same
members untrained, and the probe and baseline fits (as probe_ensemble does, with one
thread). Process CPU seconds (time.process_time), so other load on the machine does not
count. Interpreter and library start-up of each job (about 5 s for torch, transformers and
scikit-learn) come on top; `/usr/bin/time snakemake <probe targets> --cores 1` gives the
stage's whole cost.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "workflow" / "scripts"))


def cpu(function):
    started = time.process_time()
    result = function()
    return time.process_time() - started, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=str(REPO / "config" / "config.yaml"))
    parser.add_argument("--results", default=str(REPO / "results"))
    args = parser.parse_args()

    import torch
    from threadpoolctl import threadpool_limits

    from seqens.config import load_study
    from seqens.layers import hidden_state_names
    from seqens.member import load_member
    from seqens.probes.examples import build_dna_examples, build_text_examples
    from seqens.probes.fit import kmer_counts, mean_pooled_states, probe_predictions, token_counts, token_rows
    from seqens.sources import local_file
    from seqens.tokenization import SequenceTokenizer

    torch.set_num_threads(1)
    threadpool_limits(1)
    study = load_study(args.config)
    results = Path(args.results)
    examples = {}
    print(f"{'step':60s} {'CPU s':>7s}")
    for name in study.active_probes:
        spec = study.probe_slice(name)
        probe, corpus = spec["probe"], spec["corpus"]
        prepared = results / "corpora" / probe["corpus"]
        common = dict(probe_file=local_file(name, probe["source"], "probe"), seed=spec["data_seed"])
        if corpus["kind"] == "dna":
            files = [local_file(probe["corpus"], s, "corpus") for s in [corpus["source"], *corpus["sources"]]]
            seconds, examples[name] = cpu(lambda: build_dna_examples(
                name, probe, corpus, fasta_files=files, coordinates=prepared / "coordinates.tsv.gz", **common))
        else:
            seconds, examples[name] = cpu(lambda: build_text_examples(
                name, probe, corpus, train_file=prepared / "train.txt", eval_file=prepared / "eval.txt", **common))
        print(f"{'examples ' + name + f' ({len(examples[name].texts)})':60s} {seconds:7.2f}")
    probing = study.config["probing"]
    for ensemble in study.ensembles:
        probes = [n for n in study.active_probes if study.config["probes"][n]["corpus"] == ensemble.condition.corpus]
        if not probes:
            continue
        tokenizer_dir = results / "tokenizers" / ensemble.condition.path
        tokenizer = SequenceTokenizer(tokenizer_dir)
        for name in probes:
            task = examples[name]
            rows = token_rows(tokenizer, task.texts, study.config["data"]["sequence_length"])
            features, load_s, states_s = {}, 0.0, 0.0
            for member in ensemble.members:
                seconds, loaded = cpu(lambda: load_member(member, results / "models" / member.path, tokenizer_dir))
                load_s += seconds
                seconds, features[f"member:{member.seed}"] = cpu(lambda: mean_pooled_states(loaded.objective, loaded.model, rows))
                states_s += seconds
                torch.manual_seed(member.seed)
                untrained = loaded.objective.build_model(study.preset())
                seconds, features[f"random_init:{member.seed}"] = cpu(lambda: mean_pooled_states(loaded.objective, untrained, rows))
                states_s += seconds
            if ensemble.condition.kind == "dna":
                k = study.config["probes"][name]["kmer"]
                baseline, counts = f"kmer{k}_counts", kmer_counts(task.texts, k)
            else:
                baseline, counts = "bag_of_tokens", token_counts(rows, tokenizer.vocab_size)
            fit_s, _ = cpu(lambda: probe_predictions(task, features, baseline=baseline, baseline_features=counts,
                                                     layers=hidden_state_names(len(features[f"member:{member.seed}"]))[-1:],
                                                     folds=probing["folds"],
                                                     cs=probing["regularisation_grid"], seed=study.config["data_seed"]))
            label = f"{ensemble.name} / {name}"
            print(f"{label + ': load members':60s} {load_s:7.2f}")
            print(f"{label + ': pooled states (trained + untrained)':60s} {states_s:7.2f}")
            print(f"{label + ': probe and baseline fits':60s} {fit_s:7.2f}")


if __name__ == "__main__":
    main()
