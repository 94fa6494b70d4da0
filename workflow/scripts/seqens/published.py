"""Published models as ensemble members: a model released on the Hub (or saved in a local
directory) becomes a member folder of the same shape as a trained member's, so that every
extraction, comparison, figure and report reads it unchanged.

The pipeline's special tokens sit at fixed ids (seqens.special: pad, unk, cls, sep, mask =
0..4). A published tokenizer has its own ids (GFMs' BPE: <UNK> 0, <PAD> 1; the Nucleotide
Transformer: <unk> 0, <pad> 1, <mask> 2, <cls> 3, <eos> 4; BERT: [PAD] 0, [UNK] 100, [CLS]
101 ...). So a published tokenizer is renumbered: its pad, unk, cls (or bos), sep (or eos)
and mask tokens move to ids 0..4, every other token keeps its order after them
(``vocabulary_order``). Its members' input embeddings and output layer are permuted the same
way when they are fetched, which changes no prediction: the renumbered member computes the
same distribution over the same tokens. Tokens, merges and pre-tokenisation are the
published tokenizer's own; only DNA input is upper-cased first (soft-masked bases are bases,
as for every DNA tokenizer here).

How a published model is loaded and its layers grouped for the Fisher: seqens.published_architectures.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import InputError
from .hub import Snapshot, resolve
from .io import atomic_path, manifest, write_json_atomic
from .member import write_manifest
from .published_architectures import (
    check_layer_groups,
    check_remote_code,
    needs_remote_code,
    published_architecture,
    remote_code_refusal,
)
from .special import SPECIAL_TOKENS

if TYPE_CHECKING:
    from torch import nn

SPEC_FILE = "seqens_tokenizer.json"
ORDER_FILE = "vocabulary_order.json"  # published id of each renumbered id
# transformers' names of the five roles, in seqens.special's order, with the fallbacks a
# tokenizer without [CLS]/[SEP] offers (causal LMs: bos/eos).
ROLES = (("pad_token",), ("unk_token",), ("cls_token", "bos_token"), ("sep_token", "eos_token"), ("mask_token",))
FRAMING_SAMPLE = "ACGT"  # any input: only what a tokenizer puts around its tokens is read
CONFIG_TOKEN_IDS = ("pad_token_id", "bos_token_id", "eos_token_id", "cls_token_id", "sep_token_id", "mask_token_id")


# --- tokenizers ---------------------------------------------------------------------------


def _load_tokenizer(snapshot: Snapshot, what: str, key: str, trust_remote_code: bool = False):
    """The published tokenizer; ``key``: the config entry whose trust_remote_code lets it run code."""
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(snapshot.directory, trust_remote_code=trust_remote_code)
    except ValueError as error:
        if needs_remote_code(error):
            raise remote_code_refusal(f"{what}: its tokenizer", key) from None
        raise InputError(f"{what}: no tokenizer loads from {snapshot.directory} ({str(error).splitlines()[0]})") from None
    if not getattr(tokenizer, "is_fast", False) or getattr(tokenizer, "backend_tokenizer", None) is None:
        converted = _kmer_tokenizer_of(tokenizer)
        if converted is not None:
            return converted
        raise InputError(
            f"{what}: its tokenizer ({type(tokenizer).__name__}) has no tokenizers-library form (tokenizer.json); "
            "save one with a fast tokenizer class and give that directory"
        )
    return tokenizer


def _kmer_tokenizer_of(tokenizer):
    """The tokenizers-library form of a Python k-mer tokenizer as the Nucleotide Transformer
    publishes it (EsmTokenizer, vocab.txt: its specials, the 4^k k-mers, single nucleotides),
    or None for any other vocabulary. EsmTokenizer splits its input at its vocabulary's tokens,
    longest first from the left: a k-mer where the next k characters are all A C G T, else one
    character (instadeepai/nucleotide-transformer, tokenizers.py), which a Split does alike."""
    from tokenizers import Regex, Tokenizer, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    vocab = tokenizer.get_vocab()
    specials = set(tokenizer.all_special_tokens)
    ordinary = [token for token in vocab if token not in specials]
    lengths = {len(token) for token in ordinary if len(token) > 1}
    if len(lengths) != 1 or any(set(token) - set("ACGTN") for token in ordinary):
        return None
    (k,) = lengths
    if sum(len(token) == k for token in ordinary) != 4**k:
        return None
    unk = tokenizer.unk_token
    backend = Tokenizer(models.WordLevel(vocab, unk_token=unk))
    backend.pre_tokenizer = pre_tokenizers.Split(Regex(f"[ACGT]{{{k}}}|."), behavior="isolated")
    prefix, suffix = _frame(tokenizer)
    if prefix or suffix:  # EsmTokenizer's own: <cls> first, and <eos> last where it has one
        name = tokenizer.convert_ids_to_tokens
        backend.post_processor = processors.TemplateProcessing(
            single=" ".join([*map(name, prefix), "$A", *map(name, suffix)]),
            special_tokens=[(name(i), i) for i in dict.fromkeys(prefix + suffix)],
        )
    roles = {name: getattr(tokenizer, name) for name in ("unk_token", "pad_token", "mask_token", "cls_token",
                                                        "sep_token", "bos_token", "eos_token") if getattr(tokenizer, name, None)}
    return PreTrainedTokenizerFast(tokenizer_object=backend, **roles)


def _frame(tokenizer) -> tuple[list[int], list[int]]:
    """The ids a transformers tokenizer puts before and after a sequence's own tokens (its
    post-processor's, or a Python tokenizer's special-token rule)."""
    bare = tokenizer(FRAMING_SAMPLE, add_special_tokens=False)["input_ids"]
    framed = tokenizer(FRAMING_SAMPLE)["input_ids"]
    start = next(i for i in range(len(framed) - len(bare) + 1) if framed[i : i + len(bare)] == bare)
    return framed[:start], framed[start + len(bare) :]


def framing(tokenizer, order: list[int], what: str) -> dict[str, bool]:
    """How the published model saw its rows (seqens.special.SpecialLayout's framing): whether
    its tokenizer starts a sequence with its cls (or bos) token and ends it with its sep (or
    eos); GFMs' BPE does neither (no post-processor), BERT's both. ``order``: as
    ``vocabulary_order`` gives it."""
    prefix, suffix = _frame(tokenizer)
    cls, sep = order[2], order[3]
    if prefix not in ([], [cls]) or suffix not in ([], [sep]):
        raise InputError(
            f"{what}: its tokenizer frames a sequence as {prefix} ... {suffix} (its ids); rows here can only start "
            f"with its cls/bos token ({cls}) and end with its sep/eos token ({sep})"
        )
    return {"starts_with_cls": prefix == [cls], "ends_with_sep": suffix == [sep]}


def vocabulary_order(tokenizer, what: str) -> list[int]:
    """The published id of each renumbered id: the five special roles first (seqens.special's
    order), then every other id in its published order."""
    specials = []
    for names in ROLES:
        token = next((getattr(tokenizer, name, None) for name in names if getattr(tokenizer, name, None)), None)
        if token is None:
            raise InputError(
                f"{what}: its tokenizer has no {' or '.join(n.removesuffix('_token') for n in names)} token; the "
                f"evaluation needs distinct pad, unk, cls/bos, sep/eos and mask tokens"
            )
        specials.append(tokenizer.convert_tokens_to_ids(token))
    if len(set(specials)) != len(specials):
        raise InputError(f"{what}: its tokenizer uses one token for two of pad, unk, cls/bos, sep/eos, mask ({specials})")
    size = len(tokenizer.get_vocab())
    if sorted(tokenizer.get_vocab().values()) != list(range(size)):
        raise InputError(f"{what}: its tokenizer's ids are not 0..{size - 1} without gaps")
    return specials + [i for i in range(size) if i not in set(specials)]


def _renumber(tokenizer, order: list[int], kind: str, frame: dict[str, bool]):
    """The published tokenizer (a tokenizers.Tokenizer) with ids renumbered by ``order``,
    framing a sequence as ``frame`` says (``framing``)."""
    from tokenizers import Tokenizer, normalizers, processors

    new_id = {old: new for new, old in enumerate(order)}
    data = json.loads(tokenizer.backend_tokenizer.to_str())
    model = data["model"]
    if isinstance(model.get("vocab"), dict):  # BPE, WordPiece, WordLevel
        model["vocab"] = {token: new_id[i] for token, i in model["vocab"].items()}
    elif isinstance(model.get("vocab"), list):  # Unigram: the ids are the list's positions
        model["vocab"] = [model["vocab"][old] for old in order]
        if model.get("unk_id") is not None:
            model["unk_id"] = new_id[model["unk_id"]]
    else:
        raise InputError(f"tokenizer model {model.get('type')} cannot be renumbered")
    for added in data.get("added_tokens", []):
        added["id"] = new_id[added["id"]]
    data["post_processor"] = None  # rebuilt below with the renumbered ids
    renumbered = Tokenizer.from_str(json.dumps(data))
    cls, sep = (renumbered.id_to_token(i) for i in (2, 3))
    before, after = [cls] if frame["starts_with_cls"] else [], [sep] if frame["ends_with_sep"] else []
    if before or after:
        renumbered.post_processor = processors.TemplateProcessing(
            single=" ".join([*before, "$A", *after]),
            pair=" ".join([*before, "$A", *after, "$B:1", *(f"{token}:1" for token in after)]),
            special_tokens=[(cls, 2)] * bool(before) + [(sep, 3)] * bool(after),
        )
    if kind == "dna":  # soft-masked (lower-case) bases are bases, as for every DNA tokenizer here
        upper = [normalizers.Replace(base.lower(), base) for base in "ACGTN"]
        existing = renumbered.normalizer
        renumbered.normalizer = normalizers.Sequence(upper + ([existing] if existing is not None else []))
    return renumbered


def save_published_tokenizer(spec: dict, kind: str, directory: Path, cache_dir: Path, model_max_length: int, what: str) -> int:
    """A condition's tokenizer taken from a published model (tokenizer type ``pretrained``),
    renumbered, written as a tokenizer directory of this workflow. Returns its size."""
    from transformers import PreTrainedTokenizerFast

    snapshot = resolve(spec["model"], spec.get("revision"), cache_dir, what)
    published = _load_tokenizer(snapshot, what, what, spec.get("trust_remote_code", False))
    order = vocabulary_order(published, what)
    frame = framing(published, order, what)
    renumbered = _renumber(published, order, kind, frame)
    names = [renumbered.id_to_token(i) for i in range(len(SPECIAL_TOKENS))]
    fast = PreTrainedTokenizerFast(
        tokenizer_object=renumbered,
        **dict(zip(("pad_token", "unk_token", "cls_token", "sep_token", "mask_token"), names)),
        model_max_length=model_max_length,
    )
    with atomic_path(directory, directory=True) as tmp:
        fast.save_pretrained(tmp)
        write_json_atomic(tmp / SPEC_FILE, {"kind": kind, **spec, "commit": snapshot.commit, "framing": frame})
        (tmp / ORDER_FILE).write_text(json.dumps(order) + "\n")
        record = manifest(config={"tokenizer": spec, "kind": kind}, inputs={}, published=snapshot.record())
        write_json_atomic(tmp / "manifest.json", record)
    return len(order)


def condition_vocabulary(tokenizer_dir: Path) -> dict[str, int] | None:
    """The published ids of a pretrained condition tokenizer's tokens (None for a tokenizer
    trained here)."""
    from tokenizers import Tokenizer

    order_file = Path(tokenizer_dir) / ORDER_FILE
    if not order_file.is_file():
        return None
    order = json.loads(order_file.read_text())
    vocab = Tokenizer.from_file(str(Path(tokenizer_dir) / "tokenizer.json")).get_vocab(with_added_tokens=True)
    return {token: order[i] for token, i in vocab.items()}


# --- members ------------------------------------------------------------------------------


def _vocabulary_parameters(model: nn.Module, vocab_size: int) -> list:
    """The distinct parameters indexed by token id: the input embeddings, the output layer and
    the head's biases over the vocabulary (tied ones once)."""
    found = {}
    candidates = [model.get_input_embeddings().weight]
    output = model.get_output_embeddings()
    if output is not None:
        candidates += [output.weight, getattr(output, "bias", None)]
    backbone = model.base_model_prefix
    candidates += [
        p for name, p in model.named_parameters() if p.dim() == 1 and p.shape[0] == vocab_size and not name.startswith(f"{backbone}.")
    ]
    for parameter in candidates:
        if parameter is not None and parameter.shape[0] == vocab_size:
            found[id(parameter)] = parameter
    return list(found.values())


