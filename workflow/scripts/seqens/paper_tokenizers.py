"""The paper's own tokenizers, built so that their ids are the paper's (config ``type``):

- ``gfms_bpe``: lbcb-sci/GFMs @277899c, src/train/tokenizer/tokenizer.py
  ``train_bpe_tokenizer``: character-level BPE (``BPE(unk_token='<UNK>')``, no byte-level
  alphabet) behind a ``Whitespace`` pre-tokenizer, trained with ``BpeTrainer(vocab_size,
  special_tokens=[<UNK>, <PAD>, <CLS>, <SEP>, <MASK>])`` on every document of the training
  split (``make_iterator_text`` / ``make_iterator_dna``: ``clean_text`` or ``clean_dna``,
  empty documents skipped), wrapped without a post-processor, so its sequences carry no
  <CLS> and no <SEP>. The paper uses it for text and for DNA BPE alike.
- ``nt_kmer``: the Nucleotide Transformer's k-mer tokenizer that the paper loads
  (``load_6mer_tokenizer``: InstaDeepAI/nucleotide-transformer-2.5b-multi-species, an
  ``EsmTokenizer``). Its vocabulary is NT v1's: <unk> <pad> <mask> <cls>, the 4^k k-mers in
  ``itertools.product('ATCG')`` order, then A T C G N (instadeepai/nucleotide-transformer
  @2dc37b86, nucleotide_transformer/tokenizers.py ``NucleotidesKmersTokenizer`` and
  constants.py; for k = 6, the released models' 4,105 ids). A sequence is cut at each N (a
  token of its own) and each piece into k-mers from its own start, its last bases that fill
  no k-mer one by one; <cls> is prepended, nothing appended.

Both apply the paper's cleaning before tokenising, at training and at packing, as its
``preprocess`` does (src/train/train.py): ``clean_text`` for text, ``clean_dna`` for DNA.
"""

from __future__ import annotations

import itertools
import re
from typing import Iterable, Iterator

from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, processors, trainers

from .errors import InputError
from .special import GFMS, NT

# lbcb-sci/GFMs @277899c, src/train/tokenizer/tokenizer.py, verbatim.
_ALLOWED_TEXT = r"[^a-zA-Z0-9\s.,;:!?\"'()\-–—/\\&%$€@#\[\]{}<>]+"
_ALLOWED_DNA = r"[^ACGTN]+"
NT_NUCLEOTIDES = "ATCG"  # instadeepai/nucleotide-transformer constants.py NUCLEOTIDES, in its order


def clean_text(s: str) -> str:
    """GFMs' ``clean_text``: non-breaking spaces and whitespace runs to one space, every run of
    characters outside its ASCII-like set to one space, stripped."""
    s = s.replace("\u00a0", " ")
    s = re.sub(r"\s+", " ", s)
    s = re.sub(_ALLOWED_TEXT, " ", s)
    return s.strip()


def clean_dna(s: str) -> str:
    """GFMs' ``clean_dna``: every run of characters other than A C G T N (lower case included)
    to one N, stripped."""
    s = re.sub(_ALLOWED_DNA, "N", s)
    return s.strip()


def cleaner(kind: str):
    """The paper's cleaning of a corpus kind."""
    return clean_text if kind == "text" else clean_dna


def cleaned_documents(texts: Iterable[str], kind: str) -> Iterator[str]:
    """GFMs' ``make_iterator_text`` / ``make_iterator_dna``: each document cleaned, the empty
    ones skipped."""
    clean = cleaner(kind)
    for text in texts:
        if not isinstance(text, str):
            continue
        text = clean(text)
        if text.strip():
            yield text


def nt_kmer_vocabulary(k: int) -> list[str]:
    """NT v1's vocabulary, specials first: ids 0 .. 4^k + 8."""
    kmers = ["".join(p) for p in itertools.product(NT_NUCLEOTIDES, repeat=k)]
    return [*NT.tokens, *kmers, *NT_NUCLEOTIDES, "N"]


def build_paper_tokenizer(spec: dict, kind: str, training_texts: Iterable[str]) -> Tokenizer:
    """Train ``gfms_bpe`` on the training split's documents, or build ``nt_kmer``."""
    if spec["type"] == "gfms_bpe":
        tokenizer = Tokenizer(models.BPE(unk_token=GFMS.token("unk")))
        tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
        trainer = trainers.BpeTrainer(
            vocab_size=spec["vocab_size"], special_tokens=list(GFMS.tokens), show_progress=False
        )
        tokenizer.train_from_iterator(cleaned_documents(training_texts, kind), trainer=trainer)
        if [tokenizer.id_to_token(i) for i in range(GFMS.count)] != list(GFMS.tokens):
            raise AssertionError(f"the specials must be ids 0-{GFMS.count - 1}, in GFMs' order")
        return tokenizer
    if spec["type"] == "nt_kmer":
        if kind != "dna":
            raise InputError(f"tokenizer type 'nt_kmer' is not available for {kind} corpora")
        k = spec["k"]
        vocab = {token: i for i, token in enumerate(nt_kmer_vocabulary(k))}
        tokenizer = Tokenizer(models.WordLevel(vocab, unk_token=NT.token("unk")))
        # Greedy: a k-mer where the next k characters are all A C G T, else one character. On
        # the cleaned alphabet this is NT's split at N into pieces, each cut from its start.
        tokenizer.pre_tokenizer = pre_tokenizers.Split(Regex(f"[ACGT]{{{k}}}|."), behavior="isolated")
        tokenizer.decoder = decoders.Fuse()
        cls = NT.token("cls")
        tokenizer.post_processor = processors.TemplateProcessing(
            single=f"{cls} $A", pair=f"{cls} $A $B:1", special_tokens=[(cls, vocab[cls])]
        )
        tokenizer.add_special_tokens(list(NT.tokens))
        return tokenizer
    raise ValueError(f"not a paper tokenizer type: {spec['type']!r}")
