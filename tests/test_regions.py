"""Learning by genomic region: packed tokens read back to their bases, region classes from
hand-placed features on both strands and a hand-placed soft-mask, per-region metrics against
hand values, and the one-line refusals of an annotation or FASTA that cannot give them."""

import gzip

import numpy as np
import pandas as pd
import pytest

from seqens.comparisons.intervals import MemberValues, PairValues
from seqens.comparisons.regions import compare_regions
from seqens.config import Condition, Ensemble
from seqens.errors import InputError
from seqens.positions import EvalPositions
from seqens.probes.examples import read_features
from seqens.regions import position_regions, token_classes, token_spans
from seqens.special import CLS_ID, SEP_ID, SPECIAL_TOKENS

SPECIALS = list(SPECIAL_TOKENS)

# chr1, 1-based GFF: gene g1 on + (bases 0-29 0-based: UTR 0-2, CDS 3-9, intron 10-19, CDS
# 20-25, UTR 26-29), gene g2 on - (bases 40-49, all CDS); the rest intergenic.
GFF = """##gff-version 3
chr1\tx\tgene\t1\t30\t.\t+\t.\tID=g1
chr1\tx\tmRNA\t1\t30\t.\t+\t.\tID=m1;Parent=g1
chr1\tx\texon\t1\t10\t.\t+\t.\tParent=m1
chr1\tx\texon\t21\t30\t.\t+\t.\tParent=m1
chr1\tx\tCDS\t4\t10\t.\t+\t0\tParent=m1
chr1\tx\tCDS\t21\t26\t.\t+\t0\tParent=m1
chr1\tx\tgene\t41\t50\t.\t-\t.\tID=g2
chr1\tx\tmRNA\t41\t50\t.\t-\t.\tID=m2;Parent=g2
chr1\tx\texon\t41\t50\t.\t-\t.\tParent=m2
chr1\tx\tCDS\t41\t50\t.\t-\t0\tParent=m2
"""
# 60 bases, soft-masked (lower case) at 40-49: the minus-strand gene.
GENOME = "ACGTACGTTA" "CCGGAATTCA" "GATCGATCAA" "TTGGCCAATT" "acgtacgtac" "GGATCCGATC"


def features_of(text, tmp_path):
    """The features on chr1 of a GFF written with ``text``."""
    path = tmp_path / "genes.gff"
    path.write_text(text)
    return read_features(path, "athal", what="corpus")["chr1"]


def test_a_token_takes_the_class_most_of_its_bases_have_ties_to_the_first_named(tmp_path):
    starts = np.array([0, 3, 8, 9, 28, 12])
    ends = np.array([3, 6, 12, 13, 32, 18])
    region, _ = token_classes(starts, ends, features_of(GFF, tmp_path), None)
    names = np.array(["CDS", "UTR", "intron", "intergenic", "other"])[region]
    # (8, 12): 2 CDS + 2 intron, a tie: CDS, named first; (28, 32): 2 UTR + 2 intergenic: UTR.
    assert list(names) == ["UTR", "CDS", "CDS", "intron", "UTR", "intron"]


def test_minus_strand_features_and_the_soft_mask_classify_the_bases_they_cover(tmp_path):
    softmasked = np.frombuffer(GENOME.encode(), dtype=np.uint8) >= ord("a")
    starts = np.array([40, 47, 50, 36])
    ends = np.array([46, 53, 54, 40])
    region, repeat = token_classes(starts, ends, features_of(GFF, tmp_path), softmasked)
    names = np.array(["CDS", "UTR", "intron", "intergenic", "other"])[region]
    # (47, 53): 3 CDS of the minus-strand gene + 3 intergenic, 3 of 6 soft-masked: ties to CDS, repeat.
    assert list(names) == ["CDS", "CDS", "intergenic", "intergenic"]
    assert list(repeat) == [True, True, False, False]


def test_a_gene_without_mrna_is_other(tmp_path):
    text = GFF + "chr1\tx\tgene\t53\t58\t.\t+\t.\tID=t1\nchr1\tx\ttRNA\t53\t58\t.\t+\t.\tParent=t1\n"
    region, _ = token_classes(np.array([52]), np.array([58]), features_of(text, tmp_path), None)
    assert region.tolist() == [4]  # other


