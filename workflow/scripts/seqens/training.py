"""The training loop of one ensemble member: one readable loop, memory-mapped token arrays.

Members of an ensemble differ only in ``seed``, which seeds the model initialisation and
dropout. Everything on the data side (the order of sequences, the objective's masks) is
drawn from ``data_seed`` and the step number, so it is the same for every member and does
not depend on where a resumed run restarted.

With ``keep: best`` the member is the weights of the evaluation with the lowest held-out
loss, not the last step's; with ``keep: best_saved`` it is what the paper's Trainer loads
(``load_best_model_at_end``), which can only be a checkpoint it saved (every ``save_every``
steps and the last; see ``TrainSettings.may_keep``). ``epochs`` counts steps as the Trainer does: each
epoch ends with a short batch (``DataOrder``). A ``FisherDuringTraining``
records the layer-wise empirical Fisher at fixed held-out positions before the first step
and every few steps (the paper's ``FisherCallback``), with the extraction's estimator.

A checkpoint (model, optimizer, scheduler, RNG state, step, log so far) is written
atomically every ``checkpoint_every`` steps. A restarted job resumes from it; on CPU with
deterministic algorithms the final weights are bit-identical to an uninterrupted run. A
checkpoint holds tensors and plain data only and is read as such (``weights_only``): one
that does not load so, a planted pickle included, or that was written for another
configuration, is reported and ignored, and nothing in it is run.

With ``devices`` > 1 the member trains as that many processes (seqens.distributed): each
computes its share of every step's micro-batches, with the same data order and the same
update as one process. The trained member's folder is written by seqens.member.
"""

from __future__ import annotations

import copy
import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from .distributed import Ranks, accumulating, loss_module, process_device
from .errors import InputError
from .extraction import member_fisher
from .io import atomic_path, fingerprint
from .member import TrainResult
from .objectives.base import Objective
from .positions import EvalPositions
from .progress import progress as progress_bar

log = logging.getLogger(__name__)

LOG_COLUMNS = ["step", "tokens_seen", "train_loss", "eval_loss", "learning_rate", "tokens_per_s"]


@dataclass(frozen=True)
class TrainSettings:
    steps: int
    batch_size: int
    learning_rate: float
    seed: int
    data_seed: int
    micro_batch_size: int | None = None
    weight_decay: float = 0.01
    betas: tuple[float, float] = (0.9, 0.999)
    warmup_ratio: float = 0.1
    grad_clip: float = 1.0
    eval_every: int = 50
    checkpoint_every: int = 100
    log_every: int = 10
    device: str = "auto"
    precision: str = "auto"
    deterministic: bool = True
    devices: int = 1
    keep: str = "last"  # or "best": the evaluation with the lowest held-out loss; or "best_saved"
    save_every: int | None = None  # keep: best_saved: the steps the paper's Trainer saves (and the last)
    epochs: int | None = None  # steps is then epochs x ceil(sequences / batch_size): a short last batch

    @classmethod
    def from_config(cls, training: dict, *, seed: int, data_seed: int) -> "TrainSettings":
        known = {f for f in cls.__dataclass_fields__} - {"seed", "data_seed"}
        values = {k: v for k, v in training.items() if k in known}
        if "betas" in values:
            values["betas"] = tuple(values["betas"])
        return cls(seed=seed, data_seed=data_seed, **values)

    def may_keep(self, step: int) -> bool:
        """Whether the weights evaluated at ``step`` can become the member. ``best``: any
        evaluation's. ``best_saved``: only a checkpoint the paper's Trainer saves (every
        ``save_every`` steps and the last), the one it loads at the end being the last saved
        that was evaluated lower than every evaluation before it (transformers'
        ``_save_checkpoint`` records ``best_model_checkpoint`` only when the step of the best
        evaluation so far has a saved checkpoint)."""
        if self.keep == "best":
            return True
        return self.keep == "best_saved" and (step % self.save_every == 0 or step == self.steps)

    @property
    def micro_batch(self) -> int:
        """Sequences per forward pass: by default one device's share of the batch."""
        return self.micro_batch_size or self.batch_size // self.devices


def resolve_device(setting: str) -> torch.device:
    if setting == "cuda" and not torch.cuda.is_available():
        raise InputError("training.device is 'cuda' but no CUDA GPU is visible (check the job's GPU request)")
    if setting == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(setting)


def autocast_dtype(precision: str, device: torch.device) -> torch.dtype | None:
    """bf16 autocast on CUDA by default (and wherever asked for); None means plain fp32."""
    if precision == "bf16" or (precision == "auto" and device.type == "cuda"):
        return torch.bfloat16
    return None


