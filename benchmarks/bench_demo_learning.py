"""Does every text member of the demo learn, whatever the data seed and the CPU kernels?

    python benchmarks/bench_demo_learning.py                       # 3 data seeds x 2 kernel families
    python benchmarks/bench_demo_learning.py --data-seeds 1234 --kernels default --cores 2

For each data seed and each CPU kernel family torch offers on this machine (``default``: the
best it detects, e.g. AVX-512; ``avx2``: ``ATEN_CPU_CAPABILITY=avx2``), this runs the demo
study's text conditions (config/config.yaml, only the conditions whose corpus is text) with
Snakemake into ``benchmarks/out/demo_learning/{kernel}/data_seed{seed}/`` up to
``outputs_members.csv`` and ``outputs_summary.csv``, and prints each member's
``bits_beyond_unigram`` (corrected definition, per token) with the ensemble's interval.

A row passes when every member learned at least ``--threshold`` bits beyond the training
unigram and the ensemble's interval lies above it. The exit status is 1 when any row fails,
so the script can gate a change of the demo's recipe. ``--config`` adds a study file merged
over the demo's (e.g. a recipe to try: ``training: {steps: 1200}``).

Where a run's outputs exist, Snakemake reuses them (a changed recipe reruns what it affects).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import yaml

REPO = Path(__file__).resolve().parents[1]
KERNELS = {"default": None, "avx2": "avx2"}


def text_conditions(config_path: Path) -> list[dict]:
    config = yaml.safe_load(config_path.read_text())
    return [c for c in config["conditions"] if config["corpora"][c["corpus"]]["kind"] == "text"]


def run_study(out: Path, data_seed: int, kernel: str, extra_configs: list[Path], cores: int) -> float:
    """Snakemake up to the outputs tables of one data seed under one kernel family; seconds taken."""
    out.mkdir(parents=True, exist_ok=True)
    study = out / "study.yaml"
    study.write_text(
        yaml.safe_dump(
            {
                "results": str(out / "results"),
                "logs": str(out / "logs"),
                "data_seed": data_seed,
                "conditions": text_conditions(REPO / "config" / "config.yaml"),
            }
        )
    )
    env = dict(os.environ)
    if KERNELS[kernel]:
        env["ATEN_CPU_CAPABILITY"] = KERNELS[kernel]
    else:
        env.pop("ATEN_CPU_CAPABILITY", None)
    targets = [str(out / "results" / "tables" / f"outputs_{t}.csv") for t in ("members", "summary")]
    command = [sys.executable, "-m", "snakemake", *targets, "--cores", str(cores), "--quiet", "all",
               "--configfile", *map(str, [study, *extra_configs])]
    started = time.perf_counter()
    result = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True)
    if result.returncode:
        sys.exit(f"snakemake failed for data seed {data_seed}, kernels {kernel}:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return time.perf_counter() - started


def learning_rows(out: Path) -> list[dict]:
    tables = out / "results" / "tables"
    members = pd.read_csv(tables / "outputs_members.csv")
    summary = pd.read_csv(tables / "outputs_summary.csv")
    members = members[members["definition"] == "corrected"]
    summary = summary[(summary["definition"] == "corrected") & (summary["metric"] == "bits_beyond_unigram")]
    rows = []
    for row in summary.to_dict("records"):
        same = (members["condition"] == row["condition"]) & (members["objective"] == row["objective"])
        same &= members["architecture"] == row["architecture"]
        rows.append({**row, "members": dict(zip(members[same]["seed"], members[same]["bits_beyond_unigram"]))})
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-seeds", type=int, nargs="+", default=[1234, 1, 2])
    parser.add_argument("--kernels", nargs="+", choices=sorted(KERNELS), default=["default", "avx2"])
    parser.add_argument("--config", type=Path, action="append", default=[], help="study file merged over the demo's")
    parser.add_argument("--threshold", type=float, default=1.5, help="bits per token every member must reach")
    parser.add_argument("--cores", type=int, default=os.cpu_count())
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "out" / "demo_learning")
    args = parser.parse_args()

    print(f"{'kernels':8} {'data seed':>9} {'condition':12} {'ensemble [interval]':>26}  members (seed: bits)  time")
    failed = False
    for kernel in args.kernels:
        for data_seed in args.data_seeds:
            out = args.out / kernel / f"data_seed{data_seed}"
            seconds = run_study(out, data_seed, kernel, [c.resolve() for c in args.config], args.cores)
            for row in learning_rows(out):
                passed = row["low"] > args.threshold and min(row["members"].values()) >= args.threshold
                failed |= not passed
                members = ", ".join(f"{seed}: {bits:.2f}" for seed, bits in sorted(row["members"].items()))
                interval = f"{row['estimate']:.2f} [{row['low']:.2f}, {row['high']:.2f}]"
                print(f"{kernel:8} {data_seed:>9} {row['condition']:12} {interval:>26}  {members}  {seconds:.0f} s"
                      f"{'' if passed else '  BELOW ' + str(args.threshold)}", flush=True)
    return int(failed)


if __name__ == "__main__":
    sys.exit(main())
