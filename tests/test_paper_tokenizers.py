"""The paper's tokenizers give the paper's ids: ``gfms_bpe`` against the steps of GFMs' own
``train_bpe_tokenizer`` and ``preprocess`` (lbcb-sci/GFMs @277899c, src/train/tokenizer/
tokenizer.py and src/train/train.py), reproduced here with ``tokenizers`` and
``transformers``; ``nt_kmer`` against the Nucleotide Transformer's Hugging Face tokenizer (an
``EsmTokenizer`` over NT v1's vocabulary: instadeepai/nucleotide-transformer @2dc37b86,
nucleotide_transformer/tokenizers.py and pretrained.py) and NT's own ``tokenize``."""

import copy
import itertools
import re

import numpy as np
import pytest
import yaml
from tokenizers import Tokenizer
from tokenizers.models import BPE
from tokenizers.pre_tokenizers import Whitespace
from tokenizers.trainers import BpeTrainer
from transformers import AutoTokenizer, EsmTokenizer, PreTrainedTokenizerFast

from seqens.config import ConfigError, Study
from seqens.errors import InputError
from seqens.packing import load_tokens, pack_sequences
from seqens.paper_tokenizers import clean_dna, clean_text
from seqens.tokenization import SequenceTokenizer, build_tokenizer, save_tokenizer

from conftest import REPO

# --- GFMs @277899c, src/train/tokenizer/tokenizer.py, copied verbatim (the reference) ---------
_UNK = '<UNK>'; _PAD = '<PAD>'; _CLS = '<CLS>'; _SEP = '<SEP>'; _MASK = '<MASK>'  # noqa: E702
_SPECIAL_TOKENS = [_UNK, _PAD, _CLS, _SEP, _MASK]
_ALLOWED_TEXT = r"[^a-zA-Z0-9\s.,;:!?\"'()\-–—/\\&%$€@#\[\]{}<>]+"
_ALLOWED_DNA = r"[^ACGTN]+"


def gfms_train_bpe_tokenizer(iterator, vocab_size):
    tokenizer = Tokenizer(BPE(unk_token=_UNK))
    tokenizer.pre_tokenizer = Whitespace()
    trainer = BpeTrainer(vocab_size=vocab_size, special_tokens=_SPECIAL_TOKENS)
    tokenizer.train_from_iterator(iterator(), trainer=trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, unk_token=_UNK, pad_token=_PAD, cls_token=_CLS, sep_token=_SEP, mask_token=_MASK
    )


def gfms_clean_text(s):
    s = s.replace("\u00a0", " ")
    s = re.sub(r"\s+", " ", s)
    s = re.sub(_ALLOWED_TEXT, " ", s)
    return s.strip()


def gfms_clean_dna(s):
    s = re.sub(_ALLOWED_DNA, "N", s)
    return s.strip()


def gfms_make_iterator(dataset, clean):
    def iterator():
        for example in dataset:
            text = example["text"]
            if not isinstance(text, str): continue  # noqa: E701
            text = clean(text)
            if text.strip(): yield text  # noqa: E701

    return iterator
# -----------------------------------------------------------------------------------------------

WORDS = tuple(("plant genome café naïve “quoted” — dash 50% €3 [note] {x} <b> über fox jumps Zürich "
         "São Paulo 東京 e-mail @home #tag ; : ! ? (a) ñ ß ø α β γ").split())


def documents(n, seed=0):
    """Text with every case clean_text handles: words the BPE learns, characters it drops,
    non-breaking and other whitespace."""
    rng = np.random.default_rng(seed)
    invented = ["".join(rng.choice(list("etaoinshrdlucmfwyp"), size=rng.integers(2, 9))) for _ in range(300)]
    words = WORDS + tuple(invented)
    spaces = [" ", "  ", "\u00a0", "\n", "\t", " \u2003 "]
    return [
        "".join(f"{rng.choice(words)}{rng.choice(spaces)}" for _ in range(rng.integers(40, 120)))
        for _ in range(n)
    ] + ["   ", "\u00a0東京\u00a0"]  # empty once cleaned: skipped by the paper's iterator


def dna_documents(n, length, seed=0):
    rng = np.random.default_rng(seed)
    return ["".join(rng.choice(list("ACGTACGTACGTN"), size=length)) for _ in range(n)]


def saved(tmp_path, spec, kind, texts):
    directory = tmp_path / spec["type"]
    save_tokenizer(build_tokenizer(spec, kind, iter(texts)), spec, kind, directory, model_max_length=512)
    return directory


