"""One member on several devices: torchrun's processes, PyTorch DistributedDataParallel.

``training.devices: N`` runs the training job as N processes launched by torchrun on the
job's machine (NCCL between GPUs, gloo between CPU processes). Every process builds the
whole global batch of a step (same data order, same corruption as one process) and
computes the forward and backward passes of its equal share of the micro-batches; DDP sums
the gradients across processes, so the update is the one a single process would make, up to
the order of floating-point sums. Rank 0 writes checkpoints, logs and the member.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from .errors import InputError


@dataclass(frozen=True)
class Ranks:
    """This process's place among a member's training processes: torchrun's environment,
    or the one process of a run without torchrun."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @classmethod
    def from_environment(cls) -> "Ranks":
        return cls(
            rank=int(os.environ.get("RANK", 0)),
            size=int(os.environ.get("WORLD_SIZE", 1)),
            local_rank=int(os.environ.get("LOCAL_RANK", 0)),
        )

    @property
    def main(self) -> bool:
        """The process that writes checkpoints, logs and the member."""
        return self.rank == 0

    def part(self, batch: dict) -> dict:
        """This rank's rows of a batch: an equal, contiguous share."""
        rows = next(iter(batch.values())).shape[0] // self.size
        return {key: value[self.rank * rows : (self.rank + 1) * rows] for key, value in batch.items()}

    def gather(self, value) -> list:
        """Every rank's ``value`` (any picklable object), in rank order; on every rank."""
        if self.size == 1:
            return [value]
        values = [None] * self.size
        dist.all_gather_object(values, value)
        return values


def check_devices(devices: int, device_setting: str) -> None:
    """Refuse more training processes than the GPUs the job sees; several CPU processes only
    when asked for with ``device: cpu``."""
    if devices == 1 or device_setting == "cpu":
        return
    visible = torch.cuda.device_count()
    if devices > visible:
        raise InputError(
            f"training.devices is {devices} but the job sees {visible} CUDA GPU(s) (the job must ask for "
            f"{devices}; for processes on the CPU set training.device: cpu)"
        )


def _end_with_parent() -> None:
    """Have Linux send this process SIGTERM when its parent dies. torchrun starts each
    training process in a session of its own, so a killed job would otherwise leave them
    training, and writing the member, beside the job's next attempt."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # 1: PR_SET_PDEATHSIG


def launch(script: str, devices: int, threads: int) -> int:
    """Run ``script`` as ``devices`` processes under torchrun on this machine; their exit
    status (torchrun stops the others when one fails, or when it is stopped)."""
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={devices}", script]
    # torchrun would set 1 thread per process; the config's thread count is what the weights assume.
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    return subprocess.run(command, env=env, preexec_fn=_end_with_parent).returncode


@contextmanager
def process_group(ranks: Ranks, device_type: str):
    """The processes' group while training runs: NCCL between GPUs (one per process, by local
    rank), gloo between CPU processes; nothing for one process."""
    if ranks.size == 1:
        yield
        return
    _end_with_parent()
    if os.getppid() == 1:  # torchrun died before that
        raise SystemExit(f"rank {ranks.rank}: torchrun is gone")
    if device_type == "cuda":
        torch.cuda.set_device(ranks.local_rank)
        dist.init_process_group("nccl", device_id=torch.device("cuda", ranks.local_rank))
    else:
        dist.init_process_group("gloo")
    try:
        yield
    finally:
        dist.destroy_process_group()


def process_device(device: torch.device, ranks: Ranks) -> torch.device:
    """This process's device: its own GPU (by local rank) when there are several processes."""
    if device.type == "cuda" and ranks.size > 1:
        return torch.device("cuda", ranks.local_rank)
    return device


class _Loss(nn.Module):
    """The objective's loss as a forward pass: DDP synchronises what runs through forward,
    and the objectives call the model's parts (backbone, head), not its forward."""

    def __init__(self, objective, model: nn.Module):
        super().__init__()
        self.objective = objective
        self.model = model

    def forward(self, batch: dict) -> torch.Tensor:
        return self.objective.loss(self.model, batch)


def _sum_gradients(_, bucket):  # unannotated: DDP checks annotations, and here they are strings
    """All-reduce a bucket of gradients as a sum, not DDP's mean: each rank's loss is already
    weighted by its share of the global batch's predicted positions."""
    return dist.all_reduce(bucket.buffer(), async_op=True).get_future().then(lambda future: future.value()[0])


def loss_module(objective, model: nn.Module, ranks: Ranks) -> nn.Module:
    """``module(batch)`` is the objective's loss; with several ranks, wrapped in DDP so that the
    backward pass outside ``accumulating`` sums the gradients across ranks."""
    module = _Loss(objective, model)
    if ranks.size == 1:
        return module
    device = next(model.parameters()).device
    parallel = DistributedDataParallel(
        module,
        device_ids=[device.index] if device.type == "cuda" else None,
        forward_sync_buffers=False,  # the models' buffers (position ids) never change
    )
    parallel.register_comm_hook(None, _sum_gradients)
    return parallel


def accumulating(module: nn.Module, synchronise: bool):
    """Where a micro-batch's backward only adds to the gradients: every one but a rank's last,
    whose backward sums them across ranks."""
    if synchronise or not isinstance(module, DistributedDataParallel):
        return nullcontext()
    return module.no_sync()
