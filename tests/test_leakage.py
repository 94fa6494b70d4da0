"""The leakage audit: canonical k-mers against strings, planted repeats in both splits are
flagged (either strand) and nothing else is, k-grams never span a special token, the threshold."""

import numpy as np
import pandas as pd
import pytest

from seqens.leakage import canonical_kmers, dna_codes, hashed_kgrams, kept_sequences, shared_kgrams
from seqens.tokenization import SequenceTokenizer, build_tokenizer, save_tokenizer

CLS, SEP = 2, 3
COMPLEMENT = str.maketrans("ACGT", "TGCA")


def reverse_complement(sequence: str) -> str:
    return sequence.translate(COMPLEMENT)[::-1]


@pytest.fixture(scope="module")
def kmer_tokenizer(tmp_path_factory):
    directory = tmp_path_factory.mktemp("tok") / "kmer3"
    spec = {"type": "kmer", "k": 3, "stride": 3}
    save_tokenizer(build_tokenizer(spec, "dna", []), spec, "dna", directory, model_max_length=64)
    return SequenceTokenizer(directory)


def random_dna(rng, length: int) -> str:
    return "".join(rng.choice(list("ACGT"), size=length))


def rows_of(tokenizer, sequences: list[str], length: int = 64) -> np.ndarray:
    """One token row per sequence: [CLS] and its first length - 1 tokens."""
    ids = tokenizer.encode_texts(sequences)
    return np.array([[CLS, *row[: length - 1]] for row in ids], dtype=np.uint16)


def test_canonical_kmers_are_the_smaller_strand_and_skip_n():
    sequence = "ACGTTGCANACGGT"
    codes, _ = dna_codes([sequence])
    ends, keys = canonical_kmers(codes, 4)
    def code(kmer):
        return int(kmer.translate(str.maketrans("ACGT", "0123")), 4)
    expected = [(t, min(code(sequence[t - 3 : t + 1]), code(reverse_complement(sequence[t - 3 : t + 1]))))
                for t in range(3, len(sequence)) if "N" not in sequence[t - 3 : t + 1]]
    assert list(zip(ends.tolist(), keys.tolist())) == expected
    # 32-mers use all 64 bits: TTT...T is 4^32 - 1 forward, and its reverse complement AAA...A is 0.
    assert canonical_kmers(dna_codes(["T" * 32])[0], 32)[1].tolist() == [0]


def test_planted_repeats_in_both_splits_are_flagged_and_nothing_else(kmer_tokenizer):
    rng = np.random.default_rng(0)
    train_sequences = [random_dna(rng, 189) for _ in range(40)]  # 63 tokens of 3 bases each
    eval_sequences = [random_dna(rng, 189) for _ in range(10)]
    train = rows_of(kmer_tokenizer, train_sequences)
    clean = shared_kgrams("dna", rows_of(kmer_tokenizer, eval_sequences), train, tokenizer=kmer_tokenizer, k=32)
    assert (clean["kgrams"] == 189 - 31).all() and (clean["shared_kgrams"] == 0).all()

    planted = list(eval_sequences)
    planted[2] = train_sequences[5]  # a copy of a training window
    planted[6] = reverse_complement(train_sequences[11])  # the other strand of one
    planted[8] = eval_sequences[8][:99] + train_sequences[20][:90]  # 90 bp of one: 59 32-mers
    audit = shared_kgrams("dna", rows_of(kmer_tokenizer, planted), train, tokenizer=kmer_tokenizer, k=32, block_rows=7)
    assert audit.loc[[2, 6], "shared_fraction"].tolist() == [1.0, 1.0]
    assert audit.loc[8, "shared_kgrams"] == 90 - 31
    assert (audit.drop(index=[2, 6, 8])["shared_kgrams"] == 0).all()
    assert kept_sequences(audit, 0.5).tolist() == [i not in (2, 6) for i in range(10)]


def test_a_kgram_never_spans_a_special_token():
    train = np.array([[CLS, 10, 11, 12, 13, SEP, 14, 15, 16, 17]])
    joined = np.array([[CLS, 10, 11, 12, 13, 14, 15, 16, 17], [CLS, 20, 10, 11, 12, 13, 21, 22, 23]])
    audit = shared_kgrams("text", joined, train, tokenizer=None, k=4)
    # Row 0: 5 four-grams, two of them in training (10-13 and 14-17); row 1: one shared.
    assert audit["kgrams"].tolist() == [5, 5]
    assert audit["shared_kgrams"].tolist() == [2, 1]
    assert audit["shared_fraction"].tolist() == [0.4, 0.2]
    ends, keys = hashed_kgrams(np.array([CLS, 10, 11, SEP, 12]), 2)
    assert ends.tolist() == [2]


