rule fetch_annotation:
    """Copy, link or download a DNA corpus's annotation (corpora.{corpus}.annotation) and
    record its provenance."""
    input:
        lambda wc: local_source_of(config["corpora"][wc.corpus]["annotation"]["source"]),
    output:
        source="resources/annotations/{corpus}/{filename}",
        record="resources/annotations/{corpus}/provenance/{filename}.json",
    log:
        log_path("fetch_annotation/{corpus}/{filename}.log"),
    localrule: True
    conda:
        "../../envs/data.yaml"
    params:
        what="corpus",
        source=lambda wc: config["corpora"][wc.corpus]["annotation"]["source"],
        lock_file="config/checksums.lock.yaml",
    script:
        "../scripts/fetch_source.py"


rule position_regions:
    """Where each evaluation position of a DNA condition lies in its genome and its region
    classes (seqens.regions): the table the per-region comparison joins by position."""
    input:
        positions=rules.eval_positions.output.positions,
        tokenizer=rules.train_tokenizer.output.tokenizer,
        eval=rules.prepare_corpus.output.eval,
        coordinates=rules.prepare_corpus.output.coordinates,
        sequences=fetched_sources,
        annotation=annotation_file,
    output:
        regions=results_path("extract/{corpus}/{tokenizer}/regions.csv"),
    log:
        log_path("position_regions/{corpus}/{tokenizer}.log"),
    conda:
        "../../envs/data.yaml"
    params:
        sampling=config["data"]["sampling"],
        repeats=lambda wc: config["corpora"][wc.corpus]["annotation"]["repeats"],
    script:
        "../scripts/position_regions.py"


rule compare_regions:
    """The output metrics of every annotated DNA ensemble per region class, its count
    baselines' and bits beyond them included, with intervals, and each class against the
    reference class of its axis (seqens.comparisons.regions)."""
    input:
        distributions=region_member_files(rules.extract_member.output.distributions),
        records=region_member_files(rules.extract_member.output.record),
        positions=region_condition_files(rules.eval_positions.output.positions),
        unigram=region_condition_files(rules.data_entropy.output.unigram),
        regions=region_condition_files(rules.position_regions.output.regions),
        counts=count_baseline_files(
            rules.count_baselines.output.log2_probs, REGION_ENSEMBLES
        ),
    output:
        summary=report(
            results_path("tables/outputs_regions.csv"),
            caption="../report/table.rst",
            category="Tables",
        ),
        contrasts=report(
            results_path("tables/outputs_regions_contrasts.csv"),
            caption="../report/table.rst",
            category="Tables",
        ),
    log:
        log_path("compare_regions.log"),
    conda:
        "../../envs/plot.yaml"
    params:
        ensembles=[ensemble.spec() for ensemble in REGION_ENSEMBLES],
        comparison=comparison("bootstrap_draws", "confidence_level"),
        seed=config["data_seed"],
    script:
        "../scripts/compare_regions.py"
