rule compare_outputs:
    """Per-member output metrics, pairwise disagreement and text-vs-DNA contrasts, with intervals."""
    input:
        distributions=member_files(rules.extract_outputs.output.distributions),
        records=member_files(rules.extract_outputs.output.record),
        positions=condition_files(rules.eval_positions.output.positions),
        targets=condition_files(rules.data_entropy.output.targets),
        markov=condition_files(rules.data_entropy.output.markov),
        unigram=condition_files(rules.data_entropy.output.unigram),
    output:
        members="results/tables/outputs_members.csv",
        summary="results/tables/outputs_summary.csv",
        js_distance="results/tables/js_distance.csv",
        rank_curve="results/tables/rank_curve.csv",
        contrasts="results/tables/outputs_contrasts.csv",
        latex="results/tables/outputs_summary.tex",
        data_entropy="results/tables/data_entropy.csv",
    log:
        "logs/compare_outputs.log",
    conda:
        "../../envs/plot.yaml"
    params:
        ensembles=ensemble_specs(),
        extraction=extraction("bootstrap_draws", "confidence_level"),
        seed=config["data_seed"],
    script:
        "../scripts/compare_outputs.py"


rule compare_embeddings:
    """Pairwise static-embedding stability and text-vs-DNA contrasts, with intervals."""
    input:
        embeddings=member_files(rules.extract_embeddings.output.embeddings),
    output:
        pairs="results/tables/embeddings_pairs.csv",
        summary="results/tables/embeddings_summary.csv",
        contrasts="results/tables/embeddings_contrasts.csv",
        latex="results/tables/embeddings_summary.tex",
    log:
        "logs/compare_embeddings.log",
    conda:
        "../../envs/plot.yaml"
    params:
        ensembles=ensemble_specs(),
        extraction=extraction(
            "top_k", "spearman_k", "bootstrap_draws", "confidence_level"
        ),
        seed=config["data_seed"],
    script:
        "../scripts/compare_embeddings.py"


rule compare_fisher:
    """Fraction of Fisher information per layer group and text-vs-DNA contrasts, with intervals."""
    input:
        tables=member_files(rules.extract_fisher.output.table),
        per_sequence=member_files(rules.extract_fisher.output.per_sequence),
    output:
        members="results/tables/fisher_members.csv",
        summary="results/tables/fisher_summary.csv",
        contrasts="results/tables/fisher_contrasts.csv",
        latex="results/tables/fisher_summary.tex",
    log:
        "logs/compare_fisher.log",
    conda:
        "../../envs/plot.yaml"
    params:
        ensembles=ensemble_specs(),
        extraction=extraction("bootstrap_draws", "confidence_level"),
        seed=config["data_seed"],
    script:
        "../scripts/compare_fisher.py"


rule training_curves:
    """Every member's training log in one table."""
    input:
        members=member_files(rules.train_member.output.member),
    output:
        table="results/tables/training_log.csv",
    log:
        "logs/training_curves.log",
    localrule: True
    conda:
        "../../envs/plot.yaml"
    params:
        ensembles=ensemble_specs(),
    script:
        "../scripts/training_curves.py"
