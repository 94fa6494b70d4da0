"""The workflow as a user drives it: dry runs of both configs, lint, formatting, config
errors before any job, targeted builds, and the preparation stage on the real corpora."""

import shutil
import subprocess
import sys

import pandas as pd
import pytest
import yaml

from conftest import REPO, snakemake_cmd

pytestmark = pytest.mark.workflow


def jobs_of(dry_run_output: str) -> dict[str, int]:
    """The job-count table of a dry run: rule -> count."""
    counts, in_table = {}, False
    for line in dry_run_output.splitlines():
        parts = line.split()
        if parts[:2] == ["job", "count"]:
            in_table = True
            continue
        if in_table and len(parts) == 2 and parts[1].isdigit():
            if parts[0] == "total":
                break
            counts[parts[0]] = int(parts[1])
    return counts


def test_dry_run_demo_schedules_every_stage():
    result = snakemake_cmd("-n", "--forceall", "--quiet=rules")
    jobs = jobs_of(result.stdout + result.stderr)
    assert jobs["train_member"] == 3 * 1 * 3  # conditions x objectives x seeds
    for rule in ("fetch_corpus", "prepare_corpus", "train_tokenizer", "pack_tokens", "corpus_table",
                 "extract_outputs", "extract_embeddings", "extract_fisher", "compare_fisher", "figure_fisher"):
        assert jobs.get(rule), rule


def test_dry_run_paper_config():
    result = snakemake_cmd("-n", "--forceall", "--quiet=rules", "--configfile", "config/paper.yaml")
    jobs = jobs_of(result.stdout + result.stderr)
    assert jobs["fetch_corpus"] == 6 and jobs["train_member"] == 3 * 5


def test_demo_with_all_four_objectives_dry_runs():
    objectives = '{"mlm": {}, "randommask": {}, "mae": {}, "clm": {}}'
    result = snakemake_cmd("-n", "--forceall", "--quiet=rules", "--config", f"objectives={objectives}")
    assert jobs_of(result.stdout + result.stderr)["train_member"] == 3 * 4 * 3


def test_fisher_figure_schedules_only_what_it_needs():
    result = snakemake_cmd("-n", "--forceall", "--quiet=rules", "results/figures/fisher.pdf")
    jobs = jobs_of(result.stdout + result.stderr)
    assert set(jobs) == {"fetch_corpus", "prepare_corpus", "train_tokenizer", "pack_tokens", "train_member",
                         "eval_positions", "extract_fisher", "compare_fisher", "figure_fisher"}


def test_bad_config_stops_before_any_job(tmp_path):
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    config["conditions"].append({"corpus": "rice", "tokenizer": "bpe"})
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(config))
    result = snakemake_cmd("-n", "--configfile", str(bad), check=False)
    assert result.returncode != 0
    assert "config: conditions[3].corpus: unknown corpus 'rice'" in result.stdout + result.stderr


def test_lint_is_clean():
    result = snakemake_cmd("--lint", check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_snakefiles_are_snakefmt_formatted():
    files = [REPO / "Snakefile", *sorted((REPO / "workflow" / "rules").glob("*.smk"))]
    result = subprocess.run([sys.executable, "-m", "snakefmt", "--check", *map(str, files)],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_rule_has_log_and_conda():
    import re

    for smk in (REPO / "workflow" / "rules").glob("*.smk"):
        text = smk.read_text()
        for rule_body in re.split(r"\nrule ", text)[1:]:
            name = rule_body.split(":")[0]
            assert "\n    log:" in rule_body, f"{smk.name}: rule {name} has no log:"
            assert "\n    conda:" in rule_body, f"{smk.name}: rule {name} has no conda:"


def test_preparation_stage_end_to_end_on_the_packaged_corpora(tmp_path):
    """The demo's corpus preparation, tokenizers and packing on the real packaged data."""
    work = tmp_path / "work"
    shutil.copytree(REPO, work, ignore=shutil.ignore_patterns(".venv", ".git", "results", "resources", "logs",
                                                                 ".snakemake", "__pycache__"))
    snakemake_cmd("--cores", "2", "results/tables/corpora.csv", cwd=work)
    table = pd.read_csv(work / "results" / "tables" / "corpora.csv")
    assert list(table["condition"]) == ["wiki-bpe", "athal-bpe", "athal-kmer6"]
    assert table["tokens"].nunique() == 1  # the same budget for every condition
    dna = table[table["kind"] == "dna"]
    assert (dna["softmask_fraction"] > 0.05).all() and (dna["n_fraction"] < 0.05).all()
    assert table.loc[table["condition"] == "athal-kmer6", "vocab_size"].item() == 4**6 + 5
    # text carries more information per character than DNA per base...
    text = table[table["kind"] == "text"].iloc[0]
    assert text["unigram_entropy_bits_per_token"] > 7
    # ...and every job wrote its log
    assert (work / "logs" / "prepare_corpus" / "athal.log").read_text().strip()
    # a second run has nothing to do
    rerun = snakemake_cmd("-n", "results/tables/corpora.csv", cwd=work)
    assert "Nothing to be done" in rerun.stdout + rerun.stderr
