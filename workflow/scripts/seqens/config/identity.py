"""What names a condition, an ensemble and a member, and where their files live: one value
type per level that the Snakefile, the scripts and the library all use."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import InputError

# Where a member's files live under each stage's folder (results/models/, results/extract/,
# logs/...): the rules' wildcards, and Member.path. One pattern, so that rules, scripts and
# the library agree on which file is whose.
MEMBER_PATH = "{corpus}/{tokenizer}/{architecture}/{objective}/seed{seed}"
CONDITION_PATH = "{corpus}/{tokenizer}"


@dataclass(frozen=True)
class Condition:
    """A corpus with a tokenizer: the data every ensemble of the condition shares."""

    corpus: str
    tokenizer: str
    kind: str  # "text" or "dna"

    @property
    def name(self) -> str:
        return f"{self.corpus}-{self.tokenizer}"

    @property
    def path(self) -> str:
        return CONDITION_PATH.format(corpus=self.corpus, tokenizer=self.tokenizer)


def study_conditions(config: dict) -> list[Condition]:
    """The conditions a config asks for, in its order (its corpora must exist: checked first)."""
    corpora = config["corpora"]
    return [Condition(c["corpus"], c["tokenizer"], corpora[c["corpus"]]["kind"]) for c in config["conditions"]]


@dataclass(frozen=True)
class Member:
    """One trained model: an ensemble's member of one seed."""

    condition: Condition
    architecture: str
    objective: str
    seed: int

    @property
    def wildcards(self) -> dict:
        return {
            "corpus": self.condition.corpus,
            "tokenizer": self.condition.tokenizer,
            "architecture": self.architecture,
            "objective": self.objective,
            "seed": self.seed,
        }

    @property
    def path(self) -> str:
        return MEMBER_PATH.format(**self.wildcards)

    @classmethod
    def from_wildcards(cls, wildcards, kind: str = "") -> "Member":
        return cls(
            Condition(wildcards.corpus, wildcards.tokenizer, kind),
            wildcards.architecture,
            wildcards.objective,
            int(wildcards.seed),
        )


@dataclass(frozen=True)
class Ensemble:
    """The members of one condition x architecture x objective, differing only in seed.
    ``source``: "trained" here, or "published" (fetched; its architecture is the label the
    config gives it, seqens.published)."""

    condition: Condition
    architecture: str
    objective: str
    seeds: tuple[int, ...]
    source: str = "trained"

    @property
    def name(self) -> str:
        return f"{self.condition.name}/{self.architecture}/{self.objective}"

    @property
    def members(self) -> list[Member]:
        return [Member(self.condition, self.architecture, self.objective, seed) for seed in self.seeds]

    @property
    def path(self) -> str:
        """Where the ensemble's own files live (MEMBER_PATH less the seed)."""
        return MEMBER_PATH.rsplit("/", 1)[0].format(**{**self.members[0].wildcards})

    def labels(self) -> dict:
        """The columns that identify the ensemble in every table."""
        return {
            "condition": self.condition.name,
            "corpus": self.condition.corpus,
            "tokenizer": self.condition.tokenizer,
            "kind": self.condition.kind,
            "architecture": self.architecture,
            "objective": self.objective,
            "source": self.source,
        }

    def spec(self) -> dict:
        """Plain values, for a rule's params (a job rebuilds the Ensemble with from_spec)."""
        return {**self.labels(), "seeds": list(self.seeds)}

    @classmethod
    def from_spec(cls, spec: dict) -> "Ensemble":
        condition = Condition(spec["corpus"], spec["tokenizer"], spec["kind"])
        return cls(condition, spec["architecture"], spec["objective"], tuple(spec["seeds"]), spec.get("source", "trained"))


def file_of(paths: list[str], owner: Condition | Member) -> str:
    """The one file among a job's ``paths`` that belongs to ``owner`` (found by its path,
    not by its position in the list)."""
    matches = [p for p in map(str, paths) if f"/{owner.path}/" in f"/{p}/"]
    if len(matches) != 1:
        raise InputError(f"{owner.path}: {len(matches)} of the job's input files belong to it, expected 1")
    return matches[0]