def arithmetic(precision: str, device: torch.device) -> str:
    """The precision a run computes in: ``bf16`` (autocast), ``tf32`` (fp32 with TF32 matmuls:
    CUDA only, and only when asked for by name) or ``fp32``."""
    if autocast_dtype(precision, device) is not None:
        return "bf16"
    return "tf32" if precision == "tf32" and device.type == "cuda" else "fp32"


def set_cuda_matmul_precision(computed_in: str) -> None:
    """TF32 for float32 matmuls and convolutions on CUDA only for ``tf32``: fp32 is IEEE fp32,
    as in the paper's Trainer (PyTorch's default for matmuls). The flags are process-wide, so
    they are set either way, never left from an earlier run."""
    tf32 = computed_in == "tf32"
    torch.backends.cuda.matmul.allow_tf32 = tf32  # the same flag as set_float32_matmul_precision
    torch.backends.cudnn.allow_tf32 = tf32


def warmup_cosine(step: int, total: int, warmup_ratio: float) -> float:
    """Learning-rate multiplier: linear warmup over warmup_ratio of training, cosine decay to 0."""
    warmup = int(round(total * warmup_ratio))
    if step < warmup:
        return (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))


class DataOrder:
    """Which training sequences make up each step's batch: a fresh permutation per epoch,
    drawn from the data seed, the same for every member.

    By default every batch is full and a batch may span two epochs. With ``short_last_batch``
    each epoch is ceil(n / batch_size) batches, the last one holding the remainder, as the
    Trainer's data loader gives them (``dataloader_drop_last=False``)."""

    def __init__(self, n_sequences: int, batch_size: int, data_seed: int, *, short_last_batch: bool = False):
        self.n = n_sequences
        self.batch_size = batch_size
        self.data_seed = data_seed
        self.short_last_batch = short_last_batch
        self.steps_per_epoch = math.ceil(n_sequences / batch_size)
        self._epoch_cache: dict[int, np.ndarray] = {}

    def _permutation(self, epoch: int) -> np.ndarray:
        if epoch not in self._epoch_cache:
            self._epoch_cache = {epoch: np.random.default_rng([self.data_seed, epoch]).permutation(self.n)}
        return self._epoch_cache[epoch]

    def sequences_before(self, step: int) -> int:
        """Sequences in the batches of steps 0 .. step - 1."""
        if not self.short_last_batch:
            return step * self.batch_size
        epochs, within = divmod(step, self.steps_per_epoch)
        return epochs * self.n + within * self.batch_size

    def batch(self, step: int) -> np.ndarray:
        if self.short_last_batch:
            epoch, within = divmod(step, self.steps_per_epoch)
            return self._permutation(epoch)[within * self.batch_size : (within + 1) * self.batch_size]
        positions = np.arange(step * self.batch_size, (step + 1) * self.batch_size)
        out = np.empty(self.batch_size, dtype=np.int64)
        for epoch in np.unique(positions // self.n):
            here = positions // self.n == epoch
            out[here] = self._permutation(int(epoch))[positions[here] % self.n]
        return out


def step_generator(data_seed: int, step: int, stream: int = 0) -> torch.Generator:
    """A generator for one step's corruption: stateless, so resuming needs no saved state."""
    generator = torch.Generator()
    generator.manual_seed(int(np.random.SeedSequence([data_seed, stream, step]).generate_state(1)[0]))
    return generator


EVAL_STREAM = 1  # generator stream for evaluation masks, fixed across steps and members


@dataclass(frozen=True)
class FisherDuringTraining:
    """Layer-wise empirical Fisher of the model being trained, at fixed held-out sequences
    and positions, before the first step and every ``every`` steps (and at the last). It is
    ``extraction.member_fisher`` on a copy of the model, so a row equals an extraction of
    that step's weights at the same positions."""

    positions: EvalPositions
    every: int
    method: str = "per_sample"
    chunk_size: int = 8

    def due(self, step: int, total: int) -> bool:
        return step % self.every == 0 or step == total

    def rows(self, objective: Objective, model: torch.nn.Module, step: int, device: torch.device) -> list[dict]:
        # A copy: the estimator puts the model in eval mode and may switch its attention
        # implementation; the model being trained must not change.
        result = member_fisher(
            objective,
            copy.deepcopy(model),
            self.positions,
            n_sequences=len(self.positions.input_ids),
            method=self.method,
            chunk_size=self.chunk_size,
            device=device,
        )
        return result.to_frame().assign(step=step).to_dict("records")


def _save_checkpoint(path: Path, state: dict) -> None:
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def _load_checkpoint(path: Path, expected_fingerprint: str) -> dict | None:
    """The checkpoint at ``path`` if this run wrote it, else None (with one log line).

    weights_only: the unpickler builds tensors and plain data only, never an object a planted
    file names (a results folder copied from elsewhere, shared storage), so that reading a
    foreign file runs no code of its own; the state _training_state saves holds nothing else."""
    if not path.exists():
        return None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # a truncated, corrupt or foreign file must never be used half-way
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        log.warning(
            "checkpoint %s is unreadable as tensors and plain data (%s): ignored, nothing in it was run; "
            "training starts over", path, reason,
        )
        return None
    if not isinstance(state, dict) or state.get("fingerprint") != expected_fingerprint:
        log.warning("checkpoint %s was written for another configuration: ignored, training starts over", path)
        return None
    return state


def _micro_batches(batch: dict, size: int):
    n = next(iter(batch.values())).shape[0]
    for start in range(0, n, size):
        yield {key: value[start : start + size] for key, value in batch.items()}


def _to_device(batch: dict, device: torch.device) -> dict:
    return {key: value.to(device, non_blocking=True) for key, value in batch.items()}


def _set_up_backend(settings: TrainSettings, ranks: Ranks) -> tuple[torch.device, torch.dtype | None, str]:
    """This process's device, autocast dtype and precision (``arithmetic``), with TF32 on CUDA
    only when asked for, deterministic kernels on CPU."""
    device = process_device(resolve_device(settings.device), ranks)
    computed_in = arithmetic(settings.precision, device)
    if device.type == "cuda":
        set_cuda_matmul_precision(computed_in)
    elif settings.deterministic:
        torch.use_deterministic_algorithms(True)
    return device, autocast_dtype(settings.precision, device), computed_in


def _build(objective: Objective, preset: dict, settings: TrainSettings, device: torch.device):
    """The member's model (initialised from its seed), AdamW and the warmup-cosine schedule."""
    torch.manual_seed(settings.seed)  # the member's seed: initialisation and dropout
    model = objective.build_model(preset).to(device)
    # fused: one kernel call per step for all parameters (CPU and CUDA) instead of a Python
    # loop of small ops per parameter, which costs more than the update on a small model.
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=settings.learning_rate, betas=settings.betas, weight_decay=settings.weight_decay,
        fused=True,
    )
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: warmup_cosine(step, settings.steps, settings.warmup_ratio)
    )
    return model, optimizer, scheduler