def test_clean_text_and_clean_dna_are_the_papers():
    samples = documents(20, seed=5) + ["a\u00a0\u00a0b\t\tc € ü —", "", "ä"]
    assert [clean_text(s) for s in samples] == [gfms_clean_text(s) for s in samples]
    dna = ["ACGTNNacgtRYACGT", " ACG\nT ", "xyz"]
    assert [clean_dna(s) for s in dna] == [gfms_clean_dna(s) for s in dna] == ["ACGTNNNACGT", "NACGNTN", "N"]  # spaces too


@pytest.mark.parametrize("kind", ["text", "dna"])
def test_gfms_bpe_has_the_vocabulary_and_ids_of_the_papers_own_tokenizer(tmp_path, kind):
    texts = documents(200, seed=1) if kind == "text" else dna_documents(60, 900, seed=1)
    clean = gfms_clean_text if kind == "text" else gfms_clean_dna
    vocab_size = 400 if kind == "text" else 120
    paper = gfms_train_bpe_tokenizer(gfms_make_iterator([{"text": t} for t in texts], clean), vocab_size=vocab_size)
    directory = saved(tmp_path, {"type": "gfms_bpe", "vocab_size": vocab_size}, kind, texts)
    ours = SequenceTokenizer(directory)
    assert ours.tokenizer.get_vocab() == paper.get_vocab() and ours.vocab_size == paper.vocab_size == vocab_size
    assert [ours.tokenizer.id_to_token(i) for i in range(5)] == _SPECIAL_TOKENS
    held_out = documents(30, seed=2) if kind == "text" else dna_documents(10, 900, seed=2)
    # The paper's preprocess: clean, then tokenizer(cleaned, truncation=True, max_length=...).
    expected = paper([clean(t) for t in held_out], truncation=True, max_length=10_000, padding=False)["input_ids"]
    assert ours.encode_texts(held_out) == expected
    loaded = AutoTokenizer.from_pretrained(directory)  # the saved directory tokenises as the paper's does
    assert loaded([clean(t) for t in held_out], truncation=True, max_length=64)["input_ids"] == [e[:64] for e in expected]
    assert (loaded.unk_token_id, loaded.pad_token_id, loaded.cls_token_id, loaded.mask_token_id) == (0, 1, 2, 4)


def test_gfms_bpe_rows_are_the_papers_truncated_sequences_without_cls_or_sep(tmp_path):
    texts = documents(100, seed=3)
    paper = gfms_train_bpe_tokenizer(gfms_make_iterator([{"text": t} for t in texts], gfms_clean_text), vocab_size=300)
    tokenizer = SequenceTokenizer(saved(tmp_path, {"type": "gfms_bpe", "vocab_size": 300}, "text", texts))
    rows = tmp_path / "rows.npy"
    pack_sequences(texts, tokenizer, rows, n_sequences=20, length=32, what="test", sampling="one_per_document")
    expected = paper([gfms_clean_text(t) for t in texts[:20]], truncation=True, max_length=32)["input_ids"]
    assert load_tokens(rows).tolist() == expected  # every document here is longer than 32 tokens
    # Packed (not the paper's sampling): no [CLS], documents joined by its <SEP> (id 3).
    packed = tmp_path / "packed.npy"
    pack_sequences(texts, tokenizer, packed, n_sequences=40, length=32, what="test")
    joined = [i for t in texts for i in [*paper(gfms_clean_text(t))["input_ids"], 3]]
    assert load_tokens(packed).reshape(-1).tolist() == joined[: 40 * 32] and 3 in joined[: 40 * 32]


def nt_hugging_face_tokenizer(tmp_path, k=6):
    """InstaDeepAI/nucleotide-transformer-2.5b-multi-species's tokenizer, built offline: an
    EsmTokenizer without <eos> (transformers PR #22770) over NT v1's ids 0..4104 (the model's
    alphabet_size = len(vocabulary) - 2: <unk> <pad> <mask> <cls>, the k-mers, A T C G N)."""
    kmers = ["".join(p) for p in itertools.product("ATCG", repeat=k)]
    vocab_file = tmp_path / "vocab.txt"
    vocab_file.write_text("\n".join(["<unk>", "<pad>", "<mask>", "<cls>", *kmers, "A", "T", "C", "G", "N"]) + "\n")
    return EsmTokenizer(str(vocab_file), eos_token=None)