VOCAB = SPECIALS + ["A", "C", "G", "T", "N", "ACG", "TT"]
ID = {token: i for i, token in enumerate(VOCAB)}


def ids(*tokens):
    return [ID[t] if t in ID else t for t in tokens]


def test_packed_rows_are_read_back_to_each_tokens_window_and_bases():
    documents = ["ACGTTA", "TTACG", "C"]
    input_ids = np.array([ids(CLS_ID, "ACG", "TT", "A", SEP_ID), ids(CLS_ID, "TT", "ACG", SEP_ID, "C")])
    spans = token_spans(input_ids, VOCAB, documents, sampling="packed")
    assert spans.document.tolist() == [[-1, 0, 0, 0, -1], [-1, 1, 1, -1, 2]]
    assert spans.start.tolist() == [[-1, 0, 3, 5, -1], [-1, 0, 2, -1, 0]]
    assert spans.end.tolist() == [[-1, 3, 5, 6, -1], [-1, 2, 5, -1, 1]]


def test_a_token_that_does_not_spell_its_bases_is_refused_naming_the_split():
    input_ids = np.array([ids(CLS_ID, "ACG", "TT", "A", SEP_ID)])
    with pytest.raises(InputError, match=r"^eval.txt: packed row 0, token 2 is .TT. .*\(rerun pack_tokens\)$"):
        token_spans(input_ids, VOCAB, ["ACGTCA"], sampling="packed", where="eval.txt")


def test_overlapping_kmers_advance_one_base_after_a_kmer():
    vocab = SPECIALS + ["A", "C", "G", "T", "N", "GTA", "TAC", "ACG", "CGT"]
    index = {t: i for i, t in enumerate(vocab)}
    # "ACNGTAC" as kmerize(k=3) gives it: A C N GTA TAC
    row = [CLS_ID, *(index[t] for t in ["A", "C", "N", "GTA", "TAC"]), SEP_ID]
    spans = token_spans(np.array([row]), vocab, ["ACNGTAC"], sampling="packed", overlapping_k=3)
    assert spans.start[0, 1:6].tolist() == [0, 1, 2, 3, 4]
    assert spans.end[0, 1:6].tolist() == [1, 2, 3, 6, 7]


def test_one_row_per_document_skips_the_documents_too_short_for_a_row():
    documents = ["A", "ACGTT", "TTACG"]
    input_ids = np.array([ids(CLS_ID, "ACG", "TT", SEP_ID), ids(CLS_ID, "TT", "ACG", SEP_ID)])
    spans = token_spans(input_ids, VOCAB, documents, sampling="one_per_document")
    assert spans.document.tolist() == [[-1, 1, 1, -1], [-1, 2, 2, -1]]
    assert spans.start.tolist() == [[-1, 0, 3, -1], [-1, 0, 2, -1]]


SPECS = [{"type": "kmer", "k": 3, "stride": 3}, {"type": "kmer", "k": 3, "stride": 1}, {"type": "char"},
         {"type": "bpe", "vocab_size": 40}, {"type": "gfms_bpe", "vocab_size": 40}]


