"""A study: a validated config expanded into conditions (corpus x tokenizer), ensembles and
members (condition x architecture x objective x seed), with the slices of the config that
determine each output."""

from __future__ import annotations

import copy
from pathlib import Path

import yaml

from .checks import check_config
from .identity import Condition, Ensemble, Member, study_conditions
from .schema import SCHEMA_PATH, size_presets, validate

# Training keys that change how a run is carried out or reported, never its recipe: they
# reach the job at run time (from the config, not as params), so editing them reruns nothing.
# (device and devices change the floating-point arithmetic: a checkpoint resumes only under
# the same ones.)
RUNTIME_TRAINING_KEYS = ("eval_every", "checkpoint_every", "log_every", "device", "devices")
# Preparation keys that shape the splits (tokenizer_training_characters only shapes the tokenizer).
SPLIT_KEYS = ("eval_fraction", "max_characters")
SINGLE_MODEL_SEED = 0  # the seed label of a published single model's one member


class Study:
    """A validated config with the derived views the workflow and the scripts need."""

    def __init__(self, config: dict, schema_path: Path = SCHEMA_PATH):
        self.config = validate(config, schema_path)
        check_config(self.config)

    # --- expansion -------------------------------------------------------------------
    @property
    def trained_conditions(self) -> list[Condition]:
        return study_conditions(self.config)

    @property
    def conditions(self) -> list[Condition]:
        """The trained ensembles' conditions, then those only published ensembles are
        evaluated in (a published ensemble's tokenizer makes a condition of its own)."""
        conditions = self.trained_conditions
        for ensemble in self.published_ensembles:
            if ensemble.condition not in conditions:
                conditions.append(ensemble.condition)
        return conditions

    @property
    def architectures(self) -> list[str]:
        return list(self.config["architectures"])

    @property
    def objectives(self) -> list[str]:
        return list(self.config["objectives"])

    @property
    def seeds(self) -> list[int]:
        return list(self.config["seeds"])

    @property
    def trained_ensembles(self) -> list[Ensemble]:
        """In a fixed order: condition, architecture, objective (tables and figures keep it)."""
        return [
            Ensemble(c, a, o, tuple(self.seeds))
            for c in self.trained_conditions
            for a in self.architectures
            for o in self.objectives
        ]

    @property
    def published_ensembles(self) -> list[Ensemble]:
        """In the config's order: one member per study seed (``{seed}`` in the model), or a
        single model (no ``{seed}``), one member labelled seed ``SINGLE_MODEL_SEED``."""
        corpora = self.config["corpora"]
        return [
            Ensemble(
                Condition(entry["corpus"], entry["tokenizer"], corpora[entry["corpus"]]["kind"]),
                entry["architecture"],
                entry["objective"],
                tuple(self.seeds) if "{seed}" in entry["model"] else (SINGLE_MODEL_SEED,),
                source="published",
            )
            for entry in self.config["published"].values()
        ]

    @property
    def single_model_labels(self) -> list[str]:
        """The labels of published single models whose one member is not the study's seed
        list (their contextual embeddings are rule extract_contextual_single's)."""
        return list(dict.fromkeys(e.architecture for e in self.published_ensembles if list(e.seeds) != self.seeds))

    @property
    def ensembles(self) -> list[Ensemble]:
        """The trained ensembles, then the published ones."""
        return self.trained_ensembles + self.published_ensembles

    def published_entry(self, corpus: str, tokenizer: str, architecture: str, objective: str) -> tuple[str, dict]:
        """The config entry (name, entry) of the published ensemble with these wildcards."""
        for name, entry in self.config["published"].items():
            if (entry["corpus"], entry["tokenizer"], entry["architecture"], entry["objective"]) == (
                corpus, tokenizer, architecture, objective
            ):
                return name, entry
        raise KeyError(f"no published ensemble {corpus}/{tokenizer}/{architecture}/{objective}")

    @property
    def members(self) -> list[Member]:
        return [member for ensemble in self.ensembles for member in ensemble.members]

    @property
    def active_probes(self) -> list[str]:
        """Probes of a corpus that some condition trains on (the others have no member to
        probe: a study that extends another, as --configfile does, may keep its probes)."""
        corpora = {c.corpus for c in self.trained_conditions}
        return [name for name, probe in self.config["probes"].items() if probe["corpus"] in corpora]

    def description(self) -> dict:
        """The study's design in a few values (for the report's landing page)."""
        cfg = self.config
        return {
            "name": cfg["study"],
            "conditions": [c.name for c in self.conditions],
            "architectures": self.architectures,
            "objectives": self.objectives,
            "seeds": self.seeds,
            "model": cfg["model"],
            "steps": cfg["training"]["steps"],
            "tokens_per_member": self.training_tokens(),
            "single_models": [
                f"{e.condition.name} ({e.architecture})" for e in self.published_ensembles if len(e.seeds) == 1
            ],
        }

    def training_tokens(self) -> int:
        """Tokens one member trains on: steps x batch x sequence length, or with epochs (whose
        last batches are short) epochs x sequences x sequence length."""
        training, data = self.config["training"], self.config["data"]
        if training["epochs"] is not None:
            return training["epochs"] * data["train_sequences"] * data["sequence_length"]
        return training["steps"] * training["batch_size"] * data["sequence_length"]

    def training_budget(self) -> str:
        """One member's training, in words (the train_member jobs' message)."""
        training, data = self.config["training"], self.config["data"]
        steps, batch, length = training["steps"], training["batch_size"], data["sequence_length"]
        sequences, tokens = data["train_sequences"], self.training_tokens()
        if training["epochs"] is not None:
            short = sequences % batch
            return (
                f"{training['epochs']} epochs of {sequences:,} sequences in batches of {batch}"
                + (f" (the last of each epoch {short})" if short else "")
                + f" = {steps:,} steps, x {length} tokens = {tokens:,} tokens ({tokens / 1e9:.2f} B)"
            )
        return (
            f"{steps:,} steps x {batch} sequences x {length} tokens = {tokens:,} tokens ({tokens / 1e9:.2f} B), "
            f"{steps / (sequences / batch):.2f} epochs of {sequences:,} sequences"
        )

    def preset(self) -> dict:
        return dict(size_presets(self.config)[self.config["model"]])

    def objective_params(self, objective: str) -> dict:
        return dict(self.config["objectives"][objective])

    # --- the slices of the config that determine each output (for manifests) -----------
    def preparation_for_splits(self) -> dict:
        """The preparation keys that shape a corpus's train/eval splits."""
        return {key: self.config["preparation"][key] for key in SPLIT_KEYS if key in self.config["preparation"]}

    def training_for_weights(self) -> dict:
        """The training keys that determine a member's weights, and its Fisher log: all but
        RUNTIME_TRAINING_KEYS and save_every, except that with ``keep: best`` the evaluation
        cadence chooses the weights, with ``keep: best_saved`` that and the saving cadence."""
        training = self.config["training"]
        chosen_at = {"last": (), "best": ("eval_every",), "best_saved": ("eval_every", "save_every")}[training["keep"]]
        return {
            key: value
            for key, value in training.items()
            if (key not in (*RUNTIME_TRAINING_KEYS, "save_every") or key in chosen_at)
            # epochs: null leaves the count to steps, which is here: members trained before the
            # key existed keep their identity
            and not (key == "epochs" and value is None)
        }

    def corpus_slice(self, corpus: str) -> dict:
        """A corpus's keys that shape its prepared data: all but its ``annotation``, which
        only the per-region comparison reads (adding one reruns no preparation or training)."""
        return {key: value for key, value in self.config["corpora"][corpus].items() if key != "annotation"}

    def condition_slice(self, corpus: str, tokenizer: str) -> dict:
        """The part of the config that determines one condition's data. The study's name is
        not part of it: renaming a study retrains nothing."""
        return {
            "data_seed": self.config["data_seed"],
            "corpus": {corpus: self.corpus_slice(corpus)},
            "tokenizer": {tokenizer: self.config["tokenizers"][tokenizer]},
            "preparation": self.config["preparation"],
            "data": self.config["data"],
        }

    def member_slice(self, member: Member) -> dict:
        """The part of the config that determines one trained member."""
        return {
            **self.condition_slice(member.condition.corpus, member.condition.tokenizer),
            "architecture": member.architecture,
            "objective": {member.objective: self.objective_params(member.objective)},
            "seed": member.seed,
            "model": {self.config["model"]: self.preset()},
            "training": self.training_for_weights(),
        }

    def probe_slice(self, name: str) -> dict:
        """The part of the config that determines a probe's examples."""
        probe = self.config["probes"][name]
        return {
            "probe": probe,
            "corpus": self.corpus_slice(probe["corpus"]),
            "eval_fraction": self.config["preparation"]["eval_fraction"],
            "data_seed": self.config["data_seed"],
        }


def load_study(path: str | Path, overrides: dict | None = None) -> Study:
    """Read a YAML config (plus optional overrides merged on top) into a validated Study."""
    config = yaml.safe_load(Path(path).read_text()) or {}
    if overrides:
        config = deep_merge(config, overrides)
    return Study(config)


def deep_merge(base: dict, update: dict) -> dict:
    merged = copy.deepcopy(base)
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged
