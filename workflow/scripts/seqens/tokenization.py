"""Tokenizers for text and DNA, built with Hugging Face ``tokenizers`` and saved so that
``transformers.AutoTokenizer.from_pretrained(directory)`` loads them.

Every tokenizer has the same five special tokens at ids 0-4: [PAD] [UNK] [CLS] [SEP] [MASK].

- ``bpe``: byte-pair encoding trained on the training split only. Text uses byte-level
  pre-tokenisation (no unknown characters, no prefixed space: GPT-2 and RoBERTa style; the
  [MASK] token absorbs the space before it, as RoBERTa's does); DNA is one "word" per
  window, as in DNABERT-2, with the initial alphabet A C G T N.

DNA tokenizers upper-case their input (soft-masked bases are bases) and decode back to the
bases (BPE, char and non-overlapping k-mers); overlapping k-mers decode to their input form.
- ``kmer``: the full 4^k vocabulary of k-mers over A C G T. Non-overlapping (stride k): the
  sequence is cut into consecutive k-mers; a k-mer containing N, and a trailing piece shorter
  than k, each become one [UNK]. Overlapping (stride 1, DNABERT-1 style): every k-mer
  starting at each position; the input must be written as space-separated k-mers
  (``kmerize``), which ``encode_texts`` does for you. Beware: with overlapping k-mers a
  masked token is recoverable from its neighbours.
- ``char``: one token per character; DNA has A C G T N, text the most frequent characters of
  the training split (up to vocab_size).
"""

from __future__ import annotations

import collections
import itertools
import json
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np
from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

from .errors import InputError
from .io import atomic_path
from .special import CLS_ID, SEP_ID, SPECIAL_TOKENS
DNA_ALPHABET = "ACGTN"
SPEC_FILE = "seqens_tokenizer.json"


def kmer_vocabulary(k: int) -> list[str]:
    return ["".join(p) for p in itertools.product("ACGT", repeat=k)]


def kmerize(sequence: str, k: int) -> str:
    """Overlapping k-mers of a sequence, space separated (the input form of stride-1 k-mers)."""
    return " ".join(sequence[i : i + k] for i in range(len(sequence) - k + 1))


def _with_specials(tokens: Iterable[str]) -> dict[str, int]:
    vocab = {token: i for i, token in enumerate(SPECIAL_TOKENS)}
    for token in tokens:
        vocab.setdefault(token, len(vocab))
    return vocab


def _post_processor() -> processors.TemplateProcessing:
    return processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", CLS_ID), ("[SEP]", SEP_ID)],
    )


def build_tokenizer(spec: dict, kind: str, training_texts: Iterable[str]) -> Tokenizer:
    """Train (bpe, text char) or construct (kmer, DNA char) a tokenizer for a corpus kind."""
    kind_error = InputError(f"tokenizer type '{spec['type']}' is not available for {kind} corpora")
    if spec["type"] == "bpe":
        tokenizer = Tokenizer(models.BPE(unk_token="[UNK]"))
        if kind == "text":
            tokenizer.normalizer = normalizers.NFC()
            # As GPT-2 and RoBERTa: no space is prefixed, so text round-trips exactly and the
            # pieces around a [MASK] are tokenised as in running text.
            tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
            tokenizer.decoder = decoders.ByteLevel()
            alphabet = pre_tokenizers.ByteLevel.alphabet()
        else:
            alphabet = list(DNA_ALPHABET)
        trainer = trainers.BpeTrainer(
            vocab_size=spec["vocab_size"],
            special_tokens=list(SPECIAL_TOKENS),
            initial_alphabet=alphabet,
            show_progress=False,
        )
        tokenizer.train_from_iterator(training_texts, trainer=trainer)
    elif spec["type"] == "kmer":
        if kind != "dna":
            raise kind_error
        k, stride = spec["k"], spec.get("stride", spec["k"])
        tokenizer = Tokenizer(models.WordLevel(_with_specials(kmer_vocabulary(k)), unk_token="[UNK]"))
        if stride == k:
            tokenizer.pre_tokenizer = pre_tokenizers.Split(Regex(f".{{1,{k}}}"), behavior="isolated")
        else:
            tokenizer.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    elif spec["type"] == "char":
        if kind == "dna":
            characters = list(DNA_ALPHABET)
        else:
            counts = collections.Counter()
            for text in training_texts:
                counts.update(text)
            limit = spec.get("vocab_size", 1024) - len(SPECIAL_TOKENS)
            characters = [c for c, _ in counts.most_common(limit)]
        tokenizer = Tokenizer(models.WordLevel(_with_specials(characters), unk_token="[UNK]"))
        tokenizer.pre_tokenizer = pre_tokenizers.Split(Regex("."), behavior="isolated")
    else:
        raise InputError(f"unknown tokenizer type '{spec['type']}' (known: bpe, kmer, char)")
    if kind == "dna":
        # Soft-masked (lower-case) bases are bases: the same tokens as upper case.
        tokenizer.normalizer = normalizers.Sequence([normalizers.Replace(b.lower(), b) for b in DNA_ALPHABET])
        overlapping = spec["type"] == "kmer" and spec.get("stride", spec["k"]) != spec["k"]
        if not overlapping:  # overlapping k-mers decode to their space-separated input form
            tokenizer.decoder = decoders.Fuse()
    tokenizer.post_processor = _post_processor()
    # As RoBERTa's: in "is [MASK]." the mask takes the space before it, as the word it hides did.
    tokenizer.add_special_tokens([AddedToken("[MASK]", lstrip=True, rstrip=False, normalized=False, special=True)])
    for i, token in enumerate(SPECIAL_TOKENS):
        if tokenizer.token_to_id(token) != i:
            raise AssertionError(f"special token {token} must have id {i}")
    return tokenizer


