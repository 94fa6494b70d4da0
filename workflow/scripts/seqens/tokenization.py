"""Tokenizers for text and DNA, built with Hugging Face ``tokenizers`` and saved so that
``transformers.AutoTokenizer.from_pretrained(directory)`` loads them.

The project's own types (below) share five special tokens at ids 0-4: [PAD] [UNK] [CLS] [SEP]
[MASK]; their rows start with [CLS] and documents end with [SEP]. The paper's tokenizers,
``gfms_bpe`` and ``nt_kmer`` (seqens.paper_tokenizers), keep the paper's vocabularies, ids
and framing (seqens.special ``GFMS``, ``NT``).

- ``bpe``: byte-pair encoding trained on the training split only. Text uses byte-level
  pre-tokenisation (no unknown characters, no prefixed space: GPT-2 and RoBERTa style; the
  [MASK] token absorbs the space before it, as RoBERTa's does); DNA is one "word" per
  window, as in DNABERT-2, with the initial alphabet A C G T N.
- ``kmer``: the Nucleotide Transformer's (NT) k-mers, which the paper's k-mer models use
  (lbcb-sci/GFMs, src/train/tokenizer/tokenizer.py at commit 277899cd: ``load_6mer_tokenizer``
  loads InstaDeepAI/nucleotide-transformer-2.5b-multi-species). The vocabulary: the 4^k
  k-mers over A C G T, then the single nucleotides A C G T N; for k = 6, 4,101 tokens plus our
  5 specials = 4,106. (NT v1's 4,105 are the same 4,101 plus <unk> <pad> <mask> <cls>, in
  other ids: instadeepai/nucleotide-transformer at commit 2dc37b86,
  nucleotide_transformer/tokenizers.py ``NucleotidesKmersTokenizer`` and pretrained.py,
  ``len(tokenizer.vocabulary) - 2`` for v1; type ``nt_kmer`` has those ids.)
  Non-overlapping (stride k) splits as ``NucleotidesKmersTokenizer.tokenize`` does: the
  sequence is cut at each N, each N is one token, and each piece between Ns is cut into k-mers
  from its own start, its last bases that do not fill a k-mer being single nucleotides. That is
  greedy scanning (a k-mer where the next k characters are all A C G T, else one character),
  which is also how NT's Hugging Face tokenizer splits: "ACGTNACGTACG" -> A C G T N ACGTAC G,
  not a fixed frame of k (which would give A C G T N A CGTACG).
  Overlapping (stride 1, DNABERT-1 style): in each piece between Ns of at least k bases, the
  k-mer starting at each position; each N, and each piece shorter than k, as single
  nucleotides. The input must be written as space-separated tokens (``kmerize``), which
  ``encode_texts`` does for you; ``merge_kmers`` undoes it. Beware: with overlapping k-mers a
  masked token is recoverable from its neighbours.
- ``char``: one token per character; DNA has A C G T N, text the most frequent characters of
  the training split (up to vocab_size).

DNA tokenizers upper-case their input: soft-masked (lower-case) bases are bases, by design, so
they decode in upper case. For every DNA tokenizer, ``SequenceTokenizer.decode`` of
``encode_texts`` gives back any string over A C G T N (either case) upper-cased; any other
character is one [UNK].
"""

from __future__ import annotations

import collections
import dataclasses
import itertools
import json
import re
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np
from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

from .errors import InputError
from .io import atomic_path
from .paper_tokenizers import build_paper_tokenizer, cleaner
from .special import CLS_ID, LAYOUTS, SEP_ID, SPECIAL_TOKENS, SpecialLayout, SpecialTokens, layout_of
DNA_ALPHABET = "ACGTN"
SPEC_FILE = "seqens_tokenizer.json"


def kmer_vocabulary(k: int) -> list[str]:
    """The k-mer tokens' vocabulary: the 4^k k-mers over A C G T, then the single nucleotides
    that the k-mers do not already hold (A C G T N; for k = 1 only N)."""
    kmers = ["".join(p) for p in itertools.product("ACGT", repeat=k)]
    return kmers + [base for base in DNA_ALPHABET if base not in kmers]


def kmer_pieces(k: int) -> str:
    """The regex of the non-overlapping split (NT's): a k-mer where the next k characters are
    all A C G T, else one character."""
    return f"[ACGT]{{{k}}}|."


def kmerize(sequence: str, k: int) -> str:
    """The input form of overlapping (stride-1) k-mers, space separated: every k-mer of each
    run of A C G T at least k long; each other character, and each shorter run, one by one."""
    tokens = []
    for run in re.findall(f"[ACGT]{{{k},}}|.", sequence.upper()):
        if len(run) >= k:
            tokens.extend(run[i : i + k] for i in range(len(run) - k + 1))
        else:
            tokens.append(run)
    return " ".join(tokens)


