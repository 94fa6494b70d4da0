import sys
from pathlib import Path

sys.path.insert(0, str(Path(workflow.basedir) / "workflow" / "scripts"))

from seqens.config import ConfigError, Study  # noqa: E402

try:
    STUDY = Study(config)
except ConfigError as error:
    raise WorkflowError(str(error)) from None

CONDITIONS = STUDY.conditions


wildcard_constraints:
    corpus="[A-Za-z0-9]+",
    tokenizer="[A-Za-z0-9]+",
    architecture="[a-z0-9]+",
    split="train|eval",
    filename="[^/]+",


def corpus_sources(corpus):
    """The corpus's sources in order: `source` first, then `sources`."""
    entry = config["corpora"][corpus]
    return [entry["source"], *entry["sources"]]


def source_filename(source, index):
    """A stable local name for a source: its index plus its original file name."""
    name = source.get("url") or source["path"]
    return f"{index}-{Path(name.split('?')[0]).name}"


def fetched_sources(wildcards):
    return [
        f"resources/corpora/{wildcards.corpus}/{source_filename(source, i)}"
        for i, source in enumerate(corpus_sources(wildcards.corpus))
    ]


def source_of(wildcards):
    """The config entry behind resources/corpora/{corpus}/{filename}."""
    for i, source in enumerate(corpus_sources(wildcards.corpus)):
        if source_filename(source, i) == wildcards.filename:
            return source
    raise WorkflowError(
        f"no source of corpus '{wildcards.corpus}' is stored as '{wildcards.filename}'"
    )


def extraction(*keys):
    """The extraction settings a job uses, and only those: editing another reruns nothing
    of it (config/README.md, "What an edit reruns")."""
    return {key: config["extraction"][key] for key in keys}


def local_source(wildcards):
    """A local `path:` source is an input of its fetch job: a missing file stops a dry run,
    an edited one reruns what depends on it."""
    source = source_of(wildcards)
    return [source["path"]] if "path" in source and "package" not in source else []


def condition_files(pattern):
    """Expand a path pattern with {corpus} and {tokenizer} over the study's conditions."""
    return [pattern.format(corpus=c.corpus, tokenizer=c.tokenizer) for c in CONDITIONS]


# Ensembles in a fixed order (condition, architecture, objective); members in seed order.
ENSEMBLES = [
    {
        "corpus": c.corpus,
        "tokenizer": c.tokenizer,
        "kind": config["corpora"][c.corpus]["kind"],
        "architecture": architecture,
        "objective": objective,
        "seeds": STUDY.seeds,
    }
    for c in CONDITIONS
    for architecture in STUDY.architectures
    for objective in STUDY.objectives
]


def member_files(pattern):
    """Expand a per-member path pattern over every ensemble and seed, in ENSEMBLES order."""
    return [
        pattern.format(
            corpus=e["corpus"],
            tokenizer=e["tokenizer"],
            architecture=e["architecture"],
            objective=e["objective"],
            seed=seed,
        )
        for e in ENSEMBLES
        for seed in e["seeds"]
    ]


FIGURES = ["entropy", "js_distance", "embeddings", "fisher", "loss_curves"]
