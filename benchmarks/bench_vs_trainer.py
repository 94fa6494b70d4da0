"""Training speed against the paper's recipe, side by side in one process.

    python benchmarks/bench_vs_trainer.py       # `small`, 16 x 128: paper fp32 vs seqens fp32 and bf16
    python benchmarks/bench_vs_trainer.py --precisions fp32 --rounds 5 --steps 12 --threads 1
    python benchmarks/bench_vs_trainer.py --paper-precisions fp32 bf16   # also the Trainer in bf16

The paper's recipe (lbcb-sci/GFMs, src/train/train.py) is Hugging Face's ``Trainer`` with
``DataCollatorForLanguageModeling`` (15% of tokens, 80/10/10), AdamW, warmup-cosine schedule,
gradient clipping at 0.5, fp32, and the MLM head on every position. The contender is
``seqens.training.train_member`` as the workflow runs it (deterministic kernels; the head on
the predicted positions only) with the paper's learning rate, schedule and clipping. Both
train the same model (same preset, architecture config and initialisation seed) on the same
packed sequences (no padding), batch size and sequence length; the paper's data loader runs
in the training process here (``dataloader_num_workers=0``; the paper used up to 16 worker
processes, which two cores cannot give), and its optimizer is the ``Trainer``'s default, which
in transformers 5 is fused AdamW, as in ``train_member``.

The two alternate (paper, seqens, paper, seqens, ...) for ``--rounds`` rounds of ``--steps``
steps each, so that load from other processes falls on both. A round's tokens/s is the median
over its steps after the first two (start-up); the ratio is taken within each round and its
median is printed, with the medians of each contender's tokens/s.

MFU is model FLOP/s over the matmul peak measured first, in the same process
(``bench_training.matmul_peak``), with one definition of the model FLOPs for both: those of
``bench_training.step_flops``, the MLM head counted on the predicted 15% only. The paper's
recipe executes more (its head runs on every position), so its MFU is its useful share; the
ratio of the two FLOP counts, printed first, is the speed-up that skipping the head alone gives.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "workflow" / "scripts"))

from bench_training import DTYPES, matmul_peak, step_flops  # noqa: E402
from seqens.config import BUILTIN_PRESETS  # noqa: E402
from seqens.objectives import make_objective  # noqa: E402
from seqens.special import SPECIAL_TOKENS, special_tokens  # noqa: E402
from seqens.training import TrainSettings, train_member  # noqa: E402

# The paper's TrainingArguments (src/utils/config.py) that shape one step.
LEARNING_RATE, WARMUP_RATIO, MAX_GRAD_NORM, MASK_RATIO = 1e-4, 0.1, 0.5, 0.15
WARM_UP_STEPS = 2  # steps of each round left out of its median


def word_level_tokenizer(vocab: int):
    """A fast tokenizer with the study's special tokens at their ids, for the paper's collator."""
    from tokenizers import Tokenizer
    from tokenizers.models import WordLevel
    from transformers import PreTrainedTokenizerFast

    words = {token: i for i, token in enumerate(SPECIAL_TOKENS)}
    words.update({f"w{i}": i for i in range(len(SPECIAL_TOKENS), vocab)})
    pad, unk, cls, sep, mask = SPECIAL_TOKENS
    return PreTrainedTokenizerFast(
        tokenizer_object=Tokenizer(WordLevel(words, unk_token=unk)),
        pad_token=pad, unk_token=unk, cls_token=cls, sep_token=sep, mask_token=mask,
    )


def paper_recipe(model: torch.nn.Module, tokens: np.ndarray, batch: int, steps: int, precision: str,
                 device: torch.device, tokenizer, seed: int) -> list[float]:
    """Seconds of each step of the paper's Trainer on ``tokens`` (one epoch of ``steps`` batches)."""
    from transformers import DataCollatorForLanguageModeling, Trainer, TrainerCallback, TrainingArguments

    class StepClock(TrainerCallback):
        def __init__(self):
            self.ends = [time.perf_counter()]

        def on_step_end(self, args, state, control, **kwargs):
            if device.type == "cuda":
                torch.cuda.synchronize()
            self.ends.append(time.perf_counter())

    clock = StepClock()
    arguments = TrainingArguments(
        output_dir="/tmp/bench_vs_trainer", per_device_train_batch_size=batch, max_steps=steps,
        learning_rate=LEARNING_RATE, warmup_steps=WARMUP_RATIO, lr_scheduler_type="cosine",  # a ratio below 1
        max_grad_norm=MAX_GRAD_NORM, bf16=precision == "bf16", fp16=False, use_cpu=device.type == "cpu",
        dataloader_num_workers=0, save_strategy="no", eval_strategy="no", logging_strategy="no",
        report_to=[], seed=seed, data_seed=42, disable_tqdm=True,
    )
    dataset = [{"input_ids": row.tolist()} for row in tokens[: batch * steps].astype(np.int64)]
    collator = DataCollatorForLanguageModeling(tokenizer=tokenizer, mlm=True, mlm_probability=MASK_RATIO)
    Trainer(model=model, args=arguments, data_collator=collator, train_dataset=dataset, callbacks=[clock]).train()
    return list(np.diff(clock.ends))


