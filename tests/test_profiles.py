"""The Snakemake profiles: profiles/default (the workflow profile Snakemake 9 adds by itself),
profiles/slurm (`snakemake --profile slurm`, found through the ./slurm link) and the CI overlay
.ci/slurm/profile. No cluster needed: option names, resolution, and dry runs."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys

import pytest
import yaml
from snakemake.utils import available_cpu_count

from conftest import REPO, rule_definitions, snakemake_cmd

PROFILES = {
    "default": REPO / "profiles" / "default" / "config.yaml",
    "slurm": REPO / "profiles" / "slurm" / "config.yaml",
    "ci-slurm": REPO / ".ci" / "slurm" / "profile" / "config.yaml",
}
GPU_RULES = {"train_member", "extract_member", "extract_member_corrected"}
PLACEHOLDERS = {"<ACCOUNT>", "<PARTITION>", "<GPU_PARTITION>"}


def load(name: str) -> dict:
    return yaml.safe_load(PROFILES[name].read_text())


@pytest.fixture(scope="module")
def cli_options() -> set[str]:
    """Every long option `snakemake --help` knows, the installed executor plugins' included."""
    result = subprocess.run([sys.executable, "-m", "snakemake", "--help"], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr
    return set(re.findall(r"(?<![\w-])--([a-z][a-z0-9-]*)", result.stdout))


@pytest.mark.parametrize("name", PROFILES)
def test_profile_is_a_yaml_mapping_of_known_options(name, cli_options):
    profile = load(name)
    assert isinstance(profile, dict) and profile
    assert not set(profile) - cli_options, f"{PROFILES[name]}: not snakemake options: {set(profile) - cli_options}"


def test_slurm_resolves_to_profiles_slurm_from_the_repository_root(monkeypatch):
    """Snakemake's own lookup: a profile name is tried in the working directory first."""
    from snakemake.cli import get_profile_dir

    assert os.readlink(REPO / "slurm") == "profiles/slurm"  # relative: works in every clone
    monkeypatch.chdir(REPO)
    directory, config = get_profile_dir("slurm")
    assert config.resolve() == PROFILES["slurm"].resolve()


def test_workflow_profile_leaves_the_cluster_settings_to_profiles_slurm():
    """profiles/default is read on every run, with --profile slurm too, and each key there
    replaces the same key of profiles/slurm; so it must not carry resources or executor settings
    (a `default-resources:` there would drop the account and partition), and a key in both
    must agree."""
    default, slurm = load("default"), load("slurm")
    for key in ("default-resources", "set-resources", "set-threads", "executor", "jobs", "retries",
                "software-deployment-method", "sdm", "use-conda"):
        assert key not in default, key
    assert {key: default[key] for key in default.keys() & slurm.keys()} == \
           {key: slurm[key] for key in default.keys() & slurm.keys()}


def rule_asks_for_gpus(rule: str) -> bool:
    """The rule itself declares a gpu resource (train_member: training.devices)."""
    (body,) = [body for _, name, body in rule_definitions() if name == rule]
    return bool(re.search(r"\n\s+resources:\n(\s+#.*\n)*(\s+\w+=.*\n)*\s+gpu=", body))


def test_slurm_profile_resources():
    """Every job gets an account, partition, runtime, memory and CPUs; the GPU rules, and only
    they, go to the GPU partition with a GPU, set once (by the profile or by the rule), and as
    many CPUs as the threads they are given, and no less of anything than a CPU job."""
    slurm = load("slurm")
    assert slurm["executor"] == "slurm" and slurm["retries"] >= 1
    cpu = slurm["default-resources"]
    assert {"slurm_account", "slurm_partition", "runtime", "mem_mb", "cpus_per_task"} <= set(cpu)
    assert {cpu["slurm_account"], cpu["slurm_partition"]} <= PLACEHOLDERS  # the header says: replace them
    assert set(slurm["set-resources"]) == GPU_RULES == set(slurm["set-threads"])
    gpu_partitions = {resources["slurm_partition"] for resources in slurm["set-resources"].values()}
    assert len(gpu_partitions) == 1 and gpu_partitions <= PLACEHOLDERS - {cpu["slurm_partition"]}
    for rule, resources in slurm["set-resources"].items():
        assert ("gpu" in resources) != rule_asks_for_gpus(rule), rule  # one of them, not both
        assert resources.get("gpu", 1) >= 1, rule
        assert resources["cpus_per_task"] == slurm["set-threads"][rule], rule
        assert all(resources.get(key, cpu[key]) >= cpu[key] for key in ("runtime", "mem_mb", "cpus_per_task")), rule


def test_profile_rules_exist_in_the_workflow():
    result = snakemake_cmd("--list-rules", "--workflow-profile", "none")
    rules = set(result.stdout.split())
    for name in ("slurm", "ci-slurm"):
        for key in ("set-resources", "set-threads"):
            assert set(load(name)[key]) <= rules, (name, key, set(load(name)[key]) - rules)


def test_ci_overlay_matches_profiles_slurm_and_the_ci_cluster():
    """The overlay replaces whole keys, so it covers every rule of profiles/slurm; it drops the
    account, asks for no GPU and submits to the partition .ci/slurm/start.sh creates."""
    slurm, ci = load("slurm"), load("ci-slurm")
    partition = re.search(r"^PARTITION=(\S+)$", (REPO / ".ci" / "slurm" / "start.sh").read_text(), re.M).group(1)
    assert set(ci["set-resources"]) == set(slurm["set-resources"])
    assert set(ci["set-threads"]) == set(slurm["set-threads"])
    assert ci["slurm-status-command"] == "squeue"
    for resources in (ci["default-resources"], *ci["set-resources"].values()):
        assert "slurm_account" not in resources and resources.get("gpu", 0) == 0
        assert set(resources.values()).isdisjoint(PLACEHOLDERS)
        assert resources["slurm_partition"] == partition and resources["cpus_per_task"] <= 2
    for rule, resources in ci["set-resources"].items():
        assert set(resources) == set(slurm["set-resources"][rule]) | {"gpu"}, rule
        assert resources["cpus_per_task"] == ci["set-threads"][rule], rule


# --- dry runs: the settings Snakemake really ends up with ---------------------------------------

TINY_SNAKEFILE = """
rule all:
    input:
        "extract/seed1.txt",
        "table.csv",


rule train_member:
    output:
        "models/seed{seed}.txt",
    threads: workflow.cores
    resources:
        gpu=2,  # as the real rule's training.devices
    shell:
        "touch {output}"


rule extract_member:
    input:
        "models/seed{seed}.txt",
    output:
        "extract/seed{seed}.txt",
    threads: workflow.cores
    shell:
        "touch {output}"


rule corpus_table:
    output:
        "table.csv",
    shell:
        "touch {output}"
"""


def dry_run_jobs(output: str) -> dict[str, dict]:
    """rule -> {"threads": int, "resources": {name: value}} from a dry run's job listing."""
    jobs, rule = {}, None
    for line in output.splitlines():
        if match := re.match(r"(?:local)?rule (\w+):$", line):
            rule = match.group(1)
            jobs[rule] = {"resources": {}}
        elif rule and (match := re.match(r"\s+threads: (\d+)$", line)):
            jobs[rule]["threads"] = int(match.group(1))
        elif rule and (match := re.match(r"\s+resources: (.*)$", line)):
            jobs[rule]["resources"] = dict(item.split("=", 1) for item in match.group(1).split(", "))
    return jobs


@pytest.fixture
def tiny_checkout(tmp_path):
    """A tiny workflow laid out like the repository: Snakefile, profiles/ and the ./slurm link."""
    work = tmp_path / "work"
    work.mkdir()
    (work / "Snakefile").write_text(TINY_SNAKEFILE)
    shutil.copytree(REPO / "profiles", work / "profiles")
    os.symlink(os.readlink(REPO / "slurm"), work / "slurm")
    return work


def assert_resources(job: dict, profile: dict) -> None:
    """A job of a dry run got every resource the profile sets for it, as the profile sets it."""
    assert {key: job["resources"].get(key) for key in profile} == {key: str(value) for key, value in profile.items()}


def test_profile_slurm_as_typed(tiny_checkout):
    """`snakemake --profile slurm` from the checkout's root: the slurm profile and the workflow
    profile together, the cluster's resources intact."""
    result = snakemake_cmd("--profile", "slurm", "--dry-run", cwd=tiny_checkout)
    output = result.stdout + result.stderr
    assert "Using profiles slurm and workflow specific profile profiles/default" in output
    jobs, slurm = dry_run_jobs(output), load("slurm")
    assert_resources(jobs["corpus_table"], slurm["default-resources"])
    for rule in ("train_member", "extract_member"):
        assert_resources(jobs[rule], {**slurm["default-resources"], **slurm["set-resources"][rule]})
    assert jobs["train_member"]["resources"]["gpu"] == "2"  # the rule's own (TINY_SNAKEFILE), not replaced
    # threads: the profile's 8, but never more than --cores (here `all` from profiles/default)
    assert jobs["train_member"]["threads"] == min(8, available_cpu_count())
    wide = dry_run_jobs(snakemake_cmd("--profile", "slurm", "--dry-run", "--cores", "64", cwd=tiny_checkout).stdout)
    assert wide["train_member"]["threads"] == wide["extract_member"]["threads"] == 8


def test_a_member_asks_for_training_devices_gpus():
    """The real rule's gpu resource, which profiles/slurm leaves to it (test_profile_slurm_as_typed:
    sbatch --gpus gets the rule's count). Read from the rule: its `message:` hides resources in
    dry runs."""
    (body,) = [body for _, name, body in rule_definitions() if name == "train_member"]
    assert re.search(r'\n\s+resources:\n(\s+#.*\n)*\s+gpu=config\["training"\]\["devices"\],\n', body)


def test_ci_overlay_on_top_of_profile_slurm(tiny_checkout):
    result = snakemake_cmd("--profile", "slurm", "--profile", str(PROFILES["ci-slurm"].parent), "--dry-run",
                           cwd=tiny_checkout)
    jobs, ci = dry_run_jobs(result.stdout + result.stderr), load("ci-slurm")
    assert_resources(jobs["corpus_table"], ci["default-resources"])
    for rule in ("train_member", "extract_member"):
        assert_resources(jobs[rule], {**ci["default-resources"], **ci["set-resources"][rule]})
    for rule in ("corpus_table", "train_member", "extract_member"):
        assert "slurm_account" not in jobs[rule]["resources"], rule


def test_local_run_uses_the_workflow_profile_alone(tiny_checkout):
    result = snakemake_cmd("--dry-run", cwd=tiny_checkout)
    output = result.stdout + result.stderr
    assert "Using workflow specific profile profiles/default" in output
    assert "slurm_account" not in output
    assert dry_run_jobs(output)["train_member"]["threads"] == available_cpu_count()  # cores: all


def test_downloads_small_tables_and_figures_run_on_the_submitting_machine():
    """Compute nodes are often offline, and a figure is not worth a queued sbatch job."""
    local = {name for _, name, body in rule_definitions() if re.search(r"\n\s+localrule:\s*True", body)}
    assert local == {"fetch_corpus", "fetch_probe_source", "fetch_annotation", "corpus_table", "training_curves", "fisher_training",
                     "figure_{figure.name}", "study_overview"}
    assert re.search(r"rule all:\n(\s+\S.*\n)*?\s+localrule: True", (REPO / "Snakefile").read_text())
