"""The special tokens of the study's tokenizers. A module of its own (no dependencies) so that
code that only reads token arrays, or only checks a config, needs no tokenizer or tensor
library.

A tokenizer's special tokens are always its first ids (0, 1, ...): every id at or past their
count is an ordinary token. Which special is which, and how a sequence is framed, is its
``SpecialLayout``: the project's own tokenizers share ``PROJECT`` ([PAD] [UNK] [CLS] [SEP]
[MASK] at 0-4; rows start with [CLS], documents end with [SEP]); the paper's tokenizers keep
their own, so that their ids are the paper's (``GFMS``, ``NT``).
"""

from __future__ import annotations

from dataclasses import dataclass

SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
PAD_ID, UNK_ID, CLS_ID, SEP_ID, MASK_ID = range(len(SPECIAL_TOKENS))


@dataclass(frozen=True)
class SpecialTokens:
    """The objectives' view of the special ids and the vocabulary size (``sep`` is None for a
    vocabulary without one)."""

    pad: int
    unk: int
    cls: int
    sep: int | None
    mask: int
    vocab_size: int

    @property
    def ids(self) -> tuple[int, ...]:
        return tuple(i for i in (self.pad, self.unk, self.cls, self.sep, self.mask) if i is not None)

    def maskable(self, input_ids):
        """True where a token is an ordinary token (none of the specials); works on tensors and
        arrays alike."""
        ordinary = input_ids != self.ids[0]
        for special_id in self.ids[1:]:
            ordinary = ordinary & (input_ids != special_id)
        return ordinary


@dataclass(frozen=True)
class SpecialLayout:
    """A vocabulary's special tokens (``tokens``, ids 0, 1, ... in order; ``roles`` names what
    each is: pad, unk, cls, sep, mask) and how a sequence is framed: ``starts_with_cls``, a row
    begins with the cls token; ``ends_with_sep``, a document's tokens end with the sep token
    (one row per document: the row's last token; packed rows: between documents)."""

    tokens: tuple[str, ...]
    roles: tuple[str, ...]
    starts_with_cls: bool
    ends_with_sep: bool

    @property
    def count(self) -> int:
        return len(self.tokens)

    def token(self, role: str) -> str | None:
        return self.tokens[self.roles.index(role)] if role in self.roles else None

    def special_tokens(self, vocab_size: int) -> SpecialTokens:
        ids = {role: i for i, role in enumerate(self.roles)}
        return SpecialTokens(ids["pad"], ids["unk"], ids["cls"], ids.get("sep"), ids["mask"], vocab_size)


PROJECT = SpecialLayout(SPECIAL_TOKENS, ("pad", "unk", "cls", "sep", "mask"), starts_with_cls=True, ends_with_sep=True)
# lbcb-sci/GFMs @277899c, src/train/tokenizer/tokenizer.py: _SPECIAL_TOKENS of its BPE, whose
# sequences (tokenizer(..., truncation=True), no post-processor) carry no [CLS] and no [SEP].
GFMS = SpecialLayout(
    ("<UNK>", "<PAD>", "<CLS>", "<SEP>", "<MASK>"), ("unk", "pad", "cls", "sep", "mask"),
    starts_with_cls=False, ends_with_sep=False,
)
# The Nucleotide Transformer's v1 vocabulary (instadeepai/nucleotide-transformer @2dc37b86,
# nucleotide_transformer/tokenizers.py StandardTokenizer: <unk> <pad> <mask> <cls> first; its
# <eos> <bos> come after the k-mers and are not among the released models' 4,105 ids). Its
# Hugging Face tokenizer prepends <cls> and appends nothing.
NT = SpecialLayout(("<unk>", "<pad>", "<mask>", "<cls>"), ("unk", "pad", "mask", "cls"), starts_with_cls=True, ends_with_sep=False)

LAYOUTS = {"gfms_bpe": GFMS, "nt_kmer": NT}


def layout_of(tokenizer_type: str) -> SpecialLayout:
    """The special layout of a tokenizer type (the config's ``tokenizers.*.type``)."""
    return LAYOUTS.get(tokenizer_type, PROJECT)


def special_tokens(vocab_size: int) -> SpecialTokens:
    """The special ids of the project's own tokenizers, for a vocabulary of ``vocab_size``."""
    return PROJECT.special_tokens(vocab_size)
