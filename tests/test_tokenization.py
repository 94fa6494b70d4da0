"""Tokenizers: round trips, vocabulary sizes, k-mer handling of N and trailing bases (the
Nucleotide Transformer's, which the paper's k-mer models use: lbcb-sci/GFMs at 277899cd,
src/train/tokenizer/tokenizer.py; instadeepai/nucleotide-transformer at 2dc37b86,
nucleotide_transformer/tokenizers.py), loading through transformers' AutoTokenizer."""

import numpy as np
import pytest
from transformers import AutoTokenizer

from seqens.config import kmer_tokens_at_least, vocabulary_bound
from seqens.errors import InputError
from seqens.special import CLS_ID, SEP_ID, UNK_ID
from seqens.tokenization import (
    SPECIAL_TOKENS,
    SequenceTokenizer,
    build_tokenizer,
    kmer_vocabulary,
    kmerize,
    merge_kmers,
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


def test_kmer_vocabulary_is_the_specials_then_the_kmers_then_single_nucleotides(tmp_path):
    tok = SequenceTokenizer(saved(tmp_path, {"type": "kmer", "k": 6, "stride": 6}, "dna", []))
    assert tok.vocab_size == 4_106  # NT's 4,105 less its 4 specials, plus our 5
    tokens = [tok.tokenizer.id_to_token(i) for i in range(tok.vocab_size)]
    assert tokens[:5] == list(SPECIAL_TOKENS)
    assert tokens[5:7] == ["AAAAAA", "AAAAAC"] and tokens[4_100] == "TTTTTT"
    assert tokens[4_101:] == ["A", "C", "G", "T", "N"]
    assert kmer_vocabulary(1) == ["A", "C", "G", "T", "N"] and len(kmer_vocabulary(4)) == 256 + 5


@pytest.mark.parametrize("k, sequence, expected", [
    # instadeepai/nucleotide-transformer at 2dc37b86, docs/nucleotide_transformer.md, "Tokenization"
    (6, "ACGTGTACGTGCACGGACGACTAGTCAGCA", "ACGTGT ACGTGC ACGGAC GACTAG TCAGCA"),
    (6, "ACGTGTACNTGCACGGANCGACTAGTCTGA", "ACGTGT A C N TGCACG G A N CGACTA GTCTGA"),
    # the same repository, nucleotide_transformer/tokenizers.py, NucleotidesKmersTokenizer.tokenize
    (5, "ATCGAATGGCGATGCAC", "ATCGA ATGGC GATGC A C"),
    (5, "ATCGAATNGGCGATGCAC", "ATCGA A T N GGCGA TGCAC"),
    # greedy from each N, not a fixed frame of k (which would give A C G T N A CGTACG)
    (6, "ACGTNACGTACG", "A C G T N ACGTAC G"),
    (6, "A" * 21, "AAAAAA AAAAAA AAAAAA A A A"),
])
def test_non_overlapping_kmers_split_as_the_nucleotide_transformer_does(tmp_path, k, sequence, expected):
    directory = saved(tmp_path, {"type": "kmer", "k": k, "stride": k}, "dna", [])
    tok, hf = SequenceTokenizer(directory), AutoTokenizer.from_pretrained(directory)
    assert [tok.tokenizer.id_to_token(i) for i in tok.encode_texts([sequence])[0]] == expected.split()
    assert hf.tokenize(sequence) == expected.split()


def test_a_21_base_sequence_decodes_to_its_21_bases_without_unk(tmp_path):
    tok = SequenceTokenizer(saved(tmp_path, {"type": "kmer", "k": 6, "stride": 6}, "dna", []))
    sequence = dna(21, seed=21)
    ids = tok.encode_texts([sequence])[0]
    assert len(ids) == 3 + 3 and UNK_ID not in ids
    assert tok.decode(ids) == sequence


def test_overlapping_kmers_keep_n_and_short_runs_as_single_nucleotides(tmp_path):
    tok = SequenceTokenizer(saved(tmp_path, {"type": "kmer", "k": 4, "stride": 1}, "dna", []))
    assert kmerize("ACGTAC", 4) == "ACGT CGTA GTAC"
    assert kmerize("ACGTANNACGnac", 4) == "ACGT CGTA N N A C G N A C"
    assert kmerize("AC", 4) == "A C" and kmerize("", 4) == ""
    vocab = tok.tokenizer.get_vocab()
    assert tok.encode_texts(["ACGTAC"])[0] == [vocab["ACGT"], vocab["CGTA"], vocab["GTAC"]]
    assert merge_kmers(["ACGT", "CGTA", "N", "A", "C", "G", "N", "ACGT"], 4) == "ACGTANACGNACGT"
    assert tok.decode([CLS_ID, vocab["ACGT"], SEP_ID, vocab["CGTA"]]) == "ACGTCGTA"  # a special ends a run


DNA_SPECS = [
    {"type": "kmer", "k": 6, "stride": 6},
    {"type": "kmer", "k": 3, "stride": 3},
    {"type": "kmer", "k": 1, "stride": 1},
    {"type": "kmer", "k": 6, "stride": 1},
    {"type": "kmer", "k": 2, "stride": 1},
    {"type": "char"},
    {"type": "bpe", "vocab_size": 64},
]


@pytest.mark.parametrize("spec", DNA_SPECS, ids=lambda spec: "-".join(map(str, spec.values())))
def test_every_dna_string_decodes_to_itself_upper_cased(tmp_path, spec):
    tok = SequenceTokenizer(saved(tmp_path, spec, "dna", [dna(500, seed=i) for i in range(40)]))
    rng = np.random.default_rng(19)
    for _ in range(300):
        # runs of bases and of N, in either case (soft-masked bases are upper-cased by design)
        runs = [rng.choice(list("ACGT" if i % 2 == 0 else "N"), size=rng.integers(0, 30 if i % 2 == 0 else 4))
                for i in range(rng.integers(1, 8))]
        sequence = "".join("".join(run) for run in runs)
        if rng.random() < 0.3:
            sequence = sequence.lower()
        ids = tok.encode_texts([sequence])[0]
        assert UNK_ID not in ids and tok.decode(ids) == sequence.upper(), sequence


def test_non_overlapping_kmers_count_the_bases_each_token_stands_for(tmp_path):
    tok = SequenceTokenizer(saved(tmp_path, {"type": "kmer", "k": 6, "stride": 6}, "dna", []))
    lengths = tok.characters_per_token()
    assert (lengths[:5] == 0).all() and (lengths[5:4_101] == 6).all() and (lengths[4_101:] == 1).all()
    sequence = "ACGTNACGTACG" + dna(40, seed=3) + "NN" + "ACG"
    assert lengths[tok.encode_texts([sequence])[0]].sum() == len(sequence)  # bits per base stay right
    overlapping = SequenceTokenizer(saved(tmp_path / "o", {"type": "kmer", "k": 4, "stride": 1}, "dna", []))
    assert (overlapping.characters_per_token()[5:] == 1).all()


@pytest.mark.parametrize("k, stride", [(1, 1), (3, 3), (6, 6), (4, 1)])
def test_the_configs_kmer_bounds_match_the_built_tokenizer(tmp_path, k, stride):
    spec = {"type": "kmer", "k": k, "stride": stride}
    tok = SequenceTokenizer(saved(tmp_path, spec, "dna", []))
    assert vocabulary_bound(spec, "dna") == tok.vocab_size
    for window in (1, 3, 7, 20, 30):
        fewest = min(len(tok.encode_texts([text])[0]) for text in (dna(window, seed=window), "N" * window))
        assert kmer_tokens_at_least(window, k, stride) == fewest


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
    sequence = dna(30, seed=99) + "NNN"
    upper, lower = tok.encode_texts([sequence])[0], tok.encode_texts([sequence.lower()])[0]
    assert upper == lower and 1 not in upper
    assert hf.decode(hf(sequence.lower())["input_ids"], skip_special_tokens=True) == sequence
