"""Time and peak memory of every pairwise static-embedding metric for two random members.

    python benchmarks/bench_embeddings.py                      # vocabularies 4,096 and 32,768
    python benchmarks/bench_embeddings.py --vocab 4096 --hidden 256

Members are float32 [V, H] matrices, the second a noisy copy of the first. Each vocabulary
runs in a child process, so its peak RSS is its own. "peak MB" is the largest traced
(tracemalloc) allocation above the inputs during the metric. The last row computes each
member's neighbours once at the largest k and passes them to both neighbour metrics, as an
ensemble can do for all its pairs. RBF CKA is measured up to 8,192 tokens (its two
V x V kernels take about 17 GB at 32,768).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
# RBF CKA holds two V x V float64 kernels: 0.5 GB at 4,096 tokens, about 17 GB at 32,768.
RBF_CKA_MAX_VOCAB = 8192


def measure(function):
    """(seconds, peak traced MiB above the allocations alive at the start) of function()."""
    tracemalloc.reset_peak()
    baseline = tracemalloc.get_traced_memory()[0]
    started = time.perf_counter()
    function()
    return time.perf_counter() - started, (tracemalloc.get_traced_memory()[1] - baseline) / 2**20


def run_vocabulary(vocab: int, hidden: int, ks: tuple[int, ...], spearman_k: int) -> dict:
    sys.path.insert(0, str(REPO / "workflow" / "scripts"))
    from seqens import embedding_similarity as e

    rng = np.random.default_rng(0)
    A = rng.normal(size=(vocab, hidden)).astype(np.float32)
    B = (A + rng.normal(size=(vocab, hidden))).astype(np.float32)
    tracemalloc.start()
    largest_k = max(k for k in (*ks, spearman_k) if k < vocab)

    def shared_neighbours():
        found = (e.cosine_neighbours(A, largest_k), e.cosine_neighbours(B, largest_k))
        e.topk_overlap(A, B, ks, neighbours=found)
        e.local_spearman(A, B, spearman_k, neighbours=found)

    rows = {
        f"cosine_neighbours k={largest_k} (one member)": lambda: e.cosine_neighbours(A, largest_k),
        f"topk_overlap ks={','.join(map(str, ks))}": lambda: e.topk_overlap(A, B, ks),
        f"local_spearman k={spearman_k}": lambda: e.local_spearman(A, B, spearman_k),
        "procrustes": lambda: e.procrustes(A, B),
        "linear_cka": lambda: e.linear_cka(A, B),
        "overlap + spearman, shared neighbours": shared_neighbours,
    }
    if vocab <= RBF_CKA_MAX_VOCAB:
        rows["rbf_cka"] = lambda: e.rbf_cka(A, B)
    results = {name: measure(function) for name, function in rows.items()}
    return {"results": results, "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--vocab", type=int, nargs="+", default=[4096, 32768])
    parser.add_argument("--hidden", type=int, default=768)
    parser.add_argument("--ks", type=int, nargs="+", default=[1, 3, 5, 10, 20, 50, 100, 1000])
    parser.add_argument("--spearman-k", type=int, default=10)
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_vocabulary(args.child, args.hidden, tuple(args.ks), args.spearman_k)))
        return
    print(f"{'vocab':>6} {'metric':<44} {'seconds':>8} {'peak MB':>8}")
    for vocab in args.vocab:
        child = subprocess.run(
            [sys.executable, __file__, "--child", str(vocab), "--hidden", str(args.hidden),
             "--ks", *map(str, args.ks), "--spearman-k", str(args.spearman_k)],
            capture_output=True, text=True, check=True,
        )
        report = json.loads(child.stdout.splitlines()[-1])
        for name, (seconds, peak) in report["results"].items():
            print(f"{vocab:>6} {name:<44} {seconds:8.2f} {peak:8.0f}")
        print(f"{vocab:>6} {'process peak RSS':<44} {'':>8} {report['max_rss_mb']:8.0f}")


if __name__ == "__main__":
    main()
