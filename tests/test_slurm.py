"""Jobs through the real SLURM executor, on the one-node cluster of .ci/slurm/start.sh.

Skipped unless SEQENS_SLURM_TEST=1 and `sinfo` answers (CI: .ci/run starts the cluster and
sets it). Every run is `snakemake --profile slurm` as a user types it in a checkout (the
./slurm link, profiles/slurm, and the workflow profile profiles/default that Snakemake adds by
itself), plus the CI overlay .ci/slurm/profile: no account, status checks with squeue (there
is no accounting database), the GPU rules as small CPU jobs on the 2-CPU node.

What runs is one parameter, a SlurmCase: how to lay out the working directory, the targets,
and what to check afterwards. `tiny` is a stand-in workflow written here; `demo-training` runs
the demo's real training jobs (short) through SLURM.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pandas as pd
import pytest

from conftest import REPO, copy_of_prepared, snakemake_cmd

pytestmark = [pytest.mark.slurm, pytest.mark.workflow, pytest.mark.e2e]

CI_PROFILE = REPO / ".ci" / "slurm" / "profile"
QUERY_TIMEOUT = 30  # seconds for any one sinfo/squeue/scontrol/scancel call


@dataclass(frozen=True)
class SlurmCase:
    """One run through SLURM: `setup(work)` fills the working directory, which does not exist
    yet or, with `from_prepared_demo`, is a copy of conftest's prepared_demo (the demo's
    corpora, tokenizers and token arrays, built locally); `targets` are passed to snakemake,
    `check(work, output)` inspects the results (output: snakemake's log)."""

    setup: Callable[[Path], None]
    targets: tuple[str, ...]
    check: Callable[[Path, str], None]
    extra_args: tuple[str, ...] = ()
    timeout: int = 900  # seconds for the whole snakemake run
    from_prepared_demo: bool = False


def query(*command: str) -> subprocess.CompletedProcess:
    return subprocess.run(command, capture_output=True, text=True, timeout=QUERY_TIMEOUT)


def jobs_of(work: Path) -> dict[str, dict[str, str]]:
    """SLURM's view of the jobs that ran in `work` (squeue keeps finished jobs for MinJobAge):
    job id -> state, rule comment, partition, CPUs, memory, time limit."""
    fields = {"state": "%T", "comment": "%k", "partition": "%P", "cpus": "%C", "memory": "%m",
              "time_limit": "%l", "workdir": "%Z"}
    result = query("squeue", "-h", "-t", "all", "-o", "|".join(["%i", *fields.values()]))
    assert result.returncode == 0, result.stderr
    jobs = {}
    for line in result.stdout.splitlines():
        job_id, *values = line.split("|")
        job = dict(zip(fields, values))
        if Path(job["workdir"]).resolve() == work.resolve():
            jobs[job_id] = job
    return jobs


def cancel_jobs_in(work: Path) -> None:
    active = [job_id for job_id, job in jobs_of(work).items()
              if job["state"] in ("PENDING", "RUNNING", "CONFIGURING", "COMPLETING", "SUSPENDED")]
    if active:
        query("scancel", *active)


def cluster_diagnostics(work: Path) -> str:
    """sinfo, squeue, the tails of the daemons' logs and of this run's SLURM job logs."""
    parts = []
    for command in (["sinfo"], ["squeue", "-t", "all"]):
        try:
            result = query(*command)
            parts.append(f"$ {' '.join(command)}\n{result.stdout}{result.stderr}")
        except subprocess.TimeoutExpired:
            parts.append(f"$ {' '.join(command)}\n(timed out)")
    logs = []
    try:
        for line in query("scontrol", "show", "config").stdout.splitlines():
            key, _, value = line.partition("=")
            if key.strip() in ("SlurmctldLogFile", "SlurmdLogFile"):
                logs.append(Path(value.strip()))
    except subprocess.TimeoutExpired:
        logs = [Path("/tmp/seqens-slurm/slurmctld.log"), Path("/tmp/seqens-slurm/slurmd.log")]
    logs += sorted((work / ".snakemake" / "slurm_logs").rglob("*.log"))[-4:]
    for log in logs:
        try:
            tail = "\n".join(log.read_text(errors="replace").splitlines()[-30:])
        except OSError as error:
            tail = f"({error})"
        parts.append(f"--- last lines of {log}\n{tail}")
    return "\n".join(parts)


def run_through_slurm(case: SlurmCase, work: Path) -> str:
    """`snakemake --profile slurm --profile .ci/slurm/profile ...` in `work`, bounded by
    case.timeout; on failure or timeout cancels the run's jobs and fails with the logs."""
    # targets first: options such as --configfile take any number of values
    command = [sys.executable, "-m", "snakemake", *case.targets, "--profile", "slurm", "--profile", str(CI_PROFILE),
               *case.extra_args]
    log_path = work.parent / "snakemake.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(command, cwd=work, stdout=log, stderr=subprocess.STDOUT,
                                   env={**os.environ, "PYTHONUNBUFFERED": "1"}, start_new_session=True)
        try:
            returncode = process.wait(timeout=case.timeout)
        except subprocess.TimeoutExpired:
            process.send_signal(signal.SIGINT)  # snakemake cancels its SLURM jobs when interrupted
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=30)
            returncode = None
    output = log_path.read_text(errors="replace")
    if returncode != 0:
        cancel_jobs_in(work)
        why = f"timed out after {case.timeout} s" if returncode is None else f"exited with {returncode}"
        pytest.fail(f"{' '.join(command[1:])} {why}\n{output[-8000:]}\n{cluster_diagnostics(work)}")
    return output


