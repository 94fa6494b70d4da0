import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(workflow.basedir) / "workflow" / "scripts"))

from snakemake.common.configfile import load_configfile  # noqa: E402

from seqens.config import (  # noqa: E402
    SINGLE_MODEL_SEED,
    ConfigError,
    Member,
    Study,
    check_source_merges,
    corpus_sources,
)
from seqens.counts import prediction_context  # noqa: E402
from seqens.errors import InputError  # noqa: E402
from seqens.figures import study_figures  # noqa: E402
from seqens import paper_definitions  # noqa: E402
from seqens.sources import check_local_sources  # noqa: E402

try:
    if workflow.overwrite_configfiles:
        # What Snakemake merged into `config`, in its order: the Snakefile's configfile
        # (the last file it read), then the --configfile files.
        check_source_merges(
            [
                (str(path), load_configfile(path))
                for path in [workflow.configfiles[-1], *workflow.overwrite_configfiles]
            ]
        )
    STUDY = Study(config)
except ConfigError as error:
    raise WorkflowError(str(error)) from None

CONDITIONS = STUDY.conditions

# A local source that is missing or not in its corpus's format stops the run here, before
# any job, naming its key (seqens.sources).
try:
    for _corpus in dict.fromkeys(c.corpus for c in CONDITIONS):
        check_local_sources(_corpus, config["corpora"][_corpus])
except InputError as error:
    raise WorkflowError(str(error)) from None
FIGURES = study_figures(config)


def results_path(path):
    """A path in the study's results folder (`results:` in the config; default results/):
    studies with their own folders never overwrite each other."""
    return f"{config['results']}/{path}"


# The report opens on this page once the study has run (before, on the static description).
OVERVIEW_PAGE = results_path("report/overview.rst")


def report_landing_page():
    return (
        OVERVIEW_PAGE
        if Path(OVERVIEW_PAGE).exists()
        else "workflow/report/workflow.rst"
    )


def member_file(name):
    """A file of a trained member's folder (seqens.member.write_member writes them all)."""
    return results_path(
        f"models/{{corpus}}/{{tokenizer}}/{{architecture}}/{{objective}}/seed{{seed}}/{name}"
    )


def log_path(path):
    """A path in the study's log folder (`logs:` in the config; default logs/)."""
    return f"{config['logs']}/{path}"


wildcard_constraints:
    corpus="[A-Za-z0-9_]+",
    tokenizer="[A-Za-z0-9_]+",
    architecture="[a-z0-9]+",
    seed="[0-9]+",
    split="train|eval",
    context="two_sided|one_sided",
    filename="[^/]+",


def source_filename(source, index):
    """A stable local name for a source: its index plus its original file name."""
    name = source.get("url") or source["path"]
    return f"{index}-{Path(name.split('?')[0]).name}"


def corpus_files(corpus):
    """The corpus's fetched sources (fetch_corpus's outputs)."""
    return [
        f"resources/corpora/{corpus}/{source_filename(source, i)}"
        for i, source in enumerate(corpus_sources(config["corpora"][corpus]))
    ]


def fetched_sources(wildcards):
    return corpus_files(wildcards.corpus)


def source_of(wildcards):
    """The config entry behind resources/corpora/{corpus}/{filename}."""
    for i, source in enumerate(corpus_sources(config["corpora"][wildcards.corpus])):
        if source_filename(source, i) == wildcards.filename:
            return source
    raise WorkflowError(
        f"no source of corpus '{wildcards.corpus}' is stored as '{wildcards.filename}'"
    )


def extraction(*keys):
    """The extraction settings a job uses, and only those: editing another reruns nothing
    of it (config/README.md, "What an edit reruns")."""
    return {key: config["extraction"][key] for key in keys}


def comparison(*keys):
    """The comparison settings a job uses, and only those (as extraction)."""
    return {key: config["comparison"][key] for key in keys}


DEFINITIONS = config["extraction"]["definitions"]


def leakage_filter(extraction):
    """What drawing evaluation positions needs of the leakage audit: nothing without a
    threshold (every sequence is evaluated, and editing the audit's k reruns no extraction);
    else the threshold and how many sequences must remain."""
    threshold = extraction["leakage"]["max_shared_fraction"]
    if threshold is None:
        return {}
    needed = max(extraction["sequences"] or 1, extraction["fisher_sequences"])
    return {"max_shared_fraction": threshold, "needed": needed}


