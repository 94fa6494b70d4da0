"""Train one ensemble member (condition x objective x seed); see seqens.training, and
seqens.member for the folder it writes.

With training.devices N > 1 this script launches itself under torchrun as N processes (the
file Snakemake runs carries the job's inputs and params, so every process reads them here as
one process would); see seqens.distributed."""

import math
import sys
from pathlib import Path

import torch

from seqens.config import RUNTIME_TRAINING_KEYS, Member
from seqens.distributed import Ranks, check_devices, launch, process_group
from seqens.errors import InputError
from seqens.io import remove_with_empty_folders
from seqens.member import member_provenance, provenance_fingerprint, write_member
from seqens.objectives import make_objective
from seqens.packing import load_tokens
from seqens.positions import draw_eval_positions
from seqens.runner import log, run_script
from seqens.tokenization import SequenceTokenizer
from seqens.training import FisherDuringTraining, TrainSettings, resolve_device, train_member


def main(snakemake):
    wildcards, params = snakemake.wildcards, snakemake.params
    member = Member.from_wildcards(wildcards)
    # Cadence, device and devices reach the job from the config, not as params: editing them
    # reruns nothing. (They change the arithmetic: train_member resumes a checkpoint only under
    # the same device, autocast and number of processes.)
    runtime = {key: snakemake.config["training"][key] for key in RUNTIME_TRAINING_KEYS}
    settings = TrainSettings.from_config(
        {**params.training, **runtime}, seed=int(wildcards.seed), data_seed=params.data_seed
    )
    ranks = Ranks.from_environment()
    if settings.devices > 1 and ranks.size == 1:
        check_devices(settings.devices, settings.device)
        log.info("member %s: %d training processes under torchrun", member.path, settings.devices)
        status = launch(sys.argv[0], settings.devices, params.threads)  # this very file, as Snakemake runs it
        if status:
            log.error("member %s: a training process failed (exit status %d); its error is above", member.path, status)
            sys.exit(status)
        return
    # The config's thread count, never the allocation: it changes the sums, so the weights.
    torch.set_num_threads(params.threads)
    tokenizer = SequenceTokenizer(snakemake.input.tokenizer)
    objective = make_objective(
        wildcards.objective, tokenizer.special, params.objective_params, wildcards.architecture
    )
    train_tokens, eval_tokens = load_tokens(snakemake.input.train), load_tokens(snakemake.input.eval)
    for name, tokens in (("train", train_tokens), ("eval", eval_tokens)):
        if int(tokens.max()) >= tokenizer.vocab_size:
            raise InputError(
                f"member {member.path}: {name} tokens hold id {int(tokens.max())} but the tokenizer has "
                f"{tokenizer.vocab_size} entries (tokens and tokenizer are out of sync: rerun pack_tokens)"
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
                n_special=tokenizer.layout.count,
            ),
            every=fisher_log["every"],
        )
        if fisher_log
        else None
    )
    checkpoint = Path(params.checkpoint)
    with process_group(ranks, resolve_device(settings.device).type):
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
    if not ranks.main:  # rank 0 writes the member
        return
    write_member(objective, model, result, Path(snakemake.input.tokenizer), Path(snakemake.output.manifest).parent, provenance)
    # The checkpoint, and the folders under results/checkpoints/ it leaves empty.
    remove_with_empty_folders(checkpoint, Path(snakemake.config["results"]) / "checkpoints")
    final = result.log["eval_loss"].dropna().iloc[-1]
    log.info("member %s: final eval loss %.4f nats (%.4f bits)", member.path, final, final / math.log(2))


run_script(snakemake, main)