@pytest.fixture(scope="module")
def slurm_cluster():
    if os.environ.get("SEQENS_SLURM_TEST") != "1":
        pytest.skip("needs a SLURM cluster: run .ci/slurm/start.sh and set SEQENS_SLURM_TEST=1")
    if shutil.which("sinfo") is None:
        pytest.skip("SEQENS_SLURM_TEST=1 but there is no sinfo (run .ci/slurm/start.sh)")
    try:
        result = query("sinfo", "-h", "-o", "%a %T")
    except subprocess.TimeoutExpired:
        pytest.skip("SEQENS_SLURM_TEST=1 but sinfo does not answer (run .ci/slurm/start.sh)")
    if result.returncode != 0 or not result.stdout.strip():
        pytest.skip(f"SEQENS_SLURM_TEST=1 but sinfo fails: {result.stderr.strip()[-500:]}")


# --- case `tiny`: a stand-in workflow with the real GPU rules' names ---------------------------

TINY_SNAKEFILE = r'''
SEEDS = [1, 2]


rule all:
    input:
        "summary.txt",


rule train_member:
    """Stands in for the real rule (same name, so it gets the profile's GPU-rule resources).
    The first attempt leaves a checkpoint and fails, like a job that hits its time limit; the
    resubmission (profile: retries) resumes from the checkpoint and finishes."""
    output:
        "models/seed{seed}.txt",
    params:
        checkpoint="checkpoints/seed{seed}.txt",
    shell:
        """
        mkdir -p checkpoints
        echo "$SLURM_JOB_ID" >> {params.checkpoint}
        if [ "$(wc -l < {params.checkpoint})" -lt 2 ]; then echo "time limit" >&2; exit 1; fi
        {{
            echo "slurm_job_ids=$(paste -sd, {params.checkpoint})"
            echo "cpus_per_task=$SLURM_CPUS_PER_TASK"
            echo "gpu={resources.gpu}"
            echo "mem_mb={resources.mem_mb}"
        }} > {output}
        """


rule extract_member:
    input:
        "models/seed{seed}.txt",
    output:
        "extract/seed{seed}.txt",
    shell:
        'echo "slurm_job_id=$SLURM_JOB_ID" > {output}'


rule summarize:
    input:
        expand("models/seed{seed}.txt", seed=SEEDS),
        "extract/seed1.txt",
    output:
        "summary.txt",
    shell:
        'echo "slurm_job_id=$SLURM_JOB_ID" > {output}'
'''


def tiny_setup(work: Path) -> None:
    """The stand-in Snakefile laid out like the repository: profiles/ and the ./slurm link."""
    work.mkdir()
    (work / "Snakefile").write_text(TINY_SNAKEFILE)
    shutil.copytree(REPO / "profiles", work / "profiles")
    os.symlink(os.readlink(REPO / "slurm"), work / "slurm")


def record(path: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in path.read_text().split())