LEAKAGE_FILTER = leakage_filter(config["extraction"])


def paper_member_files(pattern):
    """member_files for the members measured under the paper's definitions (none unless
    extraction.definitions lists paper; seqens.paper_definitions.applies_to)."""
    if "paper" not in DEFINITIONS:
        return []
    return [
        expand(pattern, **member.wildcards)[0]
        for ensemble in ENSEMBLES
        if paper_definitions.applies_to(ensemble.objective)
        for member in ensemble.members
    ]


# Objectives whose members are measured under the paper's definitions too (extract_member)
# and those measured under the corrected ones only (extract_member_corrected).
PAPER_OBJECTIVES = [
    objective
    for objective in STUDY.objectives
    if "paper" in DEFINITIONS and paper_definitions.applies_to(objective)
]
CORRECTED_ONLY_OBJECTIVES = [o for o in STUDY.objectives if o not in PAPER_OBJECTIVES]


def alternatives(names):
    """A wildcard constraint matching exactly these names (none: a pattern nothing matches)."""
    return "|".join(re.escape(name) for name in names) or "(?!)"


def paper_condition_files(pattern):
    """condition_files for the paper's definitions (none unless they are reported)."""
    return condition_files(pattern) if "paper" in DEFINITIONS else []


def local_source_of(source):
    """A local `path:` source is an input of its fetch job: an edited one reruns what
    depends on it (a missing one stopped the workflow when it was read)."""
    return [source["path"]] if "path" in source and "package" not in source else []


def local_source(wildcards):
    return local_source_of(source_of(wildcards))


def condition_files(pattern):
    """A per-condition path pattern (a rule's output) for each condition of the study."""
    return [
        expand(pattern, corpus=c.corpus, tokenizer=c.tokenizer)[0] for c in CONDITIONS
    ]


# Ensembles in a fixed order (condition, architecture, objective; the trained ones, then the
# published ones); members in seed order.
ENSEMBLES = STUDY.ensembles
TRAINED_ENSEMBLES = STUDY.trained_ensembles
PUBLISHED_ENSEMBLES = STUDY.published_ensembles


def count_baseline_files(pattern, ensembles=None):
    """A count-baseline path pattern for each condition and each context its members'
    predictions see (two_sided, or one_sided for a causal objective; seqens.counts), for the
    ``ensembles`` (default: all of the study)."""
    return list(
        dict.fromkeys(
            expand(
                pattern,
                corpus=e.condition.corpus,
                tokenizer=e.condition.tokenizer,
                context=prediction_context(e.objective),
            )[0]
            for e in (ENSEMBLES if ensembles is None else ensembles)
        )
    )


def member_files(patterns, ensembles=None):
    """Per-member path patterns (a rule's outputs) for every member of every ensemble (of
    ``ensembles``, if given)."""
    return [
        path
        for ensemble in (ENSEMBLES if ensembles is None else ensembles)
        for member in ensemble.members
        for path in expand(patterns, **member.wildcards)
    ]


def ensemble_specs(ensembles=None):
    """The study's ensembles (or ``ensembles``) as plain values, for the params of the jobs
    that compare them."""
    return [
        ensemble.spec() for ensemble in (ENSEMBLES if ensembles is None else ensembles)
    ]


def figure_tables(figure):
    """A figure's input tables by argument name, each the output of the rule that writes it;
    an optional one (seqens.figures.Figure.optional) whose rule the study does not run
    (UNMADE_COMPARISONS) is left out, and the figure is drawn without it."""
    return {
        argument: getattr(getattr(rules, rule).output, output)
        for argument, (rule, output) in figure.tables.items()
        if argument not in figure.optional or rule not in UNMADE_COMPARISONS
    }


# --- probes ---------------------------------------------------------------------------------

from seqens.sources import local_file  # noqa: E402

# A probe's local source that is missing stops the study here, before any job; whether the
# data support the probe is the probe_examples job's to say (rule probe_examples).
try:
    for _probe in STUDY.active_probes:
        local_file(_probe, config["probes"][_probe]["source"], "probe")
except InputError as error:
    raise WorkflowError(str(error)) from None


def probes_of_corpus(corpus):
    return [
        name for name, probe in config["probes"].items() if probe["corpus"] == corpus
    ]


# Trained ensembles whose corpus has probes, in the study's order (the probes compare each
# member with itself untrained, which a published member has no recipe for).
PROBED_ENSEMBLES = [
    e for e in TRAINED_ENSEMBLES if probes_of_corpus(e.condition.corpus)
]


