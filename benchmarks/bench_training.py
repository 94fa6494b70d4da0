"""Training throughput and model FLOP utilisation (MFU) of the real training loop.

    python benchmarks/bench_training.py                          # demo preset and bert-90m, fp32 and bf16
    python benchmarks/bench_training.py --presets tiny --precisions fp32 --steps 40

Each row runs ``seqens.training.train_member`` (the loop the workflow runs: MLM corruption,
AdamW, clipping, scheduler) for a few steps on random tokens and reads tokens/s from its
own log, skipping the first interval (start-up). The model FLOPs of one step are counted
from the architecture: 6 x parameters x tokens for every matrix multiply a token passes
through (forward 2, backward 4), the MLM head only on the predicted tokens, plus the
attention scores and weighted sums (6 x 2 x layers x hidden x sequence length per token).
Embedding lookups, norms and the optimizer are not model FLOPs.

MFU is achieved model FLOP/s over the matmul peak that this script measures first, on the
same device, in the same process: the best of square ``torch.matmul`` sizes in that dtype.
Goal (issue 3): >= 50% of that peak for the demo preset on CPU; >= 45% bf16 MFU for the
90M preset on a GPU.

    python benchmarks/bench_training.py --presets bert-90m --project config/paper.yaml

With ``--project``, the rows of that study's preset (on a GPU at its batch and sequence
length) end with what training the whole study would take at the measured rate: its members
x tokens per member / tokens/s, in hours of this device (training steps only: evaluations and
the Fisher log add a few per cent).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "workflow" / "scripts"))

from seqens.config import BUILTIN_PRESETS, load_study  # noqa: E402
from seqens.objectives import make_objective  # noqa: E402
from seqens.special import special_tokens  # noqa: E402
from seqens.training import TrainSettings, train_member  # noqa: E402

DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16}


def matmul_peak(device: torch.device, dtype: torch.dtype, seconds: float = 1.0) -> float:
    """Best FLOP/s of square matrix products on this device in this dtype."""
    sizes = (2048, 4096, 8192) if device.type == "cuda" else (512, 1024, 2048)
    best = 0.0
    for n in sizes:
        a = torch.randn(n, n, device=device, dtype=dtype)
        b = torch.randn(n, n, device=device, dtype=dtype)
        torch.matmul(a, b)  # warm-up
        repeats, started = 0, time.perf_counter()
        while True:
            torch.matmul(a, b)
            repeats += 1
            if device.type == "cuda":
                torch.cuda.synchronize()
            elapsed = time.perf_counter() - started
            if elapsed >= seconds:
                break
        best = max(best, 2 * n**3 * repeats / elapsed)
    return best


def step_flops(preset: dict, vocab: int, batch: int, length: int, predicted_share: float) -> float:
    """Model FLOPs (forward + backward) of one MLM training step, as described above."""
    hidden, layers, ffn = preset["hidden"], preset["layers"], preset["ffn"]
    per_layer = 4 * hidden * hidden + 2 * hidden * ffn  # Q, K, V, output; FFN in and out
    tokens = batch * length
    encoder = 6 * layers * per_layer * tokens
    attention = 6 * 2 * layers * hidden * length * tokens
    head = 6 * (hidden * hidden + hidden * vocab) * tokens * predicted_share  # transform + decoder
    return encoder + attention + head


def measure(preset: dict, precision: str, device: torch.device, steps: int, batch: int, length: int,
            vocab: int, mask_ratio: float) -> dict:
    preset = {**preset, "dropout": 0.1}
    objective = make_objective("mlm", special_tokens(vocab), {"mask_ratio": mask_ratio})
    rng = np.random.default_rng(0)
    train = rng.integers(5, vocab, size=(batch * steps, length), dtype=np.int64).astype(np.uint16)
    log_every = max(1, steps // 4)
    settings = TrainSettings(steps=steps, batch_size=batch, learning_rate=1e-4, seed=1, data_seed=1,
                             eval_every=10**9, checkpoint_every=10**9, log_every=log_every,
                             device=device.type, precision=precision, deterministic=False)
    _, result = train_member(objective, preset, train, train[:batch], settings, checkpoint_path=None, progress=False)
    # The last interval also runs the final evaluation; the first includes start-up.
    rates = result.log["tokens_per_s"].to_numpy()[1:]
    tokens_per_s = float(np.median(rates)) if len(rates) else float(result.log["tokens_per_s"].iloc[-1])
    flops_per_token = step_flops(preset, vocab, batch, length, mask_ratio) / (batch * length)
    return {"parameters": result.parameters, "tokens_per_s": tokens_per_s,
            "model_flops": tokens_per_s * flops_per_token}


def study_hours(study, tokens_per_s: float) -> float:
    """Hours of this device to train every member of ``study`` at ``tokens_per_s``."""
    return len(study.members) * study.training_tokens() / tokens_per_s / 3600


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--presets", nargs="+", default=None,
                        help="size presets (default: the demo config's preset and bert-90m)")
    parser.add_argument("--precisions", nargs="+", choices=list(DTYPES), default=["fp32", "bf16"])
    parser.add_argument("--steps", type=int, default=None, help="steps per row (default: 40 tiny, 8 larger)")
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    parser.add_argument("--project", type=Path, default=None, metavar="CONFIG",
                        help="a study config (e.g. config/paper.yaml): project its training time from the rows "
                             "of its preset")
    args = parser.parse_args()

    demo = load_study(REPO / "config" / "config.yaml")
    presets = args.presets or [demo.config["model"], "bert-90m"]
    device = torch.device("cuda" if args.device == "auto" and torch.cuda.is_available() else
                          ("cpu" if args.device == "auto" else args.device))
    print(f"device {device} ({torch.cuda.get_device_name() if device.type == 'cuda' else f'{torch.get_num_threads()} threads'})"
          f", torch {torch.__version__}")
    peaks = {p: matmul_peak(device, DTYPES[p]) for p in args.precisions}
    for precision, peak in peaks.items():
        print(f"matmul peak {precision}: {peak / 1e9:,.1f} GFLOP/s")
    project = load_study(args.project) if args.project else None
    if project:
        print(f"{args.project}: {len(project.members)} members x {project.training_budget()}")
    print(f"{'preset':<10} {'precision':<9} {'params':>8} {'batch x len':>11} {'tokens/s':>10} "
          f"{'GFLOP/s':>9} {'MFU':>6}" + (f" {'study hours':>12}" if project else ""))
    known = {**BUILTIN_PRESETS, **demo.config["presets"]}
    for preset_name in presets:
        large = known[preset_name]["hidden"] >= 512
        projected = project is not None and project.config["model"] == preset_name
        if device.type == "cuda" and projected:  # the study's own shape
            batch, length = project.config["training"]["batch_size"], project.config["data"]["sequence_length"]
        elif device.type == "cuda":
            batch, length = (64, 512) if large else (256, demo.config["data"]["sequence_length"])
        else:  # a few steps of the 90M model fit in minutes on a laptop CPU
            batch, length = (4, 128) if large else (demo.config["training"].get("batch_size", 32),
                                                    demo.config["data"]["sequence_length"])
        steps = args.steps or (8 if large else 40)
        for precision in args.precisions:
            row = measure(known[preset_name], precision, device, steps, batch, length, vocab=4096, mask_ratio=0.15)
            mfu = row["model_flops"] / peaks[precision]
            hours = f" {study_hours(project, row['tokens_per_s']):12,.1f}" if projected else ""
            print(f"{preset_name:<10} {precision:<9} {row['parameters'] / 1e6:7.1f}M {f'{batch} x {length}':>11} "
                  f"{row['tokens_per_s']:10,.0f} {row['model_flops'] / 1e9:9.1f} {mfu:6.1%}{hours}")


if __name__ == "__main__":
    main()