@pytest.mark.parametrize("spec, sampling", [
    *((spec, sampling) for spec in SPECS for sampling in ("packed", "one_per_document")),
    ({"type": "nt_kmer", "k": 2, "stride": 2}, "one_per_document"),  # no separator to pack with
])
def test_rows_the_packer_wrote_read_back_to_the_bases_each_token_spells(tmp_path, spec, sampling):
    """Through the real tokenizers and packer: every token of every row is placed on bases of
    its window that spell it, and a window's tokens cover it in order (packed: whole windows
    between [SEP]s)."""
    from seqens.packing import pack_sequences
    from seqens.tokenization import SequenceTokenizer, build_tokenizer, save_tokenizer

    rng = np.random.default_rng(3)
    windows = ["".join(rng.choice(list("ACGT"), 30)) for _ in range(12)]
    windows[4] = windows[4][:10] + "N" + windows[4][11:]  # an N cuts a run of k-mers
    if sampling == "one_per_document":
        windows[2] = "ACG"  # too short for a row: skipped by the packer
    save_tokenizer(build_tokenizer(spec, "dna", windows), spec, "dna", tmp_path / "tok", model_max_length=16)
    tokenizer = SequenceTokenizer(tmp_path / "tok")
    pack_sequences(iter(windows), tokenizer, tmp_path / "eval.npy", n_sequences=6, length=12, what="x",
                   sampling=sampling)
    input_ids = np.asarray(np.load(tmp_path / "eval.npy"), dtype=np.int64)
    strings = [tokenizer.tokenizer.id_to_token(i) for i in range(tokenizer.vocab_size)]
    spans = token_spans(input_ids, strings, windows, sampling=sampling, overlapping_k=tokenizer.overlapping_k,
                        layout=tokenizer.layout)
    content = input_ids >= tokenizer.layout.count
    assert (spans.document[content] >= 0).all() and (spans.document[~content] == -1).all()
    for document, start, end, token in zip(spans.document[content], spans.start[content], spans.end[content],
                                           input_ids[content]):
        assert windows[document][start:end] == strings[token]
    if sampling == "one_per_document":
        assert 2 not in spans.document
    else:
        last = spans.document.max()  # cut by the end of the rows; every window before it is whole
        assert last >= 1
        assert [spans.end[content][spans.document[content] == d].max() for d in range(last)] == [30] * last


@pytest.fixture
def corpus(tmp_path):
    """A prepared corpus of 20-bp windows of GENOME: train 0-19, eval 20-39 and 40-59; its
    annotation, FASTA and coordinates table; the eval split packed in 4-base tokens, a row per
    window, every token an evaluation position."""
    fasta = tmp_path / "genome.fa"
    fasta.write_text(">chr1 test\n" + GENOME + "\n")
    gff = tmp_path / "genes.gff.gz"
    with gzip.open(gff, "wt") as handle:
        handle.write(GFF)
    coordinates = tmp_path / "coordinates.tsv.gz"
    with gzip.open(coordinates, "wt") as handle:
        handle.write("split\trecord\tstart\tend\tstrand\n")
        for split, start in (("train", 0), ("eval", 20), ("eval", 40)):
            handle.write(f"{split}\tchr1\t{start}\t{start + 20}\t+\n")
    windows = [GENOME[20:40].upper(), GENOME[40:60].upper()]
    vocab = SPECIALS + sorted({w[i : i + 4] for w in windows for i in range(0, 20, 4)})
    flat = [token for w in windows for token in [vocab.index(w[i : i + 4]) for i in range(0, 20, 4)] + [SEP_ID]]
    input_ids = np.array([[CLS_ID, *flat[:6]], [CLS_ID, *flat[6:]]])
    positions = EvalPositions(input_ids, input_ids >= len(SPECIALS), np.arange(2), "0" * 64)
    spans = token_spans(input_ids, vocab, windows, sampling="packed")
    characters = np.array([0.0] * len(SPECIALS) + [4.0] * (len(vocab) - len(SPECIALS)))
    return dict(eval_positions=positions, spans=spans, coordinates=coordinates, characters_per_token=characters,
                annotation=gff, fasta_paths=[fasta])


def test_every_evaluation_position_knows_its_bases_and_classes(corpus):
    table = position_regions("athal", repeats=True, **corpus)
    assert table["position"].tolist() == list(range(10))
    assert (table["record"] == "chr1").all()
    assert table["start"].tolist() == [20, 24, 28, 32, 36, 40, 44, 48, 52, 56]
    assert (table["end"] - table["start"] == 4).all()
    # 20-25 CDS (24-27: 2 CDS, 2 UTR: a tie, CDS), 28-29 UTR + 30-31 intergenic (a tie: UTR), 40-49 CDS on -.
    assert table["region"].tolist() == [
        "CDS", "CDS", "UTR", "intergenic", "intergenic", "CDS", "CDS", "CDS", "intergenic", "intergenic"
    ]
    assert table["repeat"].tolist() == ["unique"] * 5 + ["repeat", "repeat", "repeat", "unique", "unique"]
    assert table[["sequence", "column"]].values.tolist()[:2] == [[0, 1], [0, 2]]


