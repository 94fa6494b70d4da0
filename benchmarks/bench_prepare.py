"""Corpus preparation throughput and peak memory on a large FASTA made by this script.

    python benchmarks/bench_prepare.py --gigabytes 1

Goal (issue 2): >= 100 MB/s and < 1 GB peak memory on a 2-core machine. Prints one table;
the FASTA is written to a temporary directory and removed afterwards.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def write_fasta(path: Path, total_bases: int, records: int = 4, seed: int = 0) -> None:
    """Random soft-masked DNA with N runs, 60 bases per line, in `records` records."""
    rng = np.random.default_rng(seed)
    alphabet = np.frombuffer(b"ACGTacgt", dtype=np.uint8)
    line = 60
    block_lines = 1 << 15
    per_record = total_bases // records
    with open(path, "wb") as handle:
        for r in range(records):
            handle.write(f">chr{r + 1} synthetic\n".encode())
            remaining = per_record
            while remaining > 0:
                n_lines = min(block_lines, -(-remaining // line))
                bases = alphabet[rng.integers(0, 8, size=(n_lines, line))]
                bases[rng.random(n_lines) < 0.002] = ord("N")  # occasional N lines
                rows = np.concatenate([bases, np.full((n_lines, 1), ord("\n"), dtype=np.uint8)], axis=1)
                handle.write(rows.tobytes())
                remaining -= n_lines * line


def run_preparation(fasta: Path, out_dir: Path) -> None:
    sys.path.insert(0, str(REPO / "workflow" / "scripts"))
    from seqens.prepare import prepare_dna

    prepare_dna(
        "bench", [fasta], out_dir, window=2048, softmask="upper", max_n_fraction=0.05,
        eval_block=16, eval_fraction=0.05, seed=1,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gigabytes", type=float, default=1.0)
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        run_preparation(Path(args.child[0]), Path(args.child[1]))
        print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)  # KiB on Linux
        return
    with tempfile.TemporaryDirectory() as tmp:
        fasta = Path(tmp) / "genome.fa"
        started = time.perf_counter()
        write_fasta(fasta, int(args.gigabytes * 1e9 * 60 / 61))
        size = fasta.stat().st_size
        print(f"wrote {size / 1e9:.2f} GB FASTA in {time.perf_counter() - started:.1f} s")
        started = time.perf_counter()
        # A child process, so that peak memory is the preparation's alone.
        child = subprocess.run(
            [sys.executable, __file__, "--child", str(fasta), str(Path(tmp) / "out")],
            capture_output=True, text=True, check=True,
        )
        seconds = time.perf_counter() - started
        peak_mb = int(child.stdout.split()[-1]) / 1024
        print(f"{'input MB':>10} {'seconds':>8} {'MB/s':>8} {'peak RSS MB':>12}")
        print(f"{size / 1e6:10.0f} {seconds:8.1f} {size / 1e6 / seconds:8.1f} {peak_mb:12.0f}")


if __name__ == "__main__":
    main()
