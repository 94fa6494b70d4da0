"""A config validated against the JSON schema, with every default filled in, in one step
before any cross-key check (seqens.config.checks): the schema's own defaults, then those
derived from other keys. In place, so that Snakemake's ``config`` holds them too."""

from __future__ import annotations

import copy
import math
from pathlib import Path

import jsonschema
import yaml

from ..errors import InputError

SCHEMA_PATH = Path(__file__).resolve().parents[3] / "schemas" / "config.schema.yaml"

# Size presets every study can name; `presets:` in the config adds or overrides.
BUILTIN_PRESETS = {
    # Laptop demo: trains in seconds on a CPU core.
    "tiny": {"layers": 2, "hidden": 64, "heads": 2, "ffn": 256, "max_positions": 128, "dropout": 0.1},
    "small": {"layers": 4, "hidden": 256, "heads": 4, "ffn": 1024, "max_positions": 512, "dropout": 0.1},
    # The paper's model, BertConfig's defaults (GFMs src/utils/config.py get_config_90M), two
    # token types included: 89,192,704 parameters with a 4,096 vocabulary.
    "bert-90m": {
        "layers": 12, "hidden": 768, "heads": 12, "ffn": 3072, "max_positions": 512, "dropout": 0.1, "token_types": 2,
    },
    # The paper's control without transformer layers (get_config_90M_noT): embeddings, then the head.
    "bert-90m-nolayers": {
        "layers": 0, "hidden": 768, "heads": 12, "ffn": 3072, "max_positions": 512, "dropout": 0.1, "token_types": 2,
    },
}

# Contextual embeddings of this many evaluation sequences by default: the paper's (GFMs
# @277899c src/analyze/__main__.py:88, --samples).
CONTEXTUAL_SEQUENCES = 256
COUNTS_HELD_OUT_SEQUENCES = 256  # training rows the count baselines choose their order on

# Optimizer steps when a config sets neither training.steps nor training.epochs.
DEFAULT_STEPS = 300

# Keys that were extraction's before comparison had a section: an old config may hold them.
MOVED_TO_COMPARISON = ("bootstrap_draws", "confidence_level", "top_k", "spearman_k")


class ConfigError(InputError):
    """A config that cannot describe a study; the message names the offending key."""


def size_presets(config: dict) -> dict:
    """The presets a config can name: the built-in ones and its own."""
    return {**BUILTIN_PRESETS, **(config.get("presets") or {})}


def corpus_sources(corpus: dict) -> list[dict]:
    """A corpus's sources in the order they are fetched and read: ``source``, then ``sources``."""
    return [corpus["source"], *corpus["sources"]]


def source_keys(name: str, corpus: dict) -> list[tuple[str, dict]]:
    """A corpus's sources in order (corpus_sources), each with its config key."""
    return [(f"corpora.{name}.source" if i == 0 else f"corpora.{name}.sources[{i - 1}]", source)
            for i, source in enumerate(corpus_sources(corpus))]


def validate(config: dict, schema_path: Path = SCHEMA_PATH) -> dict:
    """Validate against the JSON schema and fill in every default, in place; raise
    ConfigError on the most relevant error (one line naming the key)."""
    _refuse_moved_keys(config)
    schema = yaml.safe_load(Path(schema_path).read_text())
    validator = _DefaultingValidator(schema)
    _type_command_line_strings(config, validator)
    errors = sorted(validator.iter_errors(config), key=lambda e: (len(e.absolute_path), str(e.absolute_path)))
    if errors:
        raise ConfigError(_describe(jsonschema.exceptions.best_match(errors)))
    _fill_derived_defaults(config)
    return config


def _fill_derived_defaults(config: dict) -> None:
    """Defaults that depend on other keys, and one form downstream for keys with two."""
    # A list of objective names, or a name with no parameters, means its default parameters.
    objectives = config["objectives"]
    if isinstance(objectives, list):
        objectives = dict.fromkeys(objectives)
    config["objectives"] = {name: params or {} for name, params in objectives.items()}
    comparison = config["comparison"]
    if isinstance(comparison["spearman_k"], int):
        comparison["spearman_k"] = [comparison["spearman_k"]]
    for tokenizer in config["tokenizers"].values():
        if tokenizer["type"] in ("kmer", "nt_kmer") and "k" in tokenizer:  # without k, a check names the key
            tokenizer.setdefault("stride", tokenizer["k"])  # non-overlapping
    _fill_steps(config)
    for name, entry in config["published"].items():
        if "tokenizer" not in entry and name not in config["tokenizers"]:
            # The ensemble's own tokenizer, from its first member (each member's is checked
            # against it when fetched). A name already taken is left to the checks to name.
            first = {"model": entry["model"].replace("{seed}", str(config["seeds"][0]))}
            first.update({key: entry[key] for key in ("revision", "trust_remote_code") if key in entry})
            config["tokenizers"][name] = {"type": "pretrained", **first}
            entry["tokenizer"] = name
    extraction = config["extraction"]
    if extraction["counts_held_out_sequences"] is None:  # a small study keeps 3/4 to count
        extraction["counts_held_out_sequences"] = max(1, min(COUNTS_HELD_OUT_SEQUENCES, config["data"]["train_sequences"] // 4))
    if extraction["contextual_sequences"] is None:
        sequences = extraction["sequences"] or config["data"]["eval_sequences"]
        extraction["contextual_sequences"] = min(CONTEXTUAL_SEQUENCES, sequences)


def _fill_steps(config: dict) -> None:
    """training.steps from training.epochs as the Trainer counts them (a short last batch per
    epoch); a steps that says otherwise is refused, never silently overridden."""
    training = config["training"]
    if training["epochs"] is None:
        if training.get("steps") is None:
            training["steps"] = DEFAULT_STEPS
        return
    sequences, batch = config["data"]["train_sequences"], training["batch_size"]
    steps = training["epochs"] * math.ceil(sequences / batch)
    if training.get("steps") not in (None, steps):
        raise ConfigError(
            f"config: training.steps: {training['steps']} disagrees with training.epochs: {training['epochs']} "
            f"({training['epochs']} x ceil({sequences:,} / {batch}) = {steps:,} steps); set one of them, "
            "with steps: null beside epochs (a study file merged over config/config.yaml inherits its steps)"
        )
    training["steps"] = steps


def _refuse_moved_keys(config: dict) -> None:
    """One line for an old config's comparison keys under extraction (the schema would only
    call them unknown)."""
    extraction = config.get("extraction")
    held = [key for key in MOVED_TO_COMPARISON if isinstance(extraction, dict) and key in extraction]
    if held:
        raise ConfigError(
            f"config: {', '.join(f'extraction.{key}' for key in held)}: moved to "
            f"{', '.join(f'comparison.{key}' for key in held)} (config/README.md, `comparison`)"
        )


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
