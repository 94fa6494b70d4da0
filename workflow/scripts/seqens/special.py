"""The special tokens every tokenizer of the study shares, at fixed ids. A module of its own
(no dependencies) so that code that only reads token arrays needs no tokenizer library."""

SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
PAD_ID, UNK_ID, CLS_ID, SEP_ID, MASK_ID = range(len(SPECIAL_TOKENS))
