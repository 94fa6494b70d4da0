rule compare_outputs:
    """Per-member output metrics, pairwise disagreement and text-vs-DNA contrasts, with intervals."""
    input:
        distributions=member_files(
            "results/extract/{corpus}/{tokenizer}/{architecture}/{objective}/seed{seed}/distributions.npy"
        ),
        records=member_files(
            "results/extract/{corpus}/{tokenizer}/{architecture}/{objective}/seed{seed}/distributions.json"
        ),
        positions=condition_files("results/extract/{corpus}/{tokenizer}/positions.npz"),
        targets=condition_files("results/extract/{corpus}/{tokenizer}/targets.json"),
        markov=condition_files("results/extract/{corpus}/{tokenizer}/markov.csv"),
        unigram=condition_files("results/extract/{corpus}/{tokenizer}/unigram.npy"),
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
        ensembles=ENSEMBLES,
        conditions=[c.name for c in CONDITIONS],
        extraction=extraction("bootstrap_draws", "confidence_level"),
        seed=config["data_seed"],
    script:
        "../scripts/compare_outputs.py"


rule compare_embeddings:
    """Pairwise static-embedding stability and text-vs-DNA contrasts, with intervals."""
    input:
        embeddings=member_files(
            "results/extract/{corpus}/{tokenizer}/{architecture}/{objective}/seed{seed}/embeddings.npy"
        ),
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
        ensembles=ENSEMBLES,
        extraction=extraction(
            "top_k", "spearman_k", "bootstrap_draws", "confidence_level"
        ),
        seed=config["data_seed"],
    script:
        "../scripts/compare_embeddings.py"


rule compare_fisher:
    """Fraction of Fisher information per layer group and text-vs-DNA contrasts, with intervals."""
    input:
        tables=member_files(
            "results/extract/{corpus}/{tokenizer}/{architecture}/{objective}/seed{seed}/fisher.csv"
        ),
        per_sequence=member_files(
            "results/extract/{corpus}/{tokenizer}/{architecture}/{objective}/seed{seed}/fisher_per_sequence.npy"
        ),
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
        ensembles=ENSEMBLES,
        extraction=extraction("bootstrap_draws", "confidence_level"),
        seed=config["data_seed"],
    script:
        "../scripts/compare_fisher.py"


rule training_curves:
    """Every member's training log in one table."""
    input:
        member_files(
            "results/models/{corpus}/{tokenizer}/{architecture}/{objective}/seed{seed}"
        ),
    output:
        "results/tables/training_log.csv",
    log:
        "logs/training_curves.log",
    conda:
        "../../envs/plot.yaml"
    params:
        ensembles=ENSEMBLES,
    script:
        "../scripts/training_curves.py"
