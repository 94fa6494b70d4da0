"""Packed token arrays: exact budget, [CLS] rows, no padding, errors, statistics."""

import numpy as np
import pytest

from seqens.errors import InputError
from seqens.packing import pack_sequences, token_statistics
from seqens.tokenization import SequenceTokenizer, build_tokenizer, save_tokenizer


@pytest.fixture(scope="module")
def kmer_tokenizer(tmp_path_factory):
    directory = tmp_path_factory.mktemp("tok") / "kmer"
    spec = {"type": "kmer", "k": 2, "stride": 2}
    save_tokenizer(build_tokenizer(spec, "dna", []), spec, "dna", directory, model_max_length=16)
    return SequenceTokenizer(directory)


def test_pack_fills_exact_budget_without_padding(tmp_path, kmer_tokenizer):
    docs = ["ACGTACGTAC"] * 20  # 5 tokens + [SEP] each
    stats = pack_sequences(iter(docs), kmer_tokenizer, tmp_path / "t.npy", n_sequences=7, length=9, what="x")
    array = np.load(tmp_path / "t.npy", mmap_mode="r")
    assert array.shape == (7, 9) and array.dtype == np.uint16
    assert (array[:, 0] == 2).all() and not (array == 0).any()
    flat = np.asarray(array[:, 1:]).reshape(-1)
    assert (flat[5::6] == 3).all()  # a [SEP] after every 5 content tokens, across row boundaries
    assert stats.tokens == 63 and stats.documents == 10
    assert stats.characters == round(9 * 10 + 10 * 2 / 6)  # 56 slots: 9 whole documents, 2 of 6 tokens of the 10th


def test_budget_larger_than_corpus_is_an_error_and_leaves_nothing(tmp_path, kmer_tokenizer):
    with pytest.raises(InputError, match="gives 1 sequences of 9 tokens, the budget asks for 50"):
        pack_sequences(iter(["ACGTACGTAC"] * 2), kmer_tokenizer, tmp_path / "t.npy", n_sequences=50, length=9,
                       what="corpus 'c' / tokenizer 'k' / train split")
    assert list(tmp_path.iterdir()) == []


def test_token_statistics_entropy():
    tokens = np.array([[2, 5, 6, 5, 6], [2, 7, 8, 7, 8]])
    stats = token_statistics(tokens, vocab_size=10, characters=16)
    assert stats["vocab_used"] == 4 and stats["content_tokens"] == 8
    assert stats["unigram_entropy_bits_per_token"] == pytest.approx(2.0)
    assert stats["unigram_entropy_bits_per_char"] == pytest.approx(1.0)
