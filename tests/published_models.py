"""Tiny models saved in exactly the formats that published models come in, and a Hub cache laid
out as huggingface_hub lays it, for the tests of published ensembles (seqens.published)."""

from __future__ import annotations

import hashlib
import itertools
import shutil
from pathlib import Path

TEXT = [
    "The cat sat on the mat. The dog sat on the log.",
    "A bird flew over the house, and the cat watched it go.",
    "Rivers run to the sea; the sea returns as rain.",
] * 20
COMMIT = "0123456789abcdef0123456789abcdef01234567"


def gfms_text_tokenizer(vocab_size: int = 96):
    """A text BPE built as the paper's code builds it (lbcb-sci/GFMs @277899c,
    src/train/tokenizer/tokenizer.py, ``train_bpe_tokenizer``): character-level BPE with a
    ``Whitespace`` pre-tokenizer, the five specials <UNK> <PAD> <CLS> <SEP> <MASK> first, no
    post-processor (its sequences carry no [CLS]/[SEP])."""
    from tokenizers import Tokenizer
    from tokenizers.models import BPE
    from tokenizers.pre_tokenizers import Whitespace
    from tokenizers.trainers import BpeTrainer
    from transformers import PreTrainedTokenizerFast

    specials = ["<UNK>", "<PAD>", "<CLS>", "<SEP>", "<MASK>"]
    tokenizer = Tokenizer(BPE(unk_token="<UNK>"))
    tokenizer.pre_tokenizer = Whitespace()
    tokenizer.train_from_iterator(TEXT, trainer=BpeTrainer(vocab_size=vocab_size, special_tokens=specials, show_progress=False))
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, unk_token="<UNK>", pad_token="<PAD>", cls_token="<CLS>", sep_token="<SEP>",
        mask_token="<MASK>",
    )


def nt_vocab_tokenizer(directory: Path, k: int = 6):
    """The Nucleotide Transformer's k-mer tokenizer as it is published on the Hub: a Python
    EsmTokenizer over vocab.txt (no tokenizer.json) holding <unk> <pad> <mask> <cls> <eos>
    <bos>, the 4^k k-mers, then A T C G N (instadeepai/nucleotide-transformer,
    nucleotide_transformer/tokenizers.py)."""
    from transformers import EsmTokenizer

    Path(directory).mkdir(parents=True, exist_ok=True)
    tokens = ["<unk>", "<pad>", "<mask>", "<cls>", "<eos>", "<bos>"]
    tokens += ["".join(p) for p in itertools.product("ACGT", repeat=k)] + list("ATCGN")
    (Path(directory) / "vocab.txt").write_text("\n".join(tokens) + "\n")
    return EsmTokenizer(str(Path(directory) / "vocab.txt"), bos_token="<bos>")


def byte_bpe_tokenizer(mask: bool = True):
    """A byte-level BPE as causal LMs ship them, with pad/unk/bos/eos (and a mask) token."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    specials = ["<s>", "</s>", "<unk>", "<pad>"] + (["<mask>"] if mask else [])
    tokenizer = Tokenizer(models.BPE(unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=300, special_tokens=specials, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False)
    tokenizer.train_from_iterator(TEXT, trainer=trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, bos_token="<s>", eos_token="</s>", unk_token="<unk>", pad_token="<pad>",
        **({"mask_token": "<mask>"} if mask else {}),
    )


def save_bert(directory: Path, tokenizer, seed: int = 0, bare: bool = False) -> Path:
    """A BertForMaskedLM (or, ``bare``, a headless BertModel) with its tokenizer, as the
    paper's push_models_hub.py saves its members."""
    import torch
    from transformers import BertConfig, BertForMaskedLM, BertModel

    torch.manual_seed(seed)
    config = BertConfig(vocab_size=len(tokenizer), hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=32, max_position_embeddings=128, pad_token_id=tokenizer.pad_token_id)
    model = (BertModel if bare else BertForMaskedLM)(config)
    _scramble_biases(model)
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return Path(directory)


CUSTOM_CODE = """from transformers import BertConfig, BertForMaskedLM


class ShiftedBertConfig(BertConfig):
    model_type = "bert"


class ShiftedBertForMaskedLM(BertForMaskedLM):
    config_class = ShiftedBertConfig
"""


def save_custom_code_bert(directory: Path, tokenizer) -> Path:
    """A BertForMaskedLM that ships its own code, as DNABERT-2 does: its config calls it
    ``bert`` and maps the Auto classes (``auto_map``) to modeling_shifted.py beside it."""
    import json

    directory = save_bert(directory, tokenizer)
    (directory / "modeling_shifted.py").write_text(CUSTOM_CODE)
    config = json.loads((directory / "config.json").read_text())
    config["auto_map"] = {"AutoConfig": "modeling_shifted.ShiftedBertConfig",
                          "AutoModelForMaskedLM": "modeling_shifted.ShiftedBertForMaskedLM"}
    (directory / "config.json").write_text(json.dumps(config))
    return directory


def save_esm(directory: Path, tokenizer, seed: int = 0) -> Path:
    """An EsmForMaskedLM, as the Nucleotide Transformer / AgroNT are published."""
    import torch
    from transformers import EsmConfig, EsmForMaskedLM

    torch.manual_seed(seed)
    config = EsmConfig(vocab_size=len(tokenizer), hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
                       intermediate_size=32, max_position_embeddings=130, pad_token_id=tokenizer.pad_token_id,
                       mask_token_id=tokenizer.mask_token_id, position_embedding_type="absolute", token_dropout=False)
    model = EsmForMaskedLM(config)
    _scramble_biases(model)
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return Path(directory)


def save_causal(directory: Path, tokenizer, seed: int = 0) -> Path:
    """A small Llama-style causal LM (token embeddings at model.embed_tokens, layers at
    model.layers.i, RMSNorm, untied output layer)."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
                         num_key_value_heads=2, intermediate_size=32, max_position_embeddings=128,
                         pad_token_id=tokenizer.pad_token_id, bos_token_id=tokenizer.bos_token_id,
                         eos_token_id=tokenizer.eos_token_id, tie_word_embeddings=False)
    model = LlamaForCausalLM(config)
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return Path(directory)


def _scramble_biases(model) -> None:
    """Distinct output biases per token, so that a wrongly renumbered head shows."""
    import torch

    output = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
    if output is not None and getattr(output, "bias", None) is not None:
        with torch.no_grad():
            output.bias.copy_(torch.linspace(-1, 1, output.bias.shape[0]))


def hub_cache(cache: Path, repo_id: str, model_dir: Path, commit: str = COMMIT, ref: str = "main") -> Path:
    """``model_dir``'s files in a Hub cache as huggingface_hub lays it out:
    models--{org}--{name}/blobs/<sha256>, snapshots/<commit>/<file> -> ../../blobs/<sha256>,
    refs/<ref> holding the commit."""
    repo = Path(cache) / f"models--{repo_id.replace('/', '--')}"
    snapshot = repo / "snapshots" / commit
    (repo / "blobs").mkdir(parents=True, exist_ok=True)
    snapshot.mkdir(parents=True, exist_ok=True)
    for path in sorted(Path(model_dir).iterdir()):
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        blob = repo / "blobs" / digest
        if not blob.exists():
            shutil.copyfile(path, blob)
        (snapshot / path.name).symlink_to(Path("..", "..", "blobs", digest))
    (repo / "refs").mkdir(exist_ok=True)
    (repo / "refs" / ref).write_text(commit)
    return snapshot
