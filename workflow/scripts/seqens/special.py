"""The special tokens every tokenizer of the study shares, at fixed ids. A module of its own
(no dependencies) so that code that only reads token arrays, or only checks a config, needs
no tokenizer or tensor library."""

from __future__ import annotations

from dataclasses import dataclass

SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
PAD_ID, UNK_ID, CLS_ID, SEP_ID, MASK_ID = range(len(SPECIAL_TOKENS))


@dataclass(frozen=True)
class SpecialTokens:
    """The objectives' view of the special ids and the vocabulary size."""

    pad: int
    unk: int
    cls: int
    sep: int
    mask: int
    vocab_size: int

    @property
    def ids(self) -> tuple[int, ...]:
        return (self.pad, self.unk, self.cls, self.sep, self.mask)

    def maskable(self, input_ids):
        """True where a token is an ordinary token (none of the five specials); works on
        tensors and arrays alike."""
        ordinary = input_ids != self.ids[0]
        for special_id in self.ids[1:]:
            ordinary = ordinary & (input_ids != special_id)
        return ordinary


def special_tokens(vocab_size: int) -> SpecialTokens:
    """The special ids of every tokenizer here, for a vocabulary of ``vocab_size`` entries."""
    return SpecialTokens(pad=PAD_ID, unk=UNK_ID, cls=CLS_ID, sep=SEP_ID, mask=MASK_ID, vocab_size=vocab_size)
