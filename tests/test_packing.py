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


def test_one_per_document_takes_each_documents_first_tokens_and_skips_short_ones(tmp_path, kmer_tokenizer):
    # 2-mers: "AC"=?, tokens per document = len/2; a row of 6 holds [CLS] + 4 tokens + [SEP].
    docs = ["ACGTACGTAAAA", "ACGT", "GGCCGGCCTT", "TTTTTTTT"]  # 6, 2 (too short), 5, 4 tokens
    stats = pack_sequences(iter(docs), kmer_tokenizer, tmp_path / "t.npy", n_sequences=3, length=6, what="x",
                           sampling="one_per_document")
    array = np.asarray(np.load(tmp_path / "t.npy"))
    expected = [kmer_tokenizer.encode_texts([d])[0][:4] for d in (docs[0], docs[2], docs[3])]
    assert (array[:, 0] == 2).all() and (array[:, -1] == 3).all()
    assert [list(row[1:-1]) for row in array] == expected
    assert stats.documents == 3 and stats.documents_skipped == 1
    assert stats.characters == round(12 * 4 / 6 + 10 * 4 / 5 + 8)


def test_one_per_document_names_the_shortfall(tmp_path, kmer_tokenizer):
    with pytest.raises(InputError, match="1 documents have at least 4 tokens .* 1 shorter ones skipped"):
        pack_sequences(iter(["ACGTACGT", "AC"]), kmer_tokenizer, tmp_path / "t.npy", n_sequences=2, length=6,
                       what="x", sampling="one_per_document")