def merge_kmers(tokens: Iterable[str], k: int) -> str:
    """The sequence behind overlapping-k-mer tokens (``kmerize``'s inverse): a k-mer right after
    a k-mer adds its last base, any other token itself. Two runs never touch (an N or a short
    piece lies between them), so this is unambiguous; an empty token ends a run."""
    bases, previous_was_kmer = [], False
    for token in tokens:
        is_kmer = len(token) == k
        bases.append(token[-1] if is_kmer and previous_was_kmer else token)
        previous_was_kmer = is_kmer
    return "".join(bases)


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
    """Train (bpe, gfms_bpe, text char) or construct (kmer, nt_kmer, DNA char) a tokenizer for a
    corpus kind."""
    if spec["type"] in LAYOUTS:
        return build_paper_tokenizer(spec, kind, training_texts)
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
            tokenizer.pre_tokenizer = pre_tokenizers.Split(Regex(kmer_pieces(k)), behavior="isolated")
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
        raise InputError(f"unknown tokenizer type '{spec['type']}' (known: bpe, kmer, char, gfms_bpe, nt_kmer)")
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

    layout = layout_of(spec["type"])
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        **{f"{role}_token": token for role, token in zip(layout.roles, layout.tokens)},
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
    def layout(self) -> SpecialLayout:
        """Its special tokens (always ids 0 .. count - 1) and how its rows are framed: by its
        type, or for a published tokenizer (type ``pretrained``), as its model saw them
        (``framing``, recorded by seqens.published)."""
        layout = layout_of(self.spec["type"])
        if "framing" not in self.spec:
            return layout
        tokens = tuple(self.tokenizer.id_to_token(i) for i in range(layout.count))
        return dataclasses.replace(layout, tokens=tokens, **self.spec["framing"])

    @property
    def special(self) -> SpecialTokens:
        return self.layout.special_tokens(self.vocab_size)

    @property
    def overlapping_k(self) -> int | None:
        spec = self.spec
        return spec["k"] if spec["type"] == "kmer" and spec.get("stride", spec["k"]) != spec["k"] else None

    def characters_per_token(self) -> np.ndarray:
        """Characters of the input each token id stands for (0 for the special tokens): the
        token's length for BPE (bytes for byte-level text BPE), char and non-overlapping k-mers
        (k for a k-mer, 1 for a single nucleotide); 1 for overlapping k-mers, each of which
        advances one base (the first k-mer of a run stands for k, so a run's first k - 1 bases
        go uncounted). Converts bits per token into bits per character."""
        lengths = np.zeros(self.vocab_size, dtype=np.float64)
        # A published WordPiece vocabulary marks a word's later pieces ("##ing": 3 characters).
        prefix = getattr(self.tokenizer.model, "continuing_subword_prefix", None) or ""
        for token, index in self.tokenizer.get_vocab(with_added_tokens=False).items():
            lengths[index] = len(token.removeprefix(prefix) if prefix else token)
        if self.overlapping_k:
            lengths[:] = 1.0
        lengths[: self.layout.count] = 0.0
        return lengths

    def encode_texts(self, texts: list[str]) -> list[list[int]]:
        """Token ids without special tokens, batched through the Rust tokenizer (the paper's
        tokenizers clean each text first, as the paper does)."""
        if self.spec["type"] in LAYOUTS:
            texts = [cleaner(self.spec["kind"])(text) for text in texts]
        if self.overlapping_k:
            texts = [kmerize(text, self.overlapping_k) for text in texts]
        return [encoding.ids for encoding in self.tokenizer.encode_batch(texts, add_special_tokens=False)]

    def decode(self, ids: Iterable[int]) -> str:
        """The input behind token ids, special tokens skipped (``encode_texts``'s inverse; DNA
        comes back upper-cased)."""
        if self.overlapping_k:
            # A special token decodes to nothing but still ends a run of k-mers.
            tokens = [self.tokenizer.id_to_token(i) if i >= len(SPECIAL_TOKENS) else "" for i in ids]
            return merge_kmers(tokens, self.overlapping_k)
        return self.tokenizer.decode(list(ids))


def capped_texts(texts: Iterable[str], max_characters: int) -> Iterator[str]:
    """The first texts whose total length reaches max_characters (tokenizer training input)."""
    total = 0
    for text in texts:
        yield text
        total += len(text)
        if total >= max_characters:
            return