def load_published_model(snapshot: Snapshot, objective: str, trust_remote_code: bool, what: str, key: str):
    """The published model with its prediction head, refused when the head is missing or when
    it runs code from its repository that ``key``'s trust_remote_code does not allow."""
    from transformers import AutoConfig, AutoModelForCausalLM, AutoModelForMaskedLM

    auto = AutoModelForCausalLM if objective == "clm" else AutoModelForMaskedLM
    check_remote_code(snapshot.directory, trust_remote_code, f"{what}: the model", key)
    try:
        config = AutoConfig.from_pretrained(snapshot.directory, trust_remote_code=trust_remote_code)
        model, info = auto.from_pretrained(
            snapshot.directory, config=config, trust_remote_code=trust_remote_code, output_loading_info=True
        )
    except ValueError as error:
        if needs_remote_code(error):
            raise remote_code_refusal(f"{what}: the model", key) from None
        message = str(error).splitlines()[0]
        raise InputError(f"{what}: {auto.__name__} cannot load {snapshot.model} ({message})") from None
    missing = [key for key in info["missing_keys"] if not key.endswith("position_ids")]
    if missing:
        raise InputError(
            f"{what}: the checkpoint has no prediction head for objective {objective} (missing {missing[0]} and "
            f"{len(missing) - 1} more: saved as {(config.architectures or ['?'])[0]}?); give a checkpoint saved with its head"
        )
    return model.eval()