def seqens_recipe(objective, preset: dict, tokens: np.ndarray, batch: int, steps: int, precision: str,
                  device: torch.device, seed: int) -> list[float]:
    """Seconds of each step of ``train_member`` (its log, one row per step)."""
    settings = TrainSettings(
        steps=steps, batch_size=batch, learning_rate=LEARNING_RATE, seed=seed, data_seed=42,
        warmup_ratio=WARMUP_RATIO, grad_clip=MAX_GRAD_NORM, eval_every=10**9, checkpoint_every=10**9,
        log_every=1, device=device.type, precision=precision,
    )
    train = tokens[: batch * steps]
    _, result = train_member(objective, preset, train, train[:batch], settings, checkpoint_path=None, progress=False)
    # The last row also holds the final evaluation.
    return list(batch * tokens.shape[1] / result.log["tokens_per_s"].to_numpy()[:-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="small", choices=sorted(BUILTIN_PRESETS))
    parser.add_argument("--precisions", nargs="+", default=["fp32", "bf16"], choices=sorted(DTYPES),
                        help="train_member's precisions")
    parser.add_argument("--paper-precisions", nargs="+", default=["fp32"], choices=sorted(DTYPES),
                        help="the Trainer's (the paper trains in fp32)")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--length", type=int, default=128)
    parser.add_argument("--vocab", type=int, default=4096)
    parser.add_argument("--steps", type=int, default=10, help="steps per round and contender")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    device = torch.device("cuda" if args.device == "auto" and torch.cuda.is_available() else
                          ("cpu" if args.device == "auto" else args.device))
    print(f"device {device} ({torch.cuda.get_device_name() if device.type == 'cuda' else f'{args.threads} threads'})"
          f", torch {torch.__version__}; preset {args.preset}, batch {args.batch} x {args.length}, vocab {args.vocab}, "
          f"{args.rounds} rounds x {args.steps} steps each")
    peaks = {p: matmul_peak(device, DTYPES[p]) for p in sorted({*args.precisions, *args.paper_precisions})}
    for precision, peak in peaks.items():
        print(f"matmul peak {precision}: {peak / 1e9:,.1f} GFLOP/s")

    preset = BUILTIN_PRESETS[args.preset]
    objective = make_objective("mlm", special_tokens(args.vocab), {"mask_ratio": MASK_RATIO})
    tokenizer = word_level_tokenizer(args.vocab)
    # Packed sequences as the workflow stores them: [CLS] and ordinary tokens, no padding.
    tokens = np.random.default_rng(0).integers(len(SPECIAL_TOKENS), args.vocab, size=(args.batch * args.steps, args.length))
    tokens[:, 0] = special_tokens(args.vocab).cls
    tokens_per_step = args.batch * args.length
    flops_per_token = step_flops(preset, args.vocab, args.batch, args.length, MASK_RATIO) / tokens_per_step
    paper_flops_per_token = step_flops(preset, args.vocab, args.batch, args.length, 1.0) / tokens_per_step
    print(f"model FLOPs per token: {flops_per_token / 1e6:.1f} M (head on the predicted 15%), the paper's recipe "
          f"executes {paper_flops_per_token / 1e6:.1f} M (head everywhere): at equal FLOP/s seqens is "
          f"{paper_flops_per_token / flops_per_token:.2f}x faster")

    def run(recipe: str, precision: str) -> list[float]:
        if recipe == "seqens":
            return seqens_recipe(objective, preset, tokens, args.batch, args.steps, precision, device, seed=1)
        # train_member sets these for the process; the paper's recipe keeps PyTorch's defaults.
        torch.use_deterministic_algorithms(False)
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.manual_seed(1)
        model = objective.build_model(preset).to(device)
        return paper_recipe(model, tokens, args.batch, args.steps, precision, device, tokenizer, seed=1)

    contenders = [("paper", p) for p in args.paper_precisions] + [("seqens", p) for p in args.precisions]
    rates: dict[tuple[str, str], list[float]] = {contender: [] for contender in contenders}
    for _ in range(args.rounds):  # paper, seqens, paper, seqens, ...
        for contender in contenders:
            rates[contender].append(tokens_per_step / statistics.median(run(*contender)[WARM_UP_STEPS:]))

    def ratio(contender, reference) -> str:
        if reference not in rates or reference == contender:
            return ""
        per_round = [ours / theirs for ours, theirs in zip(rates[contender], rates[reference])]
        return f"{statistics.median(per_round):.2f}x ({' '.join(f'{r:.2f}' for r in per_round)})"

    print(f"{'recipe':<7} {'precision':<9} {'tokens/s':>9} {'MFU':>6}  {'vs paper fp32 (per round)':<28} "
          f"{'vs paper, same precision':<28}")
    for recipe, precision in contenders:
        rate = statistics.median(rates[(recipe, precision)])
        print(f"{recipe:<7} {precision:<9} {rate:9,.0f} {rate * flops_per_token / peaks[precision]:6.1%}  "
              f"{ratio((recipe, precision), ('paper', 'fp32')):<28} {ratio((recipe, precision), ('paper', precision)):<28}")


if __name__ == "__main__":
    main()