def _training_state(run: str, step: int, model, optimizer, scheduler, device: torch.device, rows: list,
                    best: dict | None, fisher_rows: list, ranks: Ranks) -> dict:
    """Weights, optimizer, schedule, log rows, best weights so far, Fisher rows and every
    rank's RNG (each has its own dropout stream)."""
    rng = {"cpu": torch.get_rng_state(), "cuda": torch.cuda.get_rng_state() if device.type == "cuda" else None}
    return {
        "best": best,
        "fisher_log": fisher_rows,
        "fingerprint": run,
        "step": step,
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "rng": ranks.gather(rng),
        "log": rows,
    }


def _restore(state: dict, model, optimizer, scheduler, device: torch.device, ranks: Ranks) -> tuple[int, list[dict]]:
    """Put a checkpoint's weights, optimizer, schedule and this rank's RNG back; its step and
    log rows (the best weights so far and the Fisher rows are read from ``state`` by the caller)."""
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    rng = state["rng"][ranks.rank]
    torch.set_rng_state(rng["cpu"])
    if device.type == "cuda" and rng["cuda"] is not None:
        torch.cuda.set_rng_state(rng["cuda"])
    log.info("resumed from checkpoint at step %d", state["step"])
    return state["step"], state["log"]


def _accumulate_gradients(loss_of, batch: dict, micro_batch: int, device, amp_dtype, ranks: Ranks) -> float:
    """Backward over this rank's part of the batch in micro-batches; its part of the batch's
    mean loss. Each micro-batch is weighted by its share of the whole batch's predicted
    positions, so that the gradients, summed over micro-batches and ranks, equal those of
    the whole batch's mean loss."""
    total_loss = 0.0
    n_selected = int(batch["selected"].sum())  # over the whole batch, which every rank holds
    micro_batches = list(_micro_batches(ranks.part(batch), micro_batch))
    for index, micro in enumerate(micro_batches):
        share = int(micro["selected"].sum()) / n_selected
        synchronise = index == len(micro_batches) - 1
        # Every rank must reach its synchronising backward; an empty micro-batch adds zeros.
        if share == 0 and not (synchronise and ranks.size > 1):
            continue
        with accumulating(loss_of, synchronise):
            with torch.autocast(device.type, dtype=amp_dtype, enabled=amp_dtype is not None):
                loss = loss_of(_to_device(micro, device))
            (loss * share).backward()
        if share:
            total_loss += loss.item() * share
    return total_loss


