rule figure_entropy:
    input:
        summary="results/tables/outputs_summary.csv",
        rank_curve="results/tables/rank_curve.csv",
        data_entropy="results/tables/data_entropy.csv",
    output:
        pdf="results/figures/entropy.pdf",
        png=report(
            "results/figures/entropy.png",
            caption="../report/entropy.rst",
            category="Model outputs",
        ),
    log:
        "logs/figures/entropy.log",
    conda:
        "../../envs/plot.yaml"
    script:
        "../scripts/figure.py"


rule figure_js_distance:
    input:
        js_distance="results/tables/js_distance.csv",
    output:
        pdf="results/figures/js_distance.pdf",
        png=report(
            "results/figures/js_distance.png",
            caption="../report/js_distance.rst",
            category="Model outputs",
        ),
    log:
        "logs/figures/js_distance.log",
    conda:
        "../../envs/plot.yaml"
    script:
        "../scripts/figure.py"


rule figure_embeddings:
    input:
        summary="results/tables/embeddings_summary.csv",
    output:
        pdf="results/figures/embeddings.pdf",
        png=report(
            "results/figures/embeddings.png",
            caption="../report/embeddings.rst",
            category="Static embeddings",
        ),
    log:
        "logs/figures/embeddings.log",
    conda:
        "../../envs/plot.yaml"
    script:
        "../scripts/figure.py"


rule figure_fisher:
    input:
        summary="results/tables/fisher_summary.csv",
    output:
        pdf="results/figures/fisher.pdf",
        png=report(
            "results/figures/fisher.png",
            caption="../report/fisher.rst",
            category="Fisher information",
        ),
    log:
        "logs/figures/fisher.log",
    conda:
        "../../envs/plot.yaml"
    script:
        "../scripts/figure.py"


rule figure_loss_curves:
    input:
        training_log="results/tables/training_log.csv",
    output:
        pdf="results/figures/loss_curves.pdf",
        png=report(
            "results/figures/loss_curves.png",
            caption="../report/loss_curves.rst",
            category="Training",
        ),
    log:
        "logs/figures/loss_curves.log",
    conda:
        "../../envs/plot.yaml"
    script:
        "../scripts/figure.py"
