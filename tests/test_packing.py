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


def packable_sequences(texts, tokenizer, length, sampling):
    """How many sequences pack_sequences fills from the texts (its two ways of cutting rows)."""
    lengths = [len(ids) for ids in tokenizer.encode_texts(texts)]
    if sampling == "one_per_document":
        return sum(n >= length - 2 for n in lengths)
    return sum(n + 1 for n in lengths) // (length - 1)


def test_a_budget_the_corpus_cannot_fill_is_refused_before_the_tokenizer_trains(tmp_path):
    """The bound never falls below what packing fills, so the early refusal never refuses a
    budget packing could fill; for k-mers it is exact without N, and with an N in every
    third base (each N then adds k - 1 tokens)."""
    from seqens.packing import check_budget_fits, most_sequences
    from seqens.prepare import prepare_dna, prepare_text, read_split

    rng = np.random.default_rng(0)
    bases = rng.choice(list("ACGT"), 3000)
    genomes = {"plain": "".join(bases), "some_n": "".join(np.where(rng.random(3000) < 0.04, "N", bases)),
               "every_third_n": "ACN" * 1000}
    for name, genome in genomes.items():
        (tmp_path / f"{name}.fa").write_text(f">c\n{genome}\n")
        prepare_dna(name, [tmp_path / f"{name}.fa"], tmp_path / name, window=50, softmask="upper",
                    max_n_fraction=0.5, eval_block=2, eval_fraction=0.3, seed=1)
    text = tmp_path / "t.txt"
    text.write_text("\n\n".join(f"Document {i}: déjà vu, naïve café {'word ' * (i % 7)}." for i in range(60)))
    prepare_text("t", [text], tmp_path / "text", fmt="text", field=None, eval_fraction=0.3, seed=1)
    kmers = [{"type": "kmer", "k": 3, "stride": 3}, {"type": "kmer", "k": 3, "stride": 1}]
    cases = [  # prepared corpus, kind, tokenizer, whether the bound is the number packing fills
        *((corpus, "dna", spec, corpus != "some_n") for corpus in genomes for spec in kmers),
        ("some_n", "dna", {"type": "char"}, True), ("some_n", "dna", {"type": "bpe", "vocab_size": 40}, False),
        ("text", "text", {"type": "char"}, False), ("text", "text", {"type": "bpe", "vocab_size": 300}, False),
    ]
    for corpus, kind, spec, exact in cases:
        split = tmp_path / corpus / "train.txt"
        texts = list(read_split(split))
        directory = tmp_path / "tokenizers" / f"{corpus}-{spec['type']}-{spec.get('stride')}"
        save_tokenizer(build_tokenizer(spec, kind, texts), spec, kind, directory, model_max_length=64)
        tokenizer = SequenceTokenizer(directory)
        for length, sampling in ((12, "packed"), (40, "packed"), (12, "one_per_document")):
            most, _ = most_sequences(split, spec, 50, length, sampling)
            packable = packable_sequences(texts, tokenizer, length, sampling)
            pack = dict(length=length, sampling=sampling, what="x")
            pack_sequences(iter(texts), tokenizer, tmp_path / "t.npy", n_sequences=packable, **pack)
            with pytest.raises(InputError):
                pack_sequences(iter(texts), tokenizer, tmp_path / "t.npy", n_sequences=packable + 1, **pack)
            assert most == packable if exact and sampling == "packed" else most >= packable, (corpus, spec, length)
    data = {"sequence_length": 12, "sampling": "packed", "train_sequences": 1, "eval_sequences": 1}
    splits = {"train": tmp_path / "plain" / "train.txt", "eval": tmp_path / "plain" / "eval.txt"}
    check_budget_fits(splits, data, kmers[0], 50, "g-kmer3")
    most, _ = most_sequences(splits["eval"], kmers[0], 50, 12, "packed")
    with pytest.raises(InputError) as refused:
        check_budget_fits(splits, {**data, "eval_sequences": most + 1}, kmers[0], 50, "g-kmer3")
    assert str(refused.value).startswith(
        f"condition g-kmer3, eval split: at most {most:,} sequences of 12 tokens (data.sampling: packed), the budget "
        f"asks for {most + 1:,} (data.eval_sequences): its "
    ) and "windows of 50 bp give 18 3-mer tokens each without N, and each of its 0 N at most 2 more; lower" \
        in str(refused.value)
