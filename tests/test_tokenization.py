"""Tokenizers: round trips, vocabulary sizes, k-mer handling of N and trailing bases,
loading through transformers' AutoTokenizer."""

import numpy as np
import pytest
from transformers import AutoTokenizer

from seqens.errors import InputError
from seqens.tokenization import (
    SPECIAL_TOKENS,
    SequenceTokenizer,
    build_tokenizer,
    kmer_vocabulary,
    kmerize,
    save_tokenizer,
)

TEXT = [
    "The quick brown fox jumps over the lazy dog.",
    "Arabidopsis thaliana is a small flowering plant native to Eurasia and Africa.",
    "Wikipedia is a free online encyclopedia written and maintained by volunteers.",
] * 50


def dna(n, seed=0):
    return "".join(np.random.default_rng(seed).choice(list("ACGT"), size=n))


def saved(tmp_path, spec, kind, texts):
    directory = tmp_path / spec["type"]
    save_tokenizer(build_tokenizer(spec, kind, iter(texts)), spec, kind, directory, model_max_length=128)
    return directory


def test_special_tokens_have_fixed_ids_and_autotokenizer_loads(tmp_path):
    directory = saved(tmp_path, {"type": "bpe", "vocab_size": 300}, "text", TEXT)
    hf = AutoTokenizer.from_pretrained(directory)
    assert [hf.convert_tokens_to_ids(t) for t in SPECIAL_TOKENS] == [0, 1, 2, 3, 4]
    assert (hf.pad_token, hf.mask_token, hf.cls_token, hf.sep_token, hf.unk_token) == (
        "[PAD]", "[MASK]", "[CLS]", "[SEP]", "[UNK]")
    ids = hf("The lazy fox.")["input_ids"]
    assert ids[0] == 2 and ids[-1] == 3
    assert hf.decode(ids, skip_special_tokens=True).strip() == "The lazy fox."


def test_text_bpe_round_trip_and_vocab_size(tmp_path):
    tok = SequenceTokenizer(saved(tmp_path, {"type": "bpe", "vocab_size": 320}, "text", TEXT))
    assert tok.vocab_size == 320
    sentence = "Naïve plants grow quickly — über café!"
    ids = tok.encode_texts([sentence])[0]
    assert 1 not in ids  # byte-level: no [UNK]
    assert tok.tokenizer.decode(ids).strip() == sentence


def test_dna_bpe_round_trip(tmp_path):
    seqs = [dna(500, seed=i) for i in range(40)]
    tok = SequenceTokenizer(saved(tmp_path, {"type": "bpe", "vocab_size": 64}, "dna", seqs))
    assert tok.vocab_size == 64
    ids = tok.encode_texts([seqs[0]])[0]
    assert len(ids) < 500 and "".join(tok.tokenizer.id_to_token(i) for i in ids) == seqs[0]


def test_kmer_non_overlapping_handles_n_and_trailing_bases(tmp_path):
    tok = SequenceTokenizer(saved(tmp_path, {"type": "kmer", "k": 3, "stride": 3}, "dna", []))
    assert tok.vocab_size == 4**3 + 5
    vocab = tok.tokenizer.get_vocab()
    ids = tok.encode_texts(["ACGTTTANCGGG" + "AC"])[0]
    assert ids == [vocab["ACG"], vocab["TTT"], 1, vocab["GGG"], 1]  # ANC has N; trailing AC -> [UNK]
    hf = AutoTokenizer.from_pretrained(tok.directory)
    assert hf("ACGTTT")["input_ids"] == [2, vocab["ACG"], vocab["TTT"], 3]


def test_kmer_overlapping(tmp_path):
    tok = SequenceTokenizer(saved(tmp_path, {"type": "kmer", "k": 4, "stride": 1}, "dna", []))
    assert kmerize("ACGTAC", 4) == "ACGT CGTA GTAC"
    vocab = tok.tokenizer.get_vocab()
    assert tok.encode_texts(["ACGTAC"])[0] == [vocab["ACGT"], vocab["CGTA"], vocab["GTAC"]]
    assert len(kmer_vocabulary(4)) == 256


@pytest.mark.parametrize("kind, texts, expected", [("dna", [], 10), ("text", ["abcab", "cd"], 9)])
def test_char_tokenizers(tmp_path, kind, texts, expected):
    tok = SequenceTokenizer(saved(tmp_path, {"type": "char"}, kind, texts))
    assert tok.vocab_size == expected
    assert len(tok.encode_texts(["ACGTN" if kind == "dna" else "abcd"])[0]) == (5 if kind == "dna" else 4)


def test_unknown_type_and_kmer_on_text_are_errors():
    with pytest.raises(InputError, match="unknown tokenizer type 'wordpiece'"):
        build_tokenizer({"type": "wordpiece"}, "text", [])
    with pytest.raises(InputError, match="not available for text"):
        build_tokenizer({"type": "kmer", "k": 3}, "text", [])


def test_mask_token_takes_the_space_before_it_as_roberta_does(tmp_path):
    hf = AutoTokenizer.from_pretrained(saved(tmp_path, {"type": "bpe", "vocab_size": 300}, "text", TEXT))
    ids = hf("The dog is [MASK].", add_special_tokens=False)["input_ids"]
    assert ids[-2:] == [hf.mask_token_id, hf.convert_tokens_to_ids(".")]
    assert ids[-3] != hf.convert_tokens_to_ids("Ġ")  # no stray space token before the mask
    assert hf("The dog is lazy.", add_special_tokens=False)["input_ids"][: len(ids) - 2] == ids[:-2]


@pytest.mark.parametrize("text", ["The quick brown fox.", "  two  spaces, naïve über café!", "Line one\nline two"])
def test_text_decodes_to_its_input_exactly(tmp_path, text):
    tok = SequenceTokenizer(saved(tmp_path, {"type": "bpe", "vocab_size": 320}, "text", TEXT))
    assert tok.tokenizer.decode(tok.encode_texts([text])[0]) == text


@pytest.mark.parametrize("spec", [{"type": "bpe", "vocab_size": 64}, {"type": "char"}, {"type": "kmer", "k": 3}])
def test_dna_is_case_normalised_and_decodes_to_its_bases(tmp_path, spec):
    directory = saved(tmp_path, spec, "dna", [dna(500, seed=i) for i in range(40)])
    tok, hf = SequenceTokenizer(directory), AutoTokenizer.from_pretrained(directory)
    sequence = dna(30, seed=99) + ("NNN" if spec["type"] != "kmer" else "")  # a k-mer with N is [UNK]
    upper, lower = tok.encode_texts([sequence])[0], tok.encode_texts([sequence.lower()])[0]
    assert upper == lower and 1 not in upper
    assert hf.decode(hf(sequence.lower())["input_ids"], skip_special_tokens=True) == sequence