def probe_corpus_inputs(wildcards):
    """What a probe reads of its prepared corpus: for DNA the sequences and the coordinates
    table (which windows are training data), for text the two splits."""
    corpus = config["probes"][wildcards.probe]["corpus"]
    prepared = results_path(f"corpora/{corpus}")
    if config["corpora"][corpus]["kind"] == "dna":
        return {
            "sequences": corpus_files(corpus),
            "coordinates": f"{prepared}/coordinates.tsv.gz",
        }
    return {"train": f"{prepared}/train.txt", "eval": f"{prepared}/eval.txt"}


def probe_source_file(wildcards):
    return f"resources/probes/{wildcards.probe}/{source_filename(config['probes'][wildcards.probe]['source'], 0)}"


# --- regions --------------------------------------------------------------------------------

# A local annotation that is missing stops the study here, before any job.
try:
    for _corpus in dict.fromkeys(c.corpus for c in CONDITIONS):
        if "annotation" in config["corpora"][_corpus]:
            local_file(
                _corpus,
                config["corpora"][_corpus]["annotation"]["source"],
                "annotation of corpus",
            )
except InputError as error:
    raise WorkflowError(str(error)) from None

# Ensembles of a DNA corpus with an annotation (corpora.{corpus}.annotation), in the study's order.
REGION_ENSEMBLES = [
    e for e in ENSEMBLES if "annotation" in config["corpora"][e.condition.corpus]
]
REGION_CONDITIONS = list(dict.fromkeys(e.condition for e in REGION_ENSEMBLES))


def annotation_file(wildcards):
    """The corpus's fetched annotation (fetch_annotation's output)."""
    source = config["corpora"][wildcards.corpus]["annotation"]["source"]
    return f"resources/annotations/{wildcards.corpus}/{source_filename(source, 0)}"


def region_member_files(pattern):
    """member_files for the members of REGION_ENSEMBLES."""
    return [
        expand(pattern, **member.wildcards)[0]
        for ensemble in REGION_ENSEMBLES
        for member in ensemble.members
    ]


def region_condition_files(pattern):
    """condition_files for the conditions of REGION_ENSEMBLES."""
    return [
        expand(pattern, corpus=c.corpus, tokenizer=c.tokenizer)[0]
        for c in REGION_CONDITIONS
    ]


# The comparisons a study without probes, or without an annotated DNA corpus, does not make.
UNMADE_COMPARISONS = {
    name
    for name, ensembles in (
        ("compare_probes", PROBED_ENSEMBLES),
        ("compare_regions", REGION_ENSEMBLES),
    )
    if not ensembles
}

# The probes figure needs probes, the regions figure an annotated DNA corpus, the training
# figures trained ensembles; every other figure is drawn for every study.
TRAINING_FIGURES = ("loss_curves", "fisher_training")
STUDY_FIGURES = [
    name
    for name in FIGURES
    if (name != "probes" or PROBED_ENSEMBLES)
    and (name != "regions" or REGION_ENSEMBLES)
    and (name not in TRAINING_FIGURES or TRAINED_ENSEMBLES)
]


# --- extraction ---------------------------------------------------------------------------


def member_extract_file(name):
    """A file of one member's extraction folder."""
    return results_path(
        f"extract/{{corpus}}/{{tokenizer}}/{{architecture}}/{{objective}}/seed{{seed}}/{name}"
    )


# What extract_member writes: the corrected definitions' files, and the paper's under paper/.
CORRECTED_EXTRACTION = dict(
    distributions=member_extract_file("distributions.npy"),
    record=member_extract_file("distributions.json"),
    embeddings=member_extract_file("embeddings.npy"),
    fisher=member_extract_file("fisher.csv"),
    fisher_per_sequence=member_extract_file("fisher_per_sequence.npy"),
)
PAPER_EXTRACTION = dict(
    paper_distributions=member_extract_file("paper/distributions.npy"),
    paper_record=member_extract_file("paper/distributions.json"),
    paper_fisher=member_extract_file("paper/fisher.csv"),
    paper_fisher_per_batch=member_extract_file("paper/fisher_per_batch.npy"),
)


def paper_masked_positions(wildcards):
    """The paper's masking of the condition, for an ensemble measured under its definitions."""
    if wildcards.objective not in PAPER_OBJECTIVES:
        return []
    return expand(rules.paper_positions.output.masked, **wildcards)[0]