def nt_tokenize(sequence, k):
    """instadeepai/nucleotide-transformer @2dc37b86, NucleotidesKmersTokenizer.tokenize."""
    tokens = []
    pieces = sequence.split("N")
    for i, split in enumerate(pieces):
        chunks = [split[j * k: (j + 1) * k] for j in range(len(split) // k)]
        if len(split) % k != 0:
            chunks.append(split[(len(split) // k) * k:])
        for chunk in chunks:
            tokens.extend([chunk] if len(chunk) == k else list(chunk))
        if i < len(pieces) - 1:
            tokens.append("N")
    return tokens


def random_dna(rng):
    runs = [rng.choice(list("ACGT" if i % 2 == 0 else "N"), size=rng.integers(0, 40 if i % 2 == 0 else 3))
            for i in range(rng.integers(1, 8))]
    return "".join("".join(run) for run in runs)


def test_nt_kmer_has_the_nucleotide_transformers_4105_ids_in_its_order(tmp_path):
    hf = nt_hugging_face_tokenizer(tmp_path)
    tokenizer = SequenceTokenizer(saved(tmp_path, {"type": "nt_kmer", "k": 6, "stride": 6}, "dna", []))
    assert tokenizer.vocab_size == hf.vocab_size == 4_105
    assert tokenizer.tokenizer.get_vocab() == hf.get_vocab()
    assert [tokenizer.tokenizer.id_to_token(i) for i in (0, 3, 4, 5, 4_099, 4_100, 4_104)] == [
        "<unk>", "<cls>", "AAAAAA", "AAAAAT", "GGGGGG", "A", "N"]
    special = tokenizer.special
    assert (special.unk, special.pad, special.mask, special.cls, special.sep) == (0, 1, 2, 3, None)


def test_nt_kmer_tokenises_as_the_nucleotide_transformer_and_round_trips_with_tails_and_n(tmp_path):
    hf = nt_hugging_face_tokenizer(tmp_path)
    directory = saved(tmp_path, {"type": "nt_kmer", "k": 6, "stride": 6}, "dna", [])
    tokenizer, loaded = SequenceTokenizer(directory), AutoTokenizer.from_pretrained(directory)
    rng = np.random.default_rng(7)
    sequences = ["ACGTNACGTACG", "A" * 21, "N", "NNACGTAC", "ACGTACGTACGTA"] + [random_dna(rng) for _ in range(300)]
    for sequence in sequences:
        ids = tokenizer.encode_texts([sequence])[0]
        assert hf(sequence)["input_ids"] == loaded(sequence)["input_ids"] == [3, *ids], sequence  # <cls> first
        assert [tokenizer.tokenizer.id_to_token(i) for i in ids] == nt_tokenize(sequence, 6), sequence
        assert 0 not in ids and tokenizer.decode([3, *ids]) == sequence, sequence  # no <unk>; tails are bases
    assert len(tokenizer.encode_texts(["A" * 21])[0]) == 3 + 3


def test_nt_kmer_rows_are_cls_and_the_first_511_tokens_and_cannot_be_packed(tmp_path):
    hf = nt_hugging_face_tokenizer(tmp_path)
    tokenizer = SequenceTokenizer(saved(tmp_path, {"type": "nt_kmer", "k": 6, "stride": 6}, "dna", []))
    windows = dna_documents(6, 4_096, seed=4)
    rows = tmp_path / "rows.npy"
    pack_sequences(windows, tokenizer, rows, n_sequences=6, length=512, what="test", sampling="one_per_document")
    assert load_tokens(rows).tolist() == hf(windows, truncation=True, max_length=512)["input_ids"]
    with pytest.raises(InputError, match="no separator token"):
        pack_sequences(windows, tokenizer, tmp_path / "packed.npy", n_sequences=2, length=512, what="test")


def test_a_config_refuses_nt_kmer_for_text_overlapping_or_packed():
    demo_config = copy.deepcopy(yaml.safe_load((REPO / "config" / "config.yaml").read_text()))
    demo_config["tokenizers"]["kmer6"] = {"type": "nt_kmer", "k": 6}
    with pytest.raises(ConfigError, match="one_per_document"):
        Study(demo_config)
    demo_config["data"]["sampling"] = "one_per_document"
    demo_config["tokenizers"]["kmer6"]["stride"] = 1
    with pytest.raises(ConfigError, match="do not overlap"):
        Study(demo_config)
    demo_config["tokenizers"]["kmer6"]["stride"] = 6
    demo_config["conditions"].append({"corpus": "wiki", "tokenizer": "kmer6"})
    with pytest.raises(ConfigError, match="needs a dna corpus"):
        Study(demo_config)
