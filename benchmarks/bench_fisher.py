"""Per-sample empirical Fisher: the vectorised torch.func version against the per-example loop.

    python benchmarks/bench_fisher.py                        # demo preset and `small`, every objective
    python benchmarks/bench_fisher.py --presets tiny --objectives mlm --sequences 64

Both compute the same quantity (the mean over sequences of the squared per-sequence gradient
of the masked-token log-likelihood, summed per layer group), on the same random model and
evaluation sequences with 10% of positions predicted, as the extraction does. The table gives
each one's time, the speed-up, and the largest relative difference of the per-sequence,
per-group values. Goal (issue 4): >= 5x on CPU, equal results.
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
from seqens.fisher import per_sample_fisher, per_sample_fisher_loop  # noqa: E402
from seqens.objectives import REGISTRY, make_objective  # noqa: E402
from seqens.special import special_tokens  # noqa: E402


def evaluation_batches(n: int, length: int, vocab: int, chunk: int) -> list[dict[str, torch.Tensor]]:
    generator = torch.Generator().manual_seed(0)
    input_ids = torch.randint(5, vocab, (n, length), generator=generator)
    input_ids[:, 0] = 2  # [CLS]
    positions = torch.rand(input_ids.shape, generator=generator) < 0.1
    positions[:, 0] = False
    positions[:, 1] = True  # at least one per sequence
    return [{"input_ids": input_ids[i : i + chunk], "positions": positions[i : i + chunk]} for i in range(0, n, chunk)]


def timed(function):
    started = time.perf_counter()
    result = function()
    return time.perf_counter() - started, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--presets", nargs="+", default=None, help="default: the demo config's preset and small")
    parser.add_argument("--objectives", nargs="+", default=sorted(REGISTRY), choices=sorted(REGISTRY))
    parser.add_argument("--sequences", type=int, default=32)
    parser.add_argument("--vocab", type=int, default=1024)
    parser.add_argument("--chunk-sizes", type=int, nargs="+", default=None,
                        help="sequences per vectorised chunk (default: the config's fisher_chunk_size, and 32)")
    args = parser.parse_args()

    demo = load_study(REPO / "config" / "config.yaml")
    presets = args.presets or [demo.config["model"], "small"]
    length = demo.config["data"]["sequence_length"]
    chunks = args.chunk_sizes or [demo.config["extraction"]["fisher_chunk_size"], 32]
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; {args.sequences} sequences x {length} "
          f"tokens, vocab {args.vocab}")
    print(f"{'preset':<7} {'objective':<10} {'params':>7} {'loop s':>7} {'chunk':>5} {'vmap s':>7} {'speed-up':>8} "
          f"{'max rel diff':>12}")
    known = {**BUILTIN_PRESETS, **demo.config["presets"]}
    for preset_name in presets:
        preset = {**known[preset_name], "max_positions": max(length, 64)}
        for name in args.objectives:
            objective = make_objective(name, special_tokens(args.vocab))
            torch.manual_seed(0)
            model = objective.build_model(preset).eval()
            groups = objective.layer_groups(model)
            parameters = sum(p.numel() for p in model.parameters()) / 1e6

            def sequence_loss(model, example):
                return objective.sequence_loss(model, example["input_ids"], example["positions"])

            for chunk in chunks:
                batches = evaluation_batches(args.sequences, length, args.vocab, chunk)
                loop_s, reference = timed(lambda: per_sample_fisher_loop(model, sequence_loss, batches, groups))
                vmap_s, fast = timed(lambda: per_sample_fisher(model, sequence_loss, batches, groups, chunk_size=chunk))
                scale = np.maximum(np.abs(reference.per_sequence), 1e-30)
                difference = np.max(np.abs(fast.per_sequence - reference.per_sequence) / scale)
                print(f"{preset_name:<7} {name:<10} {parameters:6.1f}M {loop_s:7.2f} {chunk:5d} {vmap_s:7.2f} "
                      f"{loop_s / vmap_s:7.1f}x {difference:12.1e}")


if __name__ == "__main__":
    main()
