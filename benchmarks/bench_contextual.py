"""Time of the contextual comparisons (rule compare_contextual: every ensemble's metrics with
Multi-Bootstrap intervals, then the DNA-minus-text contrasts) on a finished study's contextual
embeddings, under each definition their files hold.

    python benchmarks/bench_contextual.py                       # results/ of the demo (config/config.yaml)
    python benchmarks/bench_contextual.py --results /tmp/run/results --package /tmp/main/workflow/scripts

``--package`` times another checkout's seqens on the same files (its compare_contextual is
called without a definition, so a checkout from before the paper's contextual definition
works too). Prints, per definition, wall and CPU seconds of the ensembles' intervals and of
the contrasts; CPU seconds are the steadier figure on a shared machine.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import yaml

REPO = Path(__file__).resolve().parents[1]
STATES = {"corrected": "states", "paper": "paper_states"}  # each definition's array in contextual.npz


def timed(function):
    wall, cpu = time.perf_counter(), time.process_time()
    result = function()
    return result, time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--results", type=Path, default=REPO / "results")
    parser.add_argument("--config", type=Path, default=REPO / "config" / "config.yaml")
    parser.add_argument("--package", type=Path, default=REPO / "workflow" / "scripts")
    parser.add_argument("--draws", type=int, default=1000)
    args = parser.parse_args()
    sys.path.insert(0, str(args.package))
    from seqens.config import Condition, Ensemble
    from seqens.contextual import compare_contextual, contextual_contrasts

    corpora = yaml.safe_load(args.config.read_text())["corpora"]
    members: dict[tuple, list[Path]] = {}
    for path in sorted(args.results.glob("extract/*/*/*/*/seed*/contextual.npz")):
        corpus, tokenizer, architecture, objective, seed = path.parts[-6:-1]
        members.setdefault((corpus, tokenizer, architecture, objective), []).append(path)
    if not members:
        sys.exit(f"no contextual.npz under {args.results}/extract: run the study (or extract_contextual) first")
    print(f"seqens from {args.package}; {len(members)} ensembles; {args.draws} draws")
    total_wall = total_cpu = 0.0
    for definition, key in STATES.items():
        states = {}
        for (corpus, tokenizer, architecture, objective), paths in members.items():
            condition = Condition(corpus, tokenizer, corpora[corpus]["kind"])
            seeds = tuple(int(p.parent.name.removeprefix("seed")) for p in paths)
            loaded = [np.load(p) for p in paths]
            if all(key in saved for saved in loaded):
                states[Ensemble(condition, architecture, objective, seeds)] = [saved[key] for saved in loaded]
        if not states:
            continue
        results, wall_a, cpu_a = timed(lambda: {e: compare_contextual(e, s, draws=args.draws) for e, s in states.items()})
        _, wall_b, cpu_b = timed(lambda: contextual_contrasts(results, draws=args.draws))
        shape = next(iter(states.values()))[0].shape
        print(f"{definition:>9} ({len(states)} ensembles, states {shape}): intervals {wall_a:6.1f} s wall "
              f"{cpu_a:6.1f} s CPU; contrasts {wall_b:6.1f} s wall {cpu_b:6.1f} s CPU")
        total_wall += wall_a + wall_b
        total_cpu += cpu_a + cpu_b
    print(f"{'total':>9}: {total_wall:.1f} s wall, {total_cpu:.1f} s CPU")


if __name__ == "__main__":
    main()
