"""The entropy rate's mixed-order model and the leakage audit at growing scale, on random DNA
made by this script: seconds of CPU, symbols or tokens per second, and peak memory, each
size in a fresh process (so peaks do not carry over).

    python benchmarks/bench_entropy_leakage.py --train-bases 4e6 32e6 --tokens 1e6 1e7

Entropy rate: the demo's settings (orders up to 20, three forgetting factors), 300,000
held-out bases, the training bases counted on both strands. Leakage: k = 32 on a 6-mer
tokenizer's rows of 64 tokens against 256 evaluation rows.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "workflow" / "scripts"))


def entropy_rate(train_bases: int) -> dict:
    from seqens.entropy_rate import DNA_ALPHABET
    from seqens.markov import mixed_order_bits

    rng = np.random.default_rng(0)
    train = rng.integers(0, DNA_ALPHABET, size=2 * train_bases).astype(np.uint8)  # both strands
    held_out = rng.integers(0, DNA_ALPHABET, size=300_000).astype(np.uint8)
    start = time.process_time()
    bits = mixed_order_bits(train, held_out, alphabet_size=DNA_ALPHABET, orders=[1, 2, 3, 4, 6, 8, 11, 12, 14, 16, 18, 20],
                            prior_strength=8, forgetting=[0.9, 0.99, 1.0])
    seconds = time.process_time() - start
    return {"what": "entropy rate", "size": train_bases, "cpu_s": seconds, "per_s": train_bases / seconds,
            "bits": float(bits.mean())}


def leakage(tokens: int) -> dict:
    from seqens.leakage import shared_kgrams
    from seqens.tokenization import SequenceTokenizer, build_tokenizer, save_tokenizer

    spec = {"type": "kmer", "k": 6, "stride": 6}
    with tempfile.TemporaryDirectory() as folder:
        save_tokenizer(build_tokenizer(spec, "dna", []), spec, "dna", Path(folder) / "tok", model_max_length=64)
        tokenizer = SequenceTokenizer(Path(folder) / "tok")
    rng = np.random.default_rng(1)
    train = rng.integers(5, tokenizer.vocab_size, size=(tokens // 64, 64)).astype(np.uint16)
    held_out = rng.integers(5, tokenizer.vocab_size, size=(256, 64)).astype(np.uint16)
    start = time.process_time()
    shared_kgrams("dna", held_out, train, tokenizer=tokenizer, k=32)
    seconds = time.process_time() - start
    return {"what": "leakage audit", "size": tokens, "cpu_s": seconds, "per_s": tokens / seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train-bases", type=float, nargs="*", default=[4e6])
    parser.add_argument("--tokens", type=float, nargs="*", default=[1e6])
    parser.add_argument("--one", nargs=2, help=argparse.SUPPRESS)  # internal: one measurement
    args = parser.parse_args()
    if args.one:
        result = {"entropy": entropy_rate, "leakage": leakage}[args.one[0]](int(float(args.one[1])))
        result["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps(result))
        return
    print(f"{'what':<14} {'size':>12} {'CPU s':>8} {'per s':>12} {'peak MB':>8} {'bytes/unit':>10}")
    jobs = [("entropy", n) for n in args.train_bases] + [("leakage", n) for n in args.tokens]
    for kind, size in jobs:
        out = subprocess.run([sys.executable, __file__, "--one", kind, str(size)], capture_output=True, text=True,
                             check=True)
        r = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"{r['what']:<14} {r['size']:>12,} {r['cpu_s']:>8.1f} {r['per_s']:>12,.0f} {r['peak_mb']:>8.0f} "
              f"{r['peak_mb'] * 2**20 / r['size']:>10.1f}")


if __name__ == "__main__":
    main()
