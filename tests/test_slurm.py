"""The demo's training jobs through the real SLURM executor on a one-node cluster.

CI stands the cluster up with .ci/slurm/start.sh and sets SEQENS_SLURM_TEST=1. The run uses
`--profile slurm` as a user types it, with the site placeholders, the GPU requests and the
job sizes overridden for a 2-CPU node without GPUs or accounting.
"""

import os
import shutil
import subprocess

import pandas as pd
import pytest

from conftest import REPO, snakemake_cmd

pytestmark = [pytest.mark.slurm, pytest.mark.workflow]

CLUSTER_UP = os.environ.get("SEQENS_SLURM_TEST") == "1" and shutil.which("sinfo") is not None

CPU_OVERRIDES = [
    "--slurm-no-account",
    "--slurm-status-command", "squeue",  # no slurmdbd: sacct cannot answer
    "--slurm-init-seconds-before-status-checks", "5",
    "--default-resources", "slurm_partition=debug", "runtime=30", "mem_mb=1000", "cpus_per_task=1",
    "--set-resources", "train_member:slurm_partition=debug", "train_member:gpu=0", "train_member:mem_mb=3000",
    "train_member:cpus_per_task=2", "train_member:runtime=30",
    "--set-threads", "train_member=2",
]


def test_slurm_profile_resolves_as_typed():
    """`--profile slurm` from the repository root finds profiles/slurm (through ./slurm)."""
    assert (REPO / "slurm").resolve() == (REPO / "profiles" / "slurm").resolve()
    result = snakemake_cmd("results/tables/corpora.csv", "--profile", "slurm", "-n", "--forceall")
    assert "Using profiles slurm and workflow specific profile profiles/default" in result.stdout + result.stderr


@pytest.mark.skipif(not CLUSTER_UP, reason="needs a SLURM cluster (SEQENS_SLURM_TEST=1, see .ci/slurm/start.sh)")
def test_demo_training_jobs_run_through_slurm(tmp_path):
    work = tmp_path / "work"
    shutil.copytree(REPO, work, symlinks=True, ignore=shutil.ignore_patterns(
        ".venv", ".git", "results", "resources", "logs", ".snakemake", "__pycache__"))
    target = "results/tables/training_log.csv"
    (work / "short.yaml").write_text("training: {steps: 20, eval_every: 10}\n")
    snakemake_cmd(target, "--profile", "slurm", *CPU_OVERRIDES, "--configfile", "config/config.yaml", "short.yaml",
                  cwd=work, timeout=1500)
    log = pd.read_csv(work / target)
    assert len(log.groupby(["condition", "seed"])) == 9 and (log["step"].max() == 20)
    manifests = sorted((work / "results" / "models").glob("*/*/*/seed*/manifest.json"))
    assert len(manifests) == 9
    import json

    job_ids = {json.loads(m.read_text())["training"]["slurm_job_id"] for m in manifests}
    assert None not in job_ids and len(job_ids) == 9  # each member was its own SLURM job
    accounting = subprocess.run(["squeue", "-h", "-t", "all", "-o", "%i"], capture_output=True, text=True)
    assert accounting.returncode == 0
