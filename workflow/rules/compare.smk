rule compare_outputs:
    """Per-member output metrics, pairwise disagreement, text-vs-DNA contrasts and trained-vs-
    published contrasts (reproductions), with intervals."""
    input:
        distributions=member_files(rules.extract_member.output.distributions),
        records=member_files(rules.extract_member.output.record),
        positions=condition_files(rules.eval_positions.output.positions),
        targets=condition_files(rules.data_entropy.output.targets),
        data_entropy=condition_files(rules.data_entropy.output.data_entropy),
        unigram=condition_files(rules.data_entropy.output.unigram),
        counts=count_baseline_files(rules.count_baselines.output.log2_probs),
        paper_distributions=paper_member_files(
            rules.extract_member.output.paper_distributions
        ),
        paper_records=paper_member_files(rules.extract_member.output.paper_record),
        paper_positions=paper_condition_files(rules.paper_positions.output.outputs),
    output:
        members=results_path("tables/outputs_members.csv"),
        summary=report(
            results_path("tables/outputs_summary.csv"),
            caption="../report/table.rst",
            category="Tables",
        ),
        js_distance=results_path("tables/js_distance.csv"),
        rank_curve=results_path("tables/rank_curve.csv"),
        contrasts=report(
            results_path("tables/outputs_contrasts.csv"),
            caption="../report/table.rst",
            category="Tables",
        ),
        latex=results_path("tables/outputs_summary.tex"),
        reproduction=report(
            results_path("tables/outputs_reproduction.csv"),
            caption="../report/table.rst",
            category="Tables",
        ),
        data_entropy=report(
            results_path("tables/data_entropy.csv"),
            caption="../report/table.rst",
            category="Tables",
        ),
    log:
        log_path("compare_outputs.log"),
    # The two longest comparisons (with count_baselines) before the figures: short jobs fill
    # the cores at the end instead of waiting on a long one.
    priority: 1
    conda:
        "../../envs/plot.yaml"
    params:
        ensembles=ensemble_specs(),
        comparison=comparison("bootstrap_draws", "confidence_level"),
        definitions=DEFINITIONS,
        seed=config["data_seed"],
    script:
        "../scripts/compare_outputs.py"


rule compare_embeddings:
    """Pairwise static-embedding stability, text-vs-DNA contrasts and trained-vs-published
    contrasts (reproductions), with intervals."""
    input:
        embeddings=member_files(rules.extract_member.output.embeddings),
    output:
        pairs=results_path("tables/embeddings_pairs.csv"),
        summary=report(
            results_path("tables/embeddings_summary.csv"),
            caption="../report/table.rst",
            category="Tables",
        ),
        contrasts=report(
            results_path("tables/embeddings_contrasts.csv"),
            caption="../report/table.rst",
            category="Tables",
        ),
        reproduction=report(
            results_path("tables/embeddings_reproduction.csv"),
            caption="../report/table.rst",
            category="Tables",
        ),
        latex=results_path("tables/embeddings_summary.tex"),
    log:
        log_path("compare_embeddings.log"),
    conda:
        "../../envs/plot.yaml"
    params:
        ensembles=ensemble_specs(),
        comparison=comparison(
            "top_k", "spearman_k", "bootstrap_draws", "confidence_level"
        ),
        definitions=DEFINITIONS,
        seed=config["data_seed"],
    script:
        "../scripts/compare_embeddings.py"


rule compare_contextual:
    """Contextual-embedding geometry per member, agreement between members, text-vs-DNA
    contrasts and reproductions, with intervals, under each metric definition."""
    input:
        states=member_files(CONTEXTUAL_STATES),
        positions=condition_files(rules.eval_positions.output.positions),
        paper_positions=paper_condition_files(rules.paper_positions.output.masked),
    output:
        members=results_path("tables/contextual_members.csv"),
        pairs=results_path("tables/contextual_pairs.csv"),
        summary=report(
            results_path("tables/contextual_summary.csv"),
            caption="../report/table.rst",
            category="Tables",
        ),
        contrasts=report(
            results_path("tables/contextual_contrasts.csv"),
            caption="../report/table.rst",
            category="Tables",
        ),
        reproduction=report(
            results_path("tables/contextual_reproduction.csv"),
            caption="../report/table.rst",
            category="Tables",
        ),
        latex=results_path("tables/contextual_summary.tex"),
    log:
        log_path("compare_contextual.log"),
    priority: 1  # see compare_outputs
    conda:
        "../../envs/plot.yaml"
    params:
        ensembles=ensemble_specs(),
        comparison=comparison("bootstrap_draws", "confidence_level"),
        definitions=DEFINITIONS,
        seed=config["data_seed"],
    script:
        "../scripts/compare_contextual.py"


rule compare_fisher:
    """Fraction of Fisher information per layer group, text-vs-DNA contrasts and reproductions,
    with intervals."""
    input:
        tables=member_files(rules.extract_member.output.fisher),
        per_sequence=member_files(rules.extract_member.output.fisher_per_sequence),
        paper_tables=paper_member_files(rules.extract_member.output.paper_fisher),
        paper_per_batch=paper_member_files(
            rules.extract_member.output.paper_fisher_per_batch
        ),
    output:
        members=results_path("tables/fisher_members.csv"),
        summary=report(
            results_path("tables/fisher_summary.csv"),
            caption="../report/table.rst",
            category="Tables",
        ),
        contrasts=report(
            results_path("tables/fisher_contrasts.csv"),
            caption="../report/table.rst",
            category="Tables",
        ),
        reproduction=report(
            results_path("tables/fisher_reproduction.csv"),
            caption="../report/table.rst",
            category="Tables",
        ),
        latex=results_path("tables/fisher_summary.tex"),
    log:
        log_path("compare_fisher.log"),
    conda:
        "../../envs/plot.yaml"
    params:
        ensembles=ensemble_specs(),
        comparison=comparison("bootstrap_draws", "confidence_level"),
        definitions=DEFINITIONS,
        seed=config["data_seed"],
    script:
        "../scripts/compare_fisher.py"


rule training_curves:
    """Every member's training log in one table."""
    input:
        manifests=member_files(rules.train_member.output.manifest, TRAINED_ENSEMBLES),
    output:
        table=results_path("tables/training_log.csv"),
    log:
        log_path("training_curves.log"),
    localrule: True
    conda:
        "../../envs/plot.yaml"
    params:
        ensembles=ensemble_specs(TRAINED_ENSEMBLES),
    script:
        "../scripts/training_curves.py"


if config["training"]["fisher_log"]:

    rule fisher_training:
        """Every member's layer-wise Fisher during training (training.fisher_log) in one
        table, under each metric definition."""
        input:
            manifests=member_files(
                rules.train_member.output.manifest, TRAINED_ENSEMBLES
            ),
        output:
            table=results_path("tables/fisher_training.csv"),
        log:
            log_path("fisher_training.log"),
        localrule: True
        conda:
            "../../envs/plot.yaml"
        params:
            ensembles=ensemble_specs(TRAINED_ENSEMBLES),
            definitions=DEFINITIONS,
        script:
            "../scripts/fisher_training.py"