def test_the_special_ids_are_the_tokenizers_own():
    """The Nucleotide Transformer's layout has four specials: id 4 is a token, not a break."""
    train = np.array([[3, 4, 10, 11, 12]])
    audit = shared_kgrams("text", np.array([[3, 4, 10, 11, 12]]), train, tokenizer=None, k=4, n_special=4)
    assert audit["kgrams"].tolist() == audit["shared_kgrams"].tolist() == [1]
    assert shared_kgrams("text", np.array([[3, 4, 10, 11, 12]]), train, tokenizer=None, k=4)["kgrams"].tolist() == [0]


def test_hashes_tell_orders_and_contents_apart():
    rng = np.random.default_rng(1)
    ids = rng.integers(5, 1000, size=50_000)
    _, keys = hashed_kgrams(ids, 8)
    distinct_grams = len({tuple(ids[t - 7 : t + 1]) for t in range(7, len(ids))})
    assert len(np.unique(keys)) == distinct_grams
    assert hashed_kgrams(np.array([5, 6]), 2)[1][0] != hashed_kgrams(np.array([6, 5]), 2)[1][0]


def test_the_threshold_keeps_sequences_at_or_below_it_and_those_without_kgrams():
    audit = pd.DataFrame({"shared_fraction": [0.0, 0.5, 0.51, np.nan, 1.0]})
    assert kept_sequences(audit, None).all()
    assert kept_sequences(audit, 0.5).tolist() == [True, True, False, True, False]
    assert kept_sequences(audit, 0.0).tolist() == [True, False, False, True, False]


def test_evaluation_positions_are_drawn_from_the_kept_sequences_only(tmp_path):
    from seqens.positions import draw_bernoulli_positions, draw_eval_positions

    rng = np.random.default_rng(2)
    tokens = rng.integers(5, 50, size=(8, 12)).astype(np.uint16)
    tokens[:, 0] = CLS
    np.save(tmp_path / "eval.npy", tokens)
    kept = np.array([True, False, True, True, False, True, True, True])
    every = draw_eval_positions(tmp_path / "eval.npy", n_sequences=None, mask_fraction=0.25, seed=1)
    assert every.sequence_indices.tolist() == list(range(8))
    chosen = draw_eval_positions(tmp_path / "eval.npy", n_sequences=4, mask_fraction=0.25, seed=1, kept=kept)
    assert chosen.sequence_indices.tolist() == [0, 2, 3, 5]
    np.testing.assert_array_equal(chosen.input_ids, tokens[[0, 2, 3, 5]])
    assert (chosen.positions.sum(axis=1) == 3).all()
    paper = draw_bernoulli_positions(tmp_path / "eval.npy", n_sequences=None, probability=0.5, seed=1, stream=1,
                                     kept=kept)
    assert paper.sequence_indices.tolist() == [0, 2, 3, 5, 6, 7]


def test_too_few_kept_sequences_stop_with_one_line_naming_the_key(tmp_path):
    from seqens.errors import InputError
    from seqens.leakage import read_kept

    path = tmp_path / "leakage.csv"
    pd.DataFrame({"sequence": range(4), "shared_fraction": [0.0, 0.9, 0.8, 0.0],
                  "kept": [True, False, False, True]}).to_csv(path, index=False)
    assert read_kept(path, needed=2, max_shared_fraction=0.5).tolist() == [True, False, False, True]
    with pytest.raises(InputError) as error:
        read_kept(path, needed=3, max_shared_fraction=0.5)
    message = str(error.value)
    assert "extraction.leakage.max_shared_fraction: 2 of 4 evaluation sequences" in message and "\n" not in message


@pytest.mark.parametrize("spec", [{"type": "bpe", "vocab_size": 40}, {"type": "kmer", "k": 3, "stride": 3},
                                  {"type": "kmer", "k": 3, "stride": 1}, {"type": "char"}])
def test_token_rows_decode_to_the_bases_the_tokenizer_decodes(spec, tmp_path):
    from seqens.leakage import BaseTable, row_bases

    rng = np.random.default_rng(3)
    texts = [random_dna(rng, 300) + "NN" + random_dna(rng, 100) for _ in range(20)]
    save_tokenizer(build_tokenizer(spec, "dna", iter(texts)), spec, "dna", tmp_path / "tok", model_max_length=64)
    tokenizer = SequenceTokenizer(tmp_path / "tok")
    ids = tokenizer.encode_texts(texts)
    rows = np.array([[CLS, *row[:30], SEP, *row[30:59]] for row in ids])
    codes, starts = BaseTable(tokenizer).decode(rows)
    expected, expected_starts = dna_codes(row_bases(tokenizer, rows))
    np.testing.assert_array_equal(codes, expected)
    np.testing.assert_array_equal(starts, expected_starts)
