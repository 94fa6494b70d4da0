"""Train one ensemble member (condition x objective x seed); see seqens.training."""

import math
from pathlib import Path

import torch

from seqens.config import RUNTIME_TRAINING_KEYS, Member
from seqens.errors import InputError
from seqens.objectives import make_objective
from seqens.packing import load_tokens
from seqens.positions import draw_eval_positions
from seqens.runner import log, run_script
from seqens.special import special_tokens
from seqens.tokenization import SequenceTokenizer
from seqens.training import (
    FisherDuringTraining,
    TrainSettings,
    member_provenance,
    provenance_fingerprint,
    train_member,
    write_member,
)


def main(snakemake):
    wildcards, params = snakemake.wildcards, snakemake.params
    member = Member.from_wildcards(wildcards)
    # The config's thread count, never the allocation: it changes the sums, so the weights.
    torch.set_num_threads(params.threads)
    tokenizer = SequenceTokenizer(snakemake.input.tokenizer)
    objective = make_objective(
        wildcards.objective, special_tokens(tokenizer.vocab_size), params.objective_params, wildcards.architecture
    )
    train_tokens, eval_tokens = load_tokens(snakemake.input.train), load_tokens(snakemake.input.eval)
    for name, tokens in (("train", train_tokens), ("eval", eval_tokens)):
        if int(tokens.max()) >= tokenizer.vocab_size:
            raise InputError(
                f"member {member.path}: {name} tokens hold id {int(tokens.max())} but the tokenizer has "
                f"{tokenizer.vocab_size} entries (tokens and tokenizer are out of sync: rerun pack_tokens)"
            )
    # Cadence and device reach the job from the config, not as params: editing them reruns
    # nothing. (The device changes the arithmetic: train_member resumes a checkpoint only on
    # the same kind of device and autocast.)
    runtime = {key: snakemake.config["training"][key] for key in RUNTIME_TRAINING_KEYS}
    settings = TrainSettings.from_config(
        {**params.training, **runtime}, seed=int(wildcards.seed), data_seed=params.data_seed
    )
    provenance = member_provenance(
        params.config_slice, snakemake.input.tokenizer, snakemake.input.train, snakemake.input.eval,
        member.wildcards, objective,
    )
    fisher_log = params.training["fisher_log"]
    fisher = (
        FisherDuringTraining(
            draw_eval_positions(
                Path(snakemake.input.eval),
                n_sequences=fisher_log["sequences"],
                mask_fraction=fisher_log["mask_fraction"],
                seed=params.data_seed,
            ),
            every=fisher_log["every"],
        )
        if fisher_log
        else None
    )
    checkpoint = Path(params.checkpoint)
    model, result = train_member(
        objective,
        params.preset,
        train_tokens,
        eval_tokens,
        settings,
        checkpoint_path=checkpoint,
        run_fingerprint=provenance_fingerprint(provenance),
        fisher=fisher,
    )
    write_member(objective, model, result, Path(snakemake.input.tokenizer), Path(snakemake.output.member), provenance)
    checkpoint.unlink(missing_ok=True)
    final = result.log["eval_loss"].dropna().iloc[-1]
    log.info("member %s: final eval loss %.4f nats (%.4f bits)", member.path, final, final / math.log(2))


run_script(snakemake, main)
