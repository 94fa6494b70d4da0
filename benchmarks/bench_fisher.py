"""Per-sample empirical Fisher: ghost norms (the default) against the per-example loop and
against one ordinary mini-batch forward and backward pass of the same sequences.

    python benchmarks/bench_fisher.py                        # demo preset and `small`, every objective
    python benchmarks/bench_fisher.py --presets small --objectives mlm --repeats 5 --threads 2 --vmap

All compute the same quantity (the mean over sequences of the squared per-sequence gradient
of the masked-token log-likelihood, summed per layer group), on the same random model and
evaluation sequences with 10% of positions predicted, as the extraction does. Each timing is
the fastest of ``--repeats`` runs, interleaved so that load from other processes hits all
alike. ``fwd+bwd`` is one forward and backward pass of the chunks' summed per-sequence losses
(weight gradients included), the cost of a mini-batch gradient. Printed: each one's seconds,
the speed-up over the loop, the cost relative to fwd+bwd, and the largest relative difference
of the per-sequence, per-group values from the loop's. Goals (issue 10): >= 5x the loop on
`small` on CPU, <= 2x fwd+bwd, equal to 1e-5.
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
from seqens.fisher import per_sample_fisher, per_sample_fisher_loop, per_sample_fisher_vmap  # noqa: E402
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


def fastest(functions: dict, repeats: int) -> tuple[dict[str, float], dict]:
    """Seconds of the fastest of ``repeats`` interleaved runs of each function, and its results."""
    seconds = {name: float("inf") for name in functions}
    results = {}
    for _ in range(repeats):
        for name, function in functions.items():
            started = time.perf_counter()
            results[name] = function()
            seconds[name] = min(seconds[name], time.perf_counter() - started)
    return seconds, results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--presets", nargs="+", default=None, help="default: the demo config's preset and small")
    parser.add_argument("--objectives", nargs="+", default=sorted(REGISTRY), choices=sorted(REGISTRY))
    parser.add_argument("--sequences", type=int, default=32)
    parser.add_argument("--vocab", type=int, default=1024)
    parser.add_argument("--chunk-sizes", type=int, nargs="+", default=None,
                        help="sequences per batched pass (default: the config's fisher_chunk_size, and 32)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads (default: the config's extraction.threads, as extract_member runs)")
    parser.add_argument("--vmap", action="store_true", help="also time the torch.func version")
    args = parser.parse_args()

    demo = load_study(REPO / "config" / "config.yaml")
    presets = args.presets or [demo.config["model"], "small"]
    length = demo.config["data"]["sequence_length"]
    chunks = args.chunk_sizes or [demo.config["extraction"]["fisher_chunk_size"], 32]
    torch.set_num_threads(args.threads or demo.config["extraction"]["threads"])
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; {args.sequences} sequences x {length} "
          f"tokens, vocab {args.vocab}; fastest of {args.repeats}")
    print(f"{'preset':<8} {'objective':<10} {'params':>7} {'chunk':>5} {'loop s':>7} {'fwd+bwd s':>9} {'ghost s':>7} "
          f"{'vs loop':>7} {'vs fwd+bwd':>10} {'max rel diff':>12}" + (f" {'vmap s':>7}" if args.vmap else ""))
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

            def sequence_losses(model, batch):
                return objective.sequence_losses(model, batch["input_ids"], batch["positions"])

            for chunk in chunks:
                batches = evaluation_batches(args.sequences, length, args.vocab, chunk)

                def forward_backward():
                    for batch in batches:
                        model.zero_grad(set_to_none=True)
                        sequence_losses(model, batch).sum().backward()
                    model.zero_grad(set_to_none=True)

                functions = {
                    "loop": lambda: per_sample_fisher_loop(model, sequence_loss, batches, groups),
                    "fwd+bwd": forward_backward,
                    "ghost": lambda: per_sample_fisher(model, sequence_losses, batches, groups, chunk_size=chunk),
                }
                if args.vmap:
                    functions["vmap"] = lambda: per_sample_fisher_vmap(
                        model, sequence_loss, batches, groups, chunk_size=chunk
                    )
                seconds, results = fastest(functions, args.repeats)
                reference = results["loop"].per_sequence
                scale = np.maximum(np.abs(reference), 1e-30)
                difference = np.max(np.abs(results["ghost"].per_sequence - reference) / scale)
                print(f"{preset_name:<8} {name:<10} {parameters:6.1f}M {chunk:5d} {seconds['loop']:7.2f} "
                      f"{seconds['fwd+bwd']:9.2f} {seconds['ghost']:7.2f} {seconds['loop'] / seconds['ghost']:6.1f}x "
                      f"{seconds['ghost'] / seconds['fwd+bwd']:9.2f}x {difference:12.1e}"
                      + (f" {seconds['vmap']:7.2f}" if args.vmap else ""), flush=True)


if __name__ == "__main__":
    main()