def _optimizer_step(model, optimizer, scheduler, grad_clip: float) -> None:
    torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
    optimizer.step()
    scheduler.step()
    optimizer.zero_grad(set_to_none=True)


class _Interval:
    """Mean training loss and throughput since the last log row."""

    def __init__(self, ranks: Ranks):
        self.ranks = ranks
        self.reset()

    def reset(self) -> None:
        self.started, self.steps, self.tokens, self.loss = time.perf_counter(), 0, 0, 0.0

    def add(self, loss: float, tokens: int) -> None:
        self.steps += 1
        self.tokens += tokens
        self.loss += loss

    def row(self, step: int, tokens_seen: int, learning_rate: float) -> dict:
        """The log row at ``step`` (eval_loss to be filled in, if evaluated)."""
        elapsed = time.perf_counter() - self.started
        return {
            "step": step,
            "tokens_seen": tokens_seen,
            "train_loss": sum(self.ranks.gather(self.loss)) / self.steps,  # each rank holds its part
            "eval_loss": float("nan"),
            "learning_rate": learning_rate,
            "tokens_per_s": self.tokens / elapsed if elapsed > 0 else float("nan"),
        }


def _lowest_so_far(eval_loss: float, rows: list[dict]) -> bool:
    """Whether ``eval_loss`` is below every held-out loss logged before (the Trainer's
    ``_determine_best_metric`` with greater_is_better=False: strictly lower)."""
    return all(eval_loss < row["eval_loss"] for row in rows if not math.isnan(row["eval_loss"]))