def tiny_check(work: Path, output: str) -> None:
    assert "SLURM run ID" in output  # the slurm executor, not the local one
    slurm = jobs_of(work)
    members = [record(work / "models" / f"seed{seed}.txt") for seed in (1, 2)]
    for member in members:
        first, second = member["slurm_job_ids"].split(",")
        # the resubmitted job resumed from the failed one's checkpoint
        assert slurm[first]["state"] == "FAILED" and slurm[second]["state"] == "COMPLETED"
        for job_id in (first, second):
            job = slurm[job_id]
            assert job["comment"].startswith("rule_train_member")
            # the profile's GPU-rule resources, as the CI overlay sizes them
            assert (job["partition"], job["cpus"], job["memory"], job["time_limit"]) == ("debug", "2", "3000M", "30:00")
        assert member["cpus_per_task"] == "2" and member["gpu"] == "0" and member["mem_mb"] == "3000"
    extract = record(work / "extract" / "seed1.txt")["slurm_job_id"]
    summary = record(work / "summary.txt")["slurm_job_id"]
    assert slurm[extract]["comment"].startswith("rule_extract_member") and slurm[extract]["cpus"] == "2"
    # a CPU rule: the default resources
    assert slurm[summary]["comment"] == "rule_summarize" and slurm[summary]["cpus"] == "1"
    assert slurm[summary]["memory"] == "1000M"
    assert all(job["state"] == "COMPLETED" for job_id, job in slurm.items()
               if job_id not in {m["slurm_job_ids"].split(",")[0] for m in members})


# --- case `demo-training`: the demo's training jobs, short --------------------------------------

SHORT_TRAINING = "training: {steps: 20, eval_every: 10, checkpoint_every: 10}\n"
DEMO_CONFIG = ("--configfile", "config/config.yaml", "short.yaml")


def demo_setup(work: Path) -> None:
    """The prepared demo (its training inputs built locally, so that SLURM runs just the
    training jobs), trained briefly."""
    (work / "short.yaml").write_text(SHORT_TRAINING)


def demo_check(work: Path, output: str) -> None:
    assert "SLURM run ID" in output
    log = pd.read_csv(work / "results" / "tables" / "training_log.csv")
    assert len(log.groupby(["condition", "objective", "seed"])) == 9 and log["step"].max() == 20
    manifests = sorted((work / "results" / "models").glob("*/*/*/*/seed*/manifest.json"))
    assert len(manifests) == 9
    job_ids = {json.loads(m.read_text())["training"]["slurm_job_id"] for m in manifests}
    assert None not in job_ids and len(job_ids) == 9  # each member was its own SLURM job
    slurm = jobs_of(work)
    assert job_ids <= set(slurm)
    for job_id in job_ids:
        assert slurm[job_id]["comment"].startswith("rule_train_member") and slurm[job_id]["state"] == "COMPLETED"
        assert (slurm[job_id]["cpus"], slurm[job_id]["memory"]) == ("2", "3000M")
    assert not any(job["comment"].startswith("rule_training_curves") for job in slurm.values())  # a local rule
    # The same member retrained here, on one core, outside SLURM: the same bits.
    member = Path("results/models/wiki/bpe/roformer/mlm/seed1")
    under_slurm = json.loads((work / member / "manifest.json").read_text())["weights"]
    snakemake_cmd(str(member / "manifest.json"), "--force", "--cores", "1", *DEMO_CONFIG, cwd=work, timeout=600)
    local = json.loads((work / member / "manifest.json").read_text())
    assert local["training"]["slurm_job_id"] is None and local["weights"] == under_slurm


CASES = {
    "tiny": SlurmCase(setup=tiny_setup, targets=("summary.txt",), check=tiny_check, timeout=600),
    "demo-training": SlurmCase(setup=demo_setup, targets=("results/tables/training_log.csv",), check=demo_check,
                               extra_args=DEMO_CONFIG, timeout=1200, from_prepared_demo=True),
}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_jobs_run_through_slurm(case, slurm_cluster, tmp_path, request):
    work = copy_of_prepared(request.getfixturevalue("prepared_demo"), tmp_path) if case.from_prepared_demo else (
        tmp_path / "work")
    case.setup(work)
    output = run_through_slurm(case, work)
    try:
        case.check(work, output)
    except AssertionError as error:
        raise AssertionError(f"{error}\n{output[-4000:]}\n{cluster_diagnostics(work)}") from error
