"""Counting throughput and peak memory of the count baselines (seqens.counts) at K = 4,
two-sided, on synthetic training splits of 1e7 and 1e8 tokens.

    python benchmarks/bench_counts.py --tokens 1e7 1e8

Goal (issue 22): >= 1e6 training tokens/s on one core and <= 40 bytes of peak memory per
training token. Each size runs in a process of its own (one thread): it writes a token array
like the workflow's (rows of 512, [CLS] first, a vocabulary of 4,101 as the 6-mers', token ids
from a first-order chain with Zipf-like rows) to a temporary .npy, memory-maps it, and counts
it for the queries of the paper's evaluation (1,024 sequences x 10% masked) and 256 held-out
rows. Prints one row per size: tokens/s over wall and CPU time, the discount search's time,
the peak heap (numpy allocations, tracemalloc) and the peak resident set (which also holds
the memory-mapped tokens it read), each per training token. The time is that of an untraced
run and the heap that of a second, traced one: tracemalloc's bookkeeping of every allocation
slows numpy code by up to 40%.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
ROW, VOCAB, SPECIAL, CLS = 512, 4101, 5, 2


def synthetic_tokens(path: Path, n_tokens: int, seed: int = 0) -> None:
    """A token array [n_tokens / ROW, ROW] with structure for counts to find: each token is
    a function of its predecessor (the same function in every split) or Zipf-distributed noise."""
    rows = max(1, n_tokens // ROW)
    successor = np.random.default_rng(0).integers(SPECIAL, VOCAB, VOCAB)  # one chain for every split
    rng = np.random.default_rng(seed)
    out = np.lib.format.open_memmap(path, mode="w+", dtype=np.uint16, shape=(rows, ROW))
    block = max(1, (1 << 22) // ROW)
    for start in range(0, rows, block):
        n = min(block, rows - start)
        noise = np.minimum(rng.zipf(1.3, (n, ROW)) + SPECIAL - 1, VOCAB - 1)
        tokens = noise.copy()
        follow = rng.random((n, ROW)) < 0.5
        for col in range(2, ROW):
            tokens[:, col] = np.where(follow[:, col], successor[tokens[:, col - 1]], noise[:, col])
        tokens[:, 0] = CLS
        out[start : start + n] = tokens
    out.flush()


def run(n_tokens: int, order: int, work: Path) -> None:
    sys.path.insert(0, str(REPO / "workflow" / "scripts"))
    from seqens.counts import ContextCounts, Queries, choose_discounts, held_out_rows
    from seqens.positions import masked_positions

    path = work / "train.npy"
    synthetic_tokens(path, n_tokens)
    evaluation = work / "eval.npy"
    synthetic_tokens(evaluation, 1024 * ROW, seed=1)
    train = np.load(path, mmap_mode="r")
    eval_tokens = np.asarray(np.load(evaluation), dtype=np.int64)
    rng = np.random.default_rng(0)
    positions = masked_positions(eval_tokens, 0.1, rng)
    held_out = held_out_rows(len(train), 256)
    held_tokens = np.asarray(train[held_out], dtype=np.int64)
    options = dict(max_order=order, two_sided=True, vocab_size=VOCAB)
    queries = Queries.at(eval_tokens, positions, **options) + Queries.at(
        held_tokens, masked_positions(held_tokens, 0.1, rng), **options
    )
    fitted = np.setdiff1d(np.arange(len(train)), held_out)
    counted = len(fitted) * ROW
    wall, cpu = time.perf_counter(), time.process_time()
    ContextCounts(train[fitted] if len(fitted) < len(train) else train, queries, vocab_size=VOCAB)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    tracemalloc.start()  # a second run: tracing every allocation slows numpy code (by up to 40% here)
    counts = ContextCounts(train[fitted] if len(fitted) < len(train) else train, queries, vocab_size=VOCAB)
    _, heap = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    search = time.perf_counter()
    choose_discounts(counts, np.arange(len(queries) - int(positions.sum()), len(queries)))
    search = time.perf_counter() - search
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(
        f"| {counted:.2e} | {len(queries):,} | {wall:.1f} | {counted / wall:,.0f} | {cpu:.1f} | {counted / cpu:,.0f} "
        f"| {search:.1f} | {heap / counted:.1f} | {rss / counted:.1f} |",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tokens", type=float, nargs="+", default=[1e7, 1e8])
    parser.add_argument("--order", type=int, default=4)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        with tempfile.TemporaryDirectory() as work:
            run(int(float(args.child)), args.order, Path(work))
        return
    print(f"count baselines, K = {args.order} two-sided, vocabulary {VOCAB}, rows of {ROW}, one thread")
    print("| training tokens counted | queries | wall s | tokens/s (wall) | CPU s | tokens/s (CPU) | discount search s "
          "| peak heap B/token | peak RSS B/token |")
    print("|---|---|---|---|---|---|---|---|---|")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    for tokens in args.tokens:
        subprocess.run([sys.executable, __file__, "--child", str(tokens), "--order", str(args.order)], check=True, env=env)


if __name__ == "__main__":
    main()
