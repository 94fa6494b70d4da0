"""Ensemble studies of self-supervised sequence models (text vs DNA).

snakemake                    # the demo study (config/config.yaml), local profile
snakemake --profile slurm    # the same DAG on a SLURM cluster
snakemake --configfile config/paper.yaml --profile slurm   # the paper's study
"""

from snakemake.utils import min_version

min_version("9.0")


configfile: "config/config.yaml"


include: "workflow/rules/common.smk"
include: "workflow/rules/corpora.smk"
include: "workflow/rules/tokenizers.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/extract.smk"
include: "workflow/rules/compare.smk"
include: "workflow/rules/probes.smk"
include: "workflow/rules/regions.smk"
include: "workflow/rules/figures.smk"
include: "workflow/rules/report.smk"


report: report_landing_page()


rule all:
    default_target: True
    input:
        results_path("tables/corpora.csv"),
        expand(results_path("figures/{figure}.pdf"), figure=STUDY_FIGURES),
        expand(
            results_path("tables/{table}_summary.tex"),
            table=["outputs", "embeddings", "contextual", "fisher"]
            + (["probes"] if PROBED_ENSEMBLES else []),
        ),
        OVERVIEW_PAGE,
        # Every member's files: Snakemake reruns a job for a missing file only when a
        # target asks for it, so a deleted file of a member retrains the member.
        member_files(rules.train_member.output, TRAINED_ENSEMBLES),
        member_files(rules.fetch_member.output, PUBLISHED_ENSEMBLES),
    localrule: True