def test_without_a_repeat_split_the_repeat_column_is_empty(corpus):
    table = position_regions("athal", repeats=False, **corpus)
    assert table["repeat"].isna().all()


def test_an_annotation_of_other_sequence_names_is_one_line_naming_files_and_key(corpus, tmp_path):
    other = tmp_path / "other.gff"
    other.write_text(GFF.replace("chr1\t", "Chr1\t"))
    with pytest.raises(InputError) as error:
        position_regions("athal", repeats=True, **{**corpus, "annotation": other})
    message = str(error.value)
    assert "\n" not in message
    assert message.startswith("corpora.athal.annotation.source: no sequence name of ")
    assert str(other) in message and str(corpus["fasta_paths"][0]) in message and "Chr1" in message


def test_a_repeat_split_of_a_fasta_without_soft_mask_is_one_line_naming_file_and_key(corpus, tmp_path):
    upper = tmp_path / "upper.fa"
    upper.write_text(">chr1\n" + GENOME.upper() + "\n")
    with pytest.raises(InputError) as error:
        position_regions("athal", repeats=True, **{**corpus, "fasta_paths": [upper]})
    message = str(error.value)
    assert "\n" not in message
    assert message.startswith(f"corpora.athal.annotation.repeats: {upper} has no soft-masked")
    assert message.endswith("set corpora.athal.annotation.repeats: false")
    position_regions("athal", repeats=False, **{**corpus, "fasta_paths": [upper]})  # and without: no error


def test_per_region_metrics_are_the_means_of_their_positions_and_per_base_over_their_bases():
    ensemble = Ensemble(Condition("athal", "kmer6", "dna"), "roformer", "mlm", (1, 2))
    per_position = {
        "cross_entropy_bits": MemberValues(np.array([[1.0, 2.0, 3.0, 4.0], [3.0, 4.0, 5.0, 6.0]])),
        "cross_entropy_bits_per_character": MemberValues(np.zeros((2, 4))),  # recomputed per class
        "js_distance": PairValues(np.array([[0.1, 0.2, 0.3, 0.4]]), [(0, 1)], 2),
    }
    regions = pd.DataFrame({
        "position": range(4), "characters": [2.0, 4.0, 3.0, 3.0],
        "region": ["CDS", "CDS", "intergenic", "UTR"], "repeat": ["repeat", "unique", "unique", "unique"],
    })
    found = compare_regions(ensemble, per_position, regions, metrics=["cross_entropy_bits", "js_distance"], draws=200)
    summary = found["summary"].set_index(["axis", "class", "metric"])
    assert summary.loc[("region", "CDS", "cross_entropy_bits"), "estimate"] == pytest.approx(2.5)  # (1+2+3+4)/4
    # CDS targets have 3 bases on average: 2.5 bits per token, 2.5/3 per base.
    assert summary.loc[("region", "CDS", "cross_entropy_bits_per_character"), "estimate"] == pytest.approx(2.5 / 3)
    assert summary.loc[("region", "UTR", "cross_entropy_bits"), "estimate"] == pytest.approx(5.0)
    assert summary.loc[("region", "CDS", "js_distance"), "estimate"] == pytest.approx(0.15)
    assert summary.loc[("repeat", "repeat", "cross_entropy_bits"), "estimate"] == pytest.approx(2.0)
    assert summary.loc[("repeat", "unique", "cross_entropy_bits"), "estimate"] == pytest.approx(4.0)
    assert summary.loc[("region", "CDS", "js_distance"), "positions"] == 2
    assert set(summary.index.get_level_values("class")) == {"CDS", "UTR", "intergenic", "repeat", "unique"}
    assert (summary["low"] <= summary["estimate"] + 1e-12).all() and (summary["estimate"] <= summary["high"] + 1e-12).all()
    contrasts = found["contrasts"].set_index(["class", "reference", "metric"])
    assert contrasts.loc[("CDS", "intergenic", "cross_entropy_bits"), "difference"] == pytest.approx(2.5 - 4.0)
    assert contrasts.loc[("repeat", "unique", "cross_entropy_bits"), "difference"] == pytest.approx(-2.0)
    assert ("intergenic", "intergenic", "cross_entropy_bits") not in contrasts.index