def fetch_member(
    entry: dict, seed: int, objective: str, label: str, out_dir: Path, tokenizer_dir: Path, cache_dir: Path, what: str,
    key: str,
) -> None:
    """Write a published member's folder: its model renumbered to the condition tokenizer's
    ids, that tokenizer, and a manifest (seqens.member.write_manifest: what it is, where it
    came from: the resolved commit and every source file's sha256; the config ``key`` of its
    entry; its weights' checksums)."""
    import torch

    from .objectives import objective_parameters

    snapshot = resolve(member_model(entry, seed), entry.get("revision"), cache_dir, what)
    published_vocab = condition_vocabulary(tokenizer_dir)
    trusted = entry.get("trust_remote_code", False)
    mine = _load_tokenizer(snapshot, what, key, trusted).get_vocab()
    if published_vocab is None or mine != published_vocab:
        raise InputError(
            f"{what}: its tokenizer differs from its ensemble's ({tokenizer_dir}); members of one ensemble must share "
            "one tokenizer (pair metrics compare one vocabulary), so give it an ensemble of its own"
        )
    model = load_published_model(snapshot, objective, trusted, what, key)
    order = json.loads((Path(tokenizer_dir) / ORDER_FILE).read_text())
    architecture = published_architecture(model.config.model_type, objective, trusted)
    check_layer_groups(architecture, model, what)
    index = torch.tensor(order)
    with torch.no_grad():
        for parameter in _vocabulary_parameters(model, len(order)):
            parameter.copy_(parameter[index])
    new_id = {old: new for new, old in enumerate(order)}
    _shift_positions(model, new_id)
    for name in CONFIG_TOKEN_IDS:
        value = getattr(model.config, name, None)
        if isinstance(value, int) and value in new_id:
            setattr(model.config, name, new_id[value])
    with atomic_path(out_dir, directory=True) as tmp:
        model.save_pretrained(tmp)
        for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", SPEC_FILE, ORDER_FILE):
            if (Path(tokenizer_dir) / name).is_file():
                shutil.copyfile(Path(tokenizer_dir) / name, tmp / name)
        record = manifest(
            config={"published": entry, "key": key},
            inputs={"tokenizer": Path(tokenizer_dir) / "tokenizer.json"},
            member={"source": "published", "architecture": label, "objective": objective, "seed": seed,
                    "model_type": model.config.model_type},
            objective_params=objective_parameters(objective, None, "bert").values,
            published=snapshot.record(),
        )
        write_manifest(tmp, record)


def _shift_positions(model: nn.Module, new_id: dict[int, int]) -> None:
    """RoBERTa-style embeddings (RoBERTa, ESM) number positions from the pad id + 1; with the
    pad renumbered to 0 they would read other rows of the position table, so the rows move by
    as much (the last ones, beyond the longest sequence the model now takes, are left)."""
    import torch

    embeddings = getattr(model.base_model, "embeddings", None)
    table = getattr(embeddings, "position_embeddings", None)
    old_pad = getattr(embeddings, "padding_idx", None)
    if table is None or old_pad is None or not hasattr(table, "weight"):
        return
    shift = old_pad - new_id[old_pad]
    if shift:
        with torch.no_grad():
            table.weight[: table.weight.shape[0] - shift] = table.weight[shift:].clone()


def member_model(entry: dict, seed: int) -> str:
    """The Hub id or directory of the member of ``seed`` (``{seed}`` filled in)."""
    return entry["model"].replace("{seed}", str(seed))
