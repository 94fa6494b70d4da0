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