def train_member(
    objective: Objective,
    preset: dict,
    train_tokens: np.ndarray,
    eval_tokens: np.ndarray,
    settings: TrainSettings,
    *,
    checkpoint_path: Path | None,
    run_fingerprint: str = "",
    progress: bool = True,
    stop_after: int | None = None,
    fisher: FisherDuringTraining | None = None,
) -> tuple[torch.nn.Module, TrainResult]:
    """Train one member and return the model with its log. ``stop_after`` ends the run after
    that many steps (as a killed job would), leaving the checkpoint behind; tests use it."""
    started = time.perf_counter()
    ranks = Ranks.from_environment()
    if ranks.size != settings.devices:
        raise InputError(f"training.devices is {settings.devices} but this is one of {ranks.size} processes")
    if settings.batch_size % (settings.devices * settings.micro_batch):
        raise InputError(
            f"batch_size {settings.batch_size} is not a multiple of devices x micro_batch_size "
            f"({settings.devices} x {settings.micro_batch})"
        )
    objective.check_schedule(settings.steps)
    order = DataOrder(len(train_tokens), settings.batch_size, settings.data_seed,
                      short_last_batch=settings.epochs is not None)
    if settings.epochs is not None and settings.steps != settings.epochs * order.steps_per_epoch:
        raise InputError(
            f"training.steps is {settings.steps} but {settings.epochs} epochs of {len(train_tokens)} sequences in "
            f"batches of {settings.batch_size} are {settings.epochs * order.steps_per_epoch} steps"
        )
    device, amp_dtype, computed_in = _set_up_backend(settings, ranks)
    model, optimizer, scheduler = _build(objective, preset, settings, device)
    if not ranks.main:  # a dropout stream of its own; rank 0 keeps the member's seed's
        torch.manual_seed(int(np.random.SeedSequence([settings.seed, ranks.rank]).generate_state(1)[0]))

    # The device, precision and number of processes change the arithmetic, so a checkpoint
    # resumes only under the same ones (the config's `device` and `devices` may change
    # between attempts: they are run-time keys).
    run = fingerprint(run_fingerprint, device.type, computed_in, ranks.size)
    state = _load_checkpoint(checkpoint_path, run) if checkpoint_path else None
    start_step, rows = _restore(state, model, optimizer, scheduler, device, ranks) if state else (0, [])
    best = state.get("best") if state else None  # {"step", "eval_loss", "model"}: keep: best, best_saved
    fisher_rows = state.get("fisher_log", []) if state else []
    if fisher and start_step == 0:
        fisher_rows = fisher.rows(objective, model, 0, device)
    loss_of = loss_module(objective, model, ranks)

    interval = _Interval(ranks)
    last_step = min(settings.steps, stop_after) if stop_after is not None else settings.steps
    bar = progress_bar(desc="training", total=settings.steps, initial=start_step, unit="step",
                       disable=not (progress and ranks.main))
    model.train()
    for step in range(start_step, last_step):
        input_ids = torch.from_numpy(np.asarray(train_tokens[order.batch(step)], dtype=np.int64))
        batch = objective.training_batch(input_ids, step_generator(settings.data_seed, step), progress=step / settings.steps)
        interval.add(_accumulate_gradients(loss_of, batch, settings.micro_batch, device, amp_dtype, ranks),
                     input_ids.numel())
        _optimizer_step(model, optimizer, scheduler, settings.grad_clip)

        done = step + 1
        evaluate_now = done % settings.eval_every == 0 or done == settings.steps
        if done % settings.log_every == 0 or evaluate_now:
            row = interval.row(done, order.sequences_before(done) * train_tokens.shape[1], scheduler.get_last_lr()[0])
            if evaluate_now:
                row["eval_loss"] = evaluate(objective, model, eval_tokens, settings, device, amp_dtype, done / settings.steps)
                if settings.may_keep(done) and _lowest_so_far(row["eval_loss"], rows):
                    weights = {key: value.detach().to("cpu", copy=True) for key, value in model.state_dict().items()}
                    best = {"step": done, "eval_loss": row["eval_loss"], "model": weights}
            rows.append(row)
            # The held-out loss only on the lines of an evaluation (the log's NaN elsewhere reads
            # like divergence).
            evaluated = f" eval_loss {row['eval_loss']:.4f}" if evaluate_now else ""
            log.info(
                "step %d/%d tokens %d train_loss %.4f%s lr %.3g tokens/s %.0f",
                done, settings.steps, row["tokens_seen"], row["train_loss"], evaluated,
                row["learning_rate"], row["tokens_per_s"],
            )
            bar.set_postfix(loss=f"{row['train_loss']:.3f}", tok_s=f"{row['tokens_per_s']:.0f}", refresh=False)
            interval.reset()
        if fisher and fisher.due(done, settings.steps):
            fisher_rows += fisher.rows(objective, model, done, device)
        bar.update(1)
        if checkpoint_path and (done % settings.checkpoint_every == 0 or done == last_step) and done < settings.steps:
            snapshot = _training_state(run, done, model, optimizer, scheduler, device, rows, best, fisher_rows, ranks)
            if ranks.main:
                _save_checkpoint(checkpoint_path, snapshot)
    bar.close()
    choosing = settings.keep in ("best", "best_saved")
    if choosing and best is not None and last_step == settings.steps:
        model.load_state_dict(best["model"])
        chosen = "the checkpoint the paper's Trainer loads" if settings.keep == "best_saved" else "the lowest"
        log.info("kept the weights of step %d (held-out loss %.4f nats, %s)", best["step"], best["eval_loss"], chosen)
    model.eval()
    result = TrainResult(
        log=pd.DataFrame(rows, columns=LOG_COLUMNS),
        wall_time_s=time.perf_counter() - started,
        resumed_from_step=start_step if state else None,
        device=str(device) if ranks.size == 1 else f"{ranks.size} x {device.type}",
        autocast=str(amp_dtype) if amp_dtype else None,
        precision=computed_in,
        parameters=sum(p.numel() for p in model.parameters()),
        selected_step=best["step"] if choosing and best is not None else last_step,
        fisher_log=pd.DataFrame(fisher_rows) if fisher else None,
    )
    return model, result


@torch.no_grad()
def evaluate(
    objective: Objective,
    model: torch.nn.Module,
    eval_tokens: np.ndarray,
    settings: TrainSettings,
    device: torch.device,
    amp_dtype: torch.dtype | None,
    progress: float,
) -> float:
    """Mean objective loss over the held-out sequences, with corruption drawn from a fixed
    generator so that values are comparable across steps and members. Dropout is off
    during evaluation and its RNG untouched, so evaluating does not change training."""
    was_training = model.training
    model.eval()
    generator = step_generator(settings.data_seed, 0, stream=EVAL_STREAM)
    size = settings.micro_batch_size or settings.batch_size  # not per device: the masks depend on it
    total, count = 0.0, 0
    for start in range(0, len(eval_tokens), size):
        input_ids = torch.from_numpy(np.asarray(eval_tokens[start : start + size], dtype=np.int64))
        batch = objective.training_batch(input_ids, generator, progress=progress)
        with torch.autocast(device.type, dtype=amp_dtype, enabled=amp_dtype is not None):
            loss = objective.loss(model, _to_device(batch, device))
        total += loss.item() * len(input_ids)
        count += len(input_ids)
    model.train(was_training)
    return total / count
