rule study_overview:
    """The report's landing page: the study's design, what each ensemble learned beyond the
    unigram, the paper's findings as DNA-minus-text contrasts, whether each reproduction
    (trained minus published) is distinguishable, and the probes against their baselines.
    """
    input:
        **({"probes": rules.compare_probes.output.summary} if PROBED_ENSEMBLES else {}),
        summary=rules.compare_outputs.output.summary,
        outputs=rules.compare_outputs.output.contrasts,
        embeddings=rules.compare_embeddings.output.contrasts,
        fisher=rules.compare_fisher.output.contrasts,
        reproductions=[
            rules.compare_outputs.output.reproduction,
            rules.compare_embeddings.output.reproduction,
            rules.compare_contextual.output.reproduction,
            rules.compare_fisher.output.reproduction,
        ],
    output:
        page=OVERVIEW_PAGE,
    log:
        log_path("study_overview.log"),
    localrule: True
    conda:
        "../../envs/plot.yaml"
    params:
        study=STUDY.description(),
    script:
        "../scripts/study_overview.py"
