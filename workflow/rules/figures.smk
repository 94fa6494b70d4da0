# One rule per figure of the registry (seqens.figures): figure_entropy, figure_fisher, ...
for figure in FIGURES.values():

    rule:
        name:
            f"figure_{figure.name}"
        input:
            **figure_tables(figure),
        output:
            pdf=results_path(f"figures/{figure.name}.pdf"),
            png=report(
                results_path(f"figures/{figure.name}.png"),
                caption=f"../report/{figure.name}.rst",
                category=figure.category,
            ),
        log:
            log_path(f"figures/{figure.name}.log"),
        localrule: True
        conda:
            "../../envs/plot.yaml"
        params:
            figure=figure.name,
            conditions=[condition.name for condition in STUDY.conditions],
        script:
            "../scripts/figure.py"