def test_the_breakdown_reads_the_same_per_position_values_as_the_outputs_comparison():
    from seqens.comparisons.outputs import compare_outputs
    from seqens.comparisons.regions import per_position_values

    rng = np.random.default_rng(0)
    probs = [rng.dirichlet(np.ones(12), size=40) for _ in range(3)]
    targets = rng.integers(0, 12, size=40)
    unigram_log2 = np.log2(rng.dirichlet(np.ones(12)))
    ensemble = Ensemble(Condition("athal", "kmer6", "dna"), "roformer", "mlm", (1, 2, 3))
    reference = compare_outputs(ensemble, probs, targets, unigram_log2=unigram_log2, draws=20)["per_position"]
    found = per_position_values(probs, targets, unigram_log2)
    per_token = {name for name in reference if not name.endswith("_per_character")}
    assert per_token <= set(found)
    for name in per_token:
        assert type(found[name]) is type(reference[name])
        np.testing.assert_allclose(found[name].values, reference[name].values, rtol=1e-12, err_msg=name)


def test_each_class_has_its_count_baselines_bits_and_the_members_bits_beyond_them_per_token_and_base():
    from seqens.comparisons.regions import REGION_METRICS, per_position_values

    # Two members, four positions, vocabulary of 4: member probabilities of the true token
    # 1/2, 1/4, 1/8, 1/2 (member 0) and 1/4, 1/4, 1/2, 1/2 (member 1), so their bits are 1,2,3,1 and 2,2,1,1.
    targets = np.array([0, 1, 2, 3])
    true_probability = np.array([[0.5, 0.25, 0.125, 0.5], [0.25, 0.25, 0.5, 0.5]])
    probs = []
    for member in true_probability:
        p = np.tile((1 - member)[:, None] / 3, (1, 4))
        p[np.arange(4), targets] = member
        probs.append(p)
    # Count baselines of orders 0 and 1 (best: 1): order 1 gives the true token 1/4, 1/2, 1/8, 1/16.
    count_log2 = np.array([[-2.0] * 4, [-2.0, -1.0, -3.0, -4.0]])
    per_position = per_position_values(probs, targets, np.full(4, -2.0), counts=(count_log2, 1))
    regions = pd.DataFrame({
        "position": range(4), "characters": [2.0, 4.0, 6.0, 6.0],
        "region": ["CDS", "CDS", "intron", "intron"], "repeat": ["", "", "", ""],
    })
    ensemble = Ensemble(Condition("athal", "kmer6", "dna"), "roformer", "mlm", (1, 2))
    summary = compare_regions(ensemble, per_position, regions, draws=50)["summary"].set_index(["class", "metric"])
    assert {"count_cross_entropy_bits", "bits_beyond_counts"} <= set(REGION_METRICS)
    estimate = summary["estimate"]
    assert estimate[("CDS", "count_cross_entropy_bits")] == pytest.approx(1.5)  # (2 + 1) / 2
    assert estimate[("intron", "count_cross_entropy_bits")] == pytest.approx(3.5)  # (3 + 4) / 2
    # CDS members: bits (1 + 2 + 2 + 2) / 4 = 1.75, so 1.5 - 1.75 beyond counts; intron: (3 + 1 + 1 + 1) / 4 = 1.5.
    assert estimate[("CDS", "bits_beyond_counts")] == pytest.approx(-0.25)
    assert estimate[("intron", "bits_beyond_counts")] == pytest.approx(2.0)
    # Per base: over the class's mean bases per target (CDS 3, intron 6).
    assert estimate[("CDS", "bits_beyond_counts_per_character")] == pytest.approx(-0.25 / 3)
    assert estimate[("intron", "count_cross_entropy_bits_per_character")] == pytest.approx(3.5 / 6)
    assert ("CDS", "count_cross_entropy_bits_k0") not in summary.index  # the best order's only