def save_tokenizer(
    tokenizer: Tokenizer, spec: dict, kind: str, directory: Path, model_max_length: int, provenance: dict | None = None
) -> None:
    """Write a transformers-loadable tokenizer directory atomically, with our spec (and the
    provenance record, if given) beside it."""
    from transformers import PreTrainedTokenizerFast

    fast = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
        model_max_length=model_max_length,
    )
    with atomic_path(directory, directory=True) as tmp:
        fast.save_pretrained(tmp)
        (tmp / SPEC_FILE).write_text(json.dumps({"kind": kind, **spec}, indent=2, sort_keys=True) + "\n")
        if provenance is not None:
            (tmp / "manifest.json").write_text(json.dumps(provenance, indent=2, sort_keys=True, default=str) + "\n")


class SequenceTokenizer:
    """A saved tokenizer plus the input convention of its type (k-merisation)."""

    def __init__(self, directory: str | Path):
        directory = Path(directory)
        if not (directory / "tokenizer.json").is_file():
            raise InputError(f"{directory}: no tokenizer.json (not a tokenizer directory)")
        self.directory = directory
        self.tokenizer = Tokenizer.from_file(str(directory / "tokenizer.json"))
        self.spec = json.loads((directory / SPEC_FILE).read_text())
        self.vocab_size = self.tokenizer.get_vocab_size()

    @property
    def overlapping_k(self) -> int | None:
        spec = self.spec
        return spec["k"] if spec["type"] == "kmer" and spec.get("stride", spec["k"]) != spec["k"] else None

    def characters_per_token(self) -> np.ndarray:
        """Characters of the input each token id stands for (0 for the special tokens): the
        token's length for BPE (bytes for byte-level text BPE) and char, the stride for k-mers
        (an overlapping k-mer advances one base). Converts bits per token into bits per character."""
        lengths = np.zeros(self.vocab_size, dtype=np.float64)
        for token, index in self.tokenizer.get_vocab(with_added_tokens=False).items():
            lengths[index] = len(token)
        if self.spec["type"] == "kmer":
            lengths[:] = self.spec.get("stride", self.spec["k"])
        lengths[: len(SPECIAL_TOKENS)] = 0.0
        return lengths

    def encode_texts(self, texts: list[str]) -> list[list[int]]:
        """Token ids without special tokens, batched through the Rust tokenizer."""
        if self.overlapping_k:
            texts = [kmerize(text, self.overlapping_k) for text in texts]
        return [encoding.ids for encoding in self.tokenizer.encode_batch(texts, add_special_tokens=False)]


def capped_texts(texts: Iterable[str], max_characters: int) -> Iterator[str]:
    """The first texts whose total length reaches max_characters (tokenizer training input)."""
    total = 0
    for text in texts:
        yield text
        total += len(text)
        if total >= max_characters:
            return
