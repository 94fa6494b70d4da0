"""Forward tokens per second of a published 90M-parameter member (the bert-90m preset as a
``BertForMaskedLM``, the paper's released models' shape), and the hours a published study's
extraction would take at that rate.

    python benchmarks/bench_published.py                       # CPU, the released GFMs study
    python benchmarks/bench_published.py --threads 2 --batches 3
    python benchmarks/bench_published.py --project config/multiberts.yaml --vocab 30522 --layers 12 --hidden 768

A member's extraction reads each evaluation sequence once for its distributions (once more under
the paper's definition), the contextual sequences once, and the Fisher sequences in a forward and
backward pass (about 3 forward passes' work: seqens.fisher, ghost norms; the paper's mini-batch
Fisher alike). The projection multiplies these forward-pass equivalents by the measured rate; it
leaves out corpus preparation, tokenisation and the comparisons. A GPU's hours are projected from
the model's FLOPs per token at an assumed share of the device's dense peak (printed), not
measured.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "workflow" / "scripts"))

from seqens import paper_definitions  # noqa: E402
from seqens.config import BUILTIN_PRESETS, load_study  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
H100_BF16_DENSE = 989e12  # FLOP/s, dense bf16 (NVIDIA's datasheet)


def forward_rate(preset: dict, vocab: int, batch: int, length: int, batches: int) -> float:
    """Forward tokens per second of the whole masked LM (head at every position, as
    AutoModelForMaskedLM computes), fp32, eval mode, no gradients."""
    from transformers import BertConfig, BertForMaskedLM

    config = BertConfig(vocab_size=vocab, hidden_size=preset["hidden"], num_hidden_layers=preset["layers"],
                        num_attention_heads=preset["heads"], intermediate_size=preset["ffn"],
                        max_position_embeddings=max(preset["max_positions"], length), type_vocab_size=1)
    model = BertForMaskedLM(config).eval()
    input_ids = torch.randint(5, vocab, (batch, length), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        model(input_ids=input_ids)  # warm-up
        start = time.perf_counter()
        for _ in range(batches):
            model(input_ids=input_ids)
        seconds = time.perf_counter() - start
    return batch * length * batches / seconds


def forward_flops_per_token(preset: dict, vocab: int, length: int) -> float:
    """2 x the multiply-adds of one token's forward pass: the layers' matrices, attention over
    ``length`` positions, the head's transform and output layer."""
    hidden, ffn, layers = preset["hidden"], preset["ffn"], preset["layers"]
    per_layer = 4 * hidden * hidden + 2 * hidden * ffn + 2 * length * hidden
    return 2 * (layers * per_layer + hidden * hidden + hidden * vocab)


def extraction_sequences(study) -> float:
    """Forward-pass equivalents (in sequences) of one published member's extraction jobs."""
    extraction = study.config["extraction"]
    sequences = extraction["sequences"] or study.config["data"]["eval_sequences"]
    total = sequences + extraction["contextual_sequences"] + 3 * extraction["fisher_sequences"]
    if "paper" in extraction["definitions"]:
        total += sequences + 3 * paper_definitions.FISHER_SEQUENCES
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--project", type=Path, nargs="+", default=[REPO / "config/paper.yaml",
                                                                    REPO / "config/gfms-released.yaml"],
                        help="the study's config files, in --configfile order after config/config.yaml")
    parser.add_argument("--vocab", type=int, default=4096, help="the members' vocabulary (GFMs: 4,096; k-mers 4,105)")
    parser.add_argument("--layers", type=int, default=None)
    parser.add_argument("--hidden", type=int, default=None)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--batches", type=int, default=3)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--gpu-mfu", type=float, default=0.3, help="assumed share of the GPU's dense bf16 peak")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    import yaml

    from seqens.config.study import deep_merge

    overrides = {}
    for path in args.project:
        overrides = deep_merge(overrides, yaml.safe_load(path.read_text()))
    study = load_study(REPO / "config/config.yaml", overrides)
    preset = dict(BUILTIN_PRESETS["bert-90m"])
    if args.layers:
        preset.update(layers=args.layers)
    if args.hidden:
        preset.update(hidden=args.hidden, heads=args.hidden // 64, ffn=4 * args.hidden)
    length = study.config["data"]["sequence_length"]
    rate = forward_rate(preset, args.vocab, args.batch, length, args.batches)
    members = len(study.members)
    tokens = members * extraction_sequences(study) * length
    flops = forward_flops_per_token(preset, args.vocab, length)
    gpu_rate = args.gpu_mfu * H100_BF16_DENSE / flops
    print(f"preset {preset}, vocabulary {args.vocab:,}, {args.batch} x {length} tokens, {args.threads} CPU threads")
    print(f"measured: {rate:,.0f} forward tokens/s on this CPU (fp32)")
    print(f"study: {members} members x {extraction_sequences(study):,.0f} forward-sequence equivalents x {length} "
          f"tokens = {tokens / 1e6:,.1f} M forward tokens")
    print(f"projection, CPU: {tokens / rate / 3600:,.1f} hours at the measured rate")
    print(f"projection, GPU (not measured): {tokens / gpu_rate / 3600:,.2f} hours at {args.gpu_mfu:.0%} of an H100's "
          f"dense bf16 peak ({flops / 1e9:.2f} GFLOP per forward token, {gpu_rate:,.0f} tokens/s)")


if __name__ == "__main__":
    main()
