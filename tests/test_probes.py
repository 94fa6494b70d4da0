"""Frozen-feature probes: labelling from hand-written GFF and JSON, disjointness from the
training split, the probe and the count baselines on synthetic data, and the config's
one-line refusals."""

import copy
import gzip
import json

import numpy as np
import pytest
import yaml
from sklearn.metrics import f1_score

from seqens.probes import examples as probe_examples, fit
from seqens.comparisons.probes import macro_f1
from seqens.config import ConfigError, Study
from seqens.prepare import prepare_dna, prepare_text, training_intervals

from conftest import REPO

GFF = """##gff-version 3
chr1\tx\tgene\t101\t400\t.\t+\t.\tID=g1
chr1\tx\tmRNA\t101\t400\t.\t+\t.\tID=m1
chr1\tx\texon\t101\t200\t.\t+\t.\tParent=m1
chr1\tx\texon\t301\t400\t.\t+\t.\tParent=m1
chr1\tx\tCDS\t151\t200\t.\t+\t0\tParent=m1
chr1\tx\tCDS\t301\t350\t.\t+\t0\tParent=m1
chr1\tx\ttRNA\t601\t650\t.\t+\t.\tID=t1
"""


@pytest.fixture(scope="module")
def demo_config():
    return yaml.safe_load((REPO / "config" / "config.yaml").read_text())


CLASSES = ["repeat", "CDS", "UTR", "intron", "tRNA", "intergenic"]


@pytest.fixture
def gff(tmp_path):
    path = tmp_path / "genes.gff.gz"
    with gzip.open(path, "wt") as handle:
        handle.write(GFF)
    return path


def test_dna_labels_from_a_hand_written_gff(gff):
    features = probe_examples.read_features(gff, "p")["chr1"]
    assert features["exon"].tolist() == [[100, 200], [300, 400]]  # 1-based closed -> 0-based half-open
    softmasked = np.zeros(1000, dtype=bool)
    softmasked[120:130] = True
    positions = np.array([125, 110, 160, 250, 320, 370, 450, 620, 99])
    expected = ["repeat", "UTR", "CDS", "intron", "CDS", "UTR", "intergenic", "tRNA", "intergenic"]
    labels = probe_examples.base_classes(positions, features, softmasked, CLASSES)
    assert [CLASSES[i] for i in labels] == expected
    # the tRNA lies in no gene: with intergenic listed first, intergenic wins (first match)
    reordered = ["intergenic", "tRNA"]
    assert probe_examples.base_classes(np.array([620]), features, softmasked, reordered).tolist() == [0]
    # a class that applies nowhere in the list leaves the base unlabelled
    assert probe_examples.base_classes(np.array([160]), features, softmasked, ["intron", "tRNA"]).tolist() == [-1]


def test_a_malformed_gff_line_is_named_by_its_number(tmp_path):
    lines = GFF.splitlines()
    cases = [  # line 5 replaced by, what the message says about it
        ("chr1\tx\texon\t101\t200", " has 5 tab-separated fields, GFF/GTF needs 9"),
        (lines[4] + "\textra\tfields", " has 11 tab-separated fields, GFF/GTF needs 9"),
        ("chr1 x exon 101 200 . + . Parent=m1", " has 1 tab-separated field, GFF/GTF needs 9"),
        (lines[4].replace("\t301\t", "\tabc\t"), ": start 'abc' is not a positive integer"),
        (lines[4].replace("\t400\t", "\t4e2\t"), ": end '4e2' is not a positive integer"),
        (lines[4].replace("\t301\t", "\t0\t"), ": start '0' is not a positive integer"),
        (lines[4].replace("\t301\t", "\t401\t"), ": end 400 is before start 401"),
    ]
    path = tmp_path / "genes.gff"
    for line, problem in cases:
        path.write_text("\n".join(lines[:4] + [line] + lines[5:]) + "\n")
        with pytest.raises(probe_examples.ProbeError) as caught:
            probe_examples.read_features(path, "region")
        assert str(caught.value) == f"probe 'region': {path} line 5{problem}", caught.value
    path.write_text(GFF + "##FASTA\n>chr1\nACGT\n")  # GFF3's sequence section ends the features
    assert probe_examples.read_features(path, "region")["chr1"]["tRNA"].tolist() == [[600, 650]]


def test_intervals_merge_and_lookup():
    merged = probe_examples.merge_intervals(np.array([[5, 10], [0, 3], [8, 12], [12, 14]]))
    assert merged.tolist() == [[0, 3], [5, 14]]  # overlapping and touching intervals merge
    assert probe_examples.inside(np.array([0, 2, 3, 4, 5, 11, 12, 13, 14]), merged).tolist() == [
        True, True, False, False, True, True, True, True, False]


def test_a_class_the_annotation_lacks_is_refused(gff):
    features = probe_examples.read_features(gff, "region")
    with pytest.raises(probe_examples.ProbeError, match="probe 'region': class 'snoRNA' needs feature type"):
        probe_examples.check_classes(features, ["CDS", "snoRNA"], "region")


def test_text_labels_from_a_hand_written_json(tmp_path):
    path = tmp_path / "articles.json"
    path.write_text(json.dumps({
        "a": {"extract": "Alpha  text.", "topic": "X"},
        "b": {"extract": "Beta text.", "topic": "Y"},
        "c": {"extract": "No label."},
        "d": {"extract": "", "topic": "X"},
    }))
    assert probe_examples.labelled_documents(path, "*.extract", "*.topic", "t") == [("Alpha text.", "X"), ("Beta text.", "Y")]
    with pytest.raises(probe_examples.ProbeError, match="probe 't': the label field '\\*.subject' matches nothing"):
        probe_examples.labelled_documents(path, "*.extract", "*.subject", "t")


def text_probe(**overrides):
    return {"corpus": "c", "field": "*.topic", "split": "heldout", "examples_per_class": 5, "test_fraction": 0.4,
            **overrides}


def test_text_examples_are_documents_prepare_put_in_eval_and_in_no_training_document(tmp_path):
    path = tmp_path / "articles.json"
    path.write_text(json.dumps({str(i): {"extract": f"Document number {i}.", "topic": "AB"[i % 2]} for i in range(200)}))
    prepare_text("c", [path], tmp_path, fmt="json", field="*.extract", eval_fraction=0.2, seed=7)
    train_file, eval_file = tmp_path / "train.txt", tmp_path / "eval.txt"
    held_out = set(eval_file.read_text().splitlines())
    corpus = {"kind": "text", "format": "json", "field": "*.extract"}
    built = probe_examples.build_text_examples("t", text_probe(), corpus, probe_file=path, train_file=train_file,
                                               eval_file=eval_file, seed=1)
    assert len(built.texts) == 10 and set(built.texts) <= held_out
    # the split is read from the prepared files: a document moved to train is no candidate
    moved = built.texts[0]
    eval_file.write_text("".join(line + "\n" for line in held_out if line != moved))
    train_file.write_text(train_file.read_text() + moved + "\n")
    again = probe_examples.build_text_examples("t", text_probe(), corpus, probe_file=path, train_file=train_file,
                                               eval_file=eval_file, seed=1)
    assert moved not in again.texts
    # a document duplicated across the splits is training data, never a candidate
    labelled = probe_examples.labelled_documents(path, "*.extract", "*.topic", "t")
    duplicate = next(iter(held_out))
    texts, _, _ = probe_examples.text_candidates(labelled, {duplicate}, held_out)
    assert duplicate not in texts and len(texts) == len(held_out) - 1
    with pytest.raises(probe_examples.ProbeError, match="probe 't': class 'A' has .* fewer than examples_per_class"):
        probe_examples.build_text_examples("t", text_probe(examples_per_class=100), corpus, probe_file=path,
                                           train_file=train_file, eval_file=eval_file, seed=1)


def test_dna_windows_avoid_every_training_window(tmp_path, gff):
    rng = np.random.default_rng(0)
    sequence = "".join(rng.choice(list("ACGT"), 64 * 40))
    fasta = tmp_path / "genome.fa"
    fasta.write_text(">chr1\n" + sequence + "\n")
    prepare_dna("c", [fasta], tmp_path, window=64, softmask="upper", max_n_fraction=0.05, eval_block=2,
                eval_fraction=0.3, seed=3)
    training_windows = set((tmp_path / "train.txt").read_text().split())
    training = training_intervals(tmp_path / "coordinates.tsv.gz")
    features = {"chr1": {"gene": np.array([[0, 10]])}}
    texts, _, origins, overlaps = probe_examples.dna_candidates(
        [fasta], features, ["intergenic"], window=16, softmask="upper", training=training, heldout=True, probe="p")
    assert texts and not overlaps.any()
    for origin in origins:  # the 64-bp corpus window holding each probe window went to eval
        start = int(origin.split(":")[1]) // 64 * 64
        assert sequence[start : start + 64] not in training_windows
    _, _, _, all_overlaps = probe_examples.dna_candidates(
        [fasta], features, ["intergenic"], window=16, softmask="upper", training=training, heldout=False, probe="p")
    assert all_overlaps.sum() > 0
    with pytest.raises(probe_examples.ProbeError, match="probe 'p': .* overlap the training split of corpus 'c'"):
        probe_examples.check_disjoint(all_overlaps, [f"chr1:{i}" for i in range(len(all_overlaps))], "p", "c")


def test_dna_held_out_windows_are_what_the_coordinates_table_says(tmp_path):
    """The probe reads the split from the prepared corpus's table: a hand-written table that
    puts only bases [100, 228) in training leaves every 64-bp window but those it touches."""
    fasta = tmp_path / "genome.fa"
    fasta.write_text(">chr1\n" + "ACGT" * 160 + "\n")  # 640 bp: ten 64-bp windows
    table = tmp_path / "coordinates.tsv.gz"
    with gzip.open(table, "wt") as handle:
        handle.write("split\trecord\tstart\tend\tstrand\ntrain\tchr1\t100\t228\t+\neval\tchr1\t300\t428\t+\n")
    features = {"chr1": {"gene": np.array([[0, 1]])}}
    _, _, origins, _ = probe_examples.dna_candidates(
        [fasta], features, ["intergenic"], window=64, softmask="upper", training=training_intervals(table),
        heldout=True, probe="p")
    assert origins == [f"chr1:{start}" for start in (0, 256, 320, 384, 448, 512, 576)]  # 64, 128, 192 touch [100, 228)


def test_window_overlap_with_intervals():
    intervals = np.array([[100, 228], [10, 20]])
    starts = np.array([0, 20, 36, 90, 99, 100, 227, 228])
    assert probe_examples.overlaps_any(starts, 10, intervals).tolist() == [
        False, False, False, False, True, True, True, False]
    assert not probe_examples.overlaps_any(starts, 10, None).any()


def test_selection_is_balanced_seeded_and_refuses_too_few():
    labels = ["a"] * 10 + ["b"] * 6
    texts = [str(i) for i in range(16)]
    examples = probe_examples.select_examples(texts, labels, texts, classes=None, per_class=5, test_fraction=0.4, seed=1, probe="p")
    assert examples.classes == ["a", "b"] and np.bincount(examples.labels).tolist() == [5, 5]
    assert np.bincount(examples.labels[examples.is_test]).tolist() == [2, 2]
    again = probe_examples.select_examples(texts, labels, texts, classes=None, per_class=5, test_fraction=0.4, seed=1, probe="p")
    assert again.origins == examples.origins
    with pytest.raises(probe_examples.ProbeError, match="probe 'p': class 'b' has 6 usable examples, fewer than examples_per_class \\(7\\)"):
        probe_examples.select_examples(texts, labels, texts, classes=None, per_class=7, test_fraction=0.4, seed=1, probe="p")


def test_the_probe_recovers_a_planted_linear_signal():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 20))
    y = (x @ rng.normal(size=20) > 0).astype(int)
    predictions = fit.fit_probe(x[:300], y[:300], x[300:], folds=3, cs=5, seed=0)
    assert (predictions == y[300:]).mean() > 0.9
    noise = fit.fit_probe(x[:300], rng.integers(0, 2, 300), x[300:], folds=3, cs=5, seed=0)
    assert (noise == y[300:]).mean() < 0.7


def test_kmer_baseline_separates_base_composition():
    rng = np.random.default_rng(1)
    gc_rich = ["".join(rng.choice(list("ACGT"), 100, p=[0.15, 0.35, 0.35, 0.15])) for _ in range(60)]
    at_rich = ["".join(rng.choice(list("ACGT"), 100, p=[0.35, 0.15, 0.15, 0.35])) for _ in range(60)]
    texts, y = gc_rich + at_rich, np.array([0] * 60 + [1] * 60)
    counts = fit.kmer_counts(texts, 2)
    assert counts.shape == (120, 16) and np.allclose(counts.sum(axis=1), 1.0)
    assert fit.kmer_counts(["ACGNAC"], 2)[0, [1, 6]].tolist() == [2 / 3, 1 / 3]  # AC twice, CG once; N skipped
    order = rng.permutation(120)
    train, test = order[:80], order[80:]
    predictions = fit.fit_probe(counts[train], y[train], counts[test], folds=3, cs=5, seed=0)
    assert (predictions == y[test]).mean() > 0.95


def test_macro_f1_and_majority_match_references():
    rng = np.random.default_rng(2)
    truth, predicted = rng.integers(0, 4, 50), rng.integers(0, 4, 50)
    predicted[predicted == 3] = 0  # a class never predicted counts 0
    assert macro_f1(truth, predicted, 4) == pytest.approx(f1_score(truth, predicted, average="macro"))
    assert fit.majority_predictions(np.array([2, 1, 1, 2, 0]), 3).tolist() == [1, 1, 1]


def test_token_counts_leave_out_cls():
    rows = [np.array([2, 5, 5, 7]), np.array([2, 7])]
    counts = fit.token_counts(rows, 8)
    assert counts[0, 5] == pytest.approx(2 / 3) and counts[0, 2] == 0 and counts[1, 7] == 1


@pytest.mark.parametrize(
    "mutate, fragment",
    [
        (lambda c: c["probes"]["topic"].update(corpus="rice"), "config: probes.topic.corpus: unknown corpus 'rice'"),
        (lambda c: c["probes"]["region"].pop("classes"), "config: probes.region.classes: a probe of dna corpus"),
        (lambda c: c["probes"]["topic"].update(window=100), "config: probes.topic.window: applies to probes of dna"),
        (lambda c: c["probes"]["topic"].update(split="all"),
         "config: probes.topic.split: 'all' would overlap the training split of corpus 'wiki'"),
        (lambda c: c["probes"]["region"].update(split="all"),
         "config: probes.region.split: 'all' would overlap the training split of corpus 'athal'"),
        (lambda c: c["probes"]["region"].update(examples_per_class=4, test_fraction=0.8),
         "config: probes.region.examples_per_class: 4 with test_fraction 0.8 leaves fewer than 3 training"),
        (lambda c: c.update(probing={"folds": 7}),
         "config: probes.topic.examples_per_class: 9 with test_fraction 0.34 leaves fewer than 7 training"),
    ],
)
def test_bad_probe_config_gives_one_line_naming_the_probe(demo_config, mutate, fragment):
    config = copy.deepcopy(demo_config)
    mutate(config)
    with pytest.raises(ConfigError) as error:
        Study(config)
    assert fragment in str(error.value) and "\n" not in str(error.value)


def test_the_demo_topic_probe_on_the_packaged_data(demo_config, tmp_path):
    """The demo's text probe on the packaged Wikipedia corpus, prepared as the demo prepares
    it: enough held-out articles per topic, none in training; asking for more than the
    held-out split has is refused with one line."""
    from seqens.sources import local_file

    study = Study(copy.deepcopy(demo_config))
    spec = study.probe_slice("topic")
    probe, corpus = spec["probe"], spec["corpus"]
    prepare_text("wiki", [local_file("wiki", corpus["source"], "corpus")], tmp_path, fmt=corpus["format"],
                 field=corpus["field"], eval_fraction=spec["eval_fraction"], seed=spec["data_seed"])
    files = dict(probe_file=local_file("topic", probe["source"], "probe"), train_file=tmp_path / "train.txt",
                 eval_file=tmp_path / "eval.txt", seed=spec["data_seed"])
    built = probe_examples.build_text_examples("topic", probe, corpus, **files)
    assert len(built.texts) == 12 * 9 and int(built.is_test.sum()) == 36
    with pytest.raises(probe_examples.ProbeError) as caught:
        probe_examples.build_text_examples("topic", {**probe, "examples_per_class": 10}, corpus, **files)
    assert str(caught.value) == "probe 'topic': class 'Mathematics' has 9 usable examples, fewer than examples_per_class (10)"


def test_every_objective_gives_layer_states_and_pooling_ignores_batching():
    """Each architecture x objective: embeddings plus one state per encoder layer; a causal
    member's states never see later tokens; pooling rows of several lengths together gives
    each row's own mean."""
    import torch

    from seqens.architectures import ARCHITECTURES
    from seqens.objectives import REGISTRY, SpecialTokens, make_objective

    from conftest import TINY_PRESET

    special = SpecialTokens(pad=0, unk=1, cls=2, sep=3, mask=4, vocab_size=30)
    preset = {**TINY_PRESET, "hidden": 32, "ffn": 64}
    rng = np.random.default_rng(0)
    rows = [np.concatenate([[2], rng.integers(5, 30, n)]) for n in (7, 12, 7, 3)]
    for architecture in sorted(ARCHITECTURES):
        for name in sorted(REGISTRY):
            if name in ARCHITECTURES[architecture].refusals:
                continue
            objective = make_objective(name, special, {}, architecture)
            torch.manual_seed(0)
            model = objective.build_model(preset).eval()
            ids = torch.from_numpy(rows[1][None])
            with torch.no_grad():
                states = objective.layer_states(model, ids)
                depth = model.config.num_hidden_layers  # the MAE's encoder is shallower than the preset
                assert len(states) == depth + 1 and states[-1].shape == (1, 13, 32), (architecture, name)
                if objective.causal:
                    changed = ids.clone()
                    changed[0, 8] = 5 if int(ids[0, 8]) != 5 else 6
                    later = objective.layer_states(model, changed)[-1]
                    assert torch.allclose(states[-1][0, :8], later[0, :8], atol=1e-5)
            pooled = fit.mean_pooled_states(objective, model, rows, batch_size=2)
            alone = np.concatenate([fit.mean_pooled_states(objective, model, [row]) for row in rows], axis=1)
            assert pooled.shape == (depth + 1, 4, 32)
            np.testing.assert_allclose(pooled, alone, atol=1e-5)


def test_probes_contextual_and_fisher_name_encoder_layer_i_layer_i():
    """One set of layer names: the state the probes and the contextual tables call layer.i
    is the output of encoder layer i (the Fisher group layer.i holds its parameters), and
    embeddings is the embedding layer's output."""
    import torch

    from seqens.layers import hidden_state_names, last_layer
    from seqens.objectives import SpecialTokens, make_objective

    from conftest import TINY_PRESET

    special = SpecialTokens(pad=0, unk=1, cls=2, sep=3, mask=4, vocab_size=30)
    objective = make_objective("mlm", special, {}, "bert")
    torch.manual_seed(0)
    model = objective.build_model({**TINY_PRESET, "dropout": 0.0}).eval()
    outputs = {}
    embeddings = model.bert.embeddings.register_forward_hook(lambda m, i, o: outputs.setdefault("embeddings", o))
    hooks = [layer.register_forward_hook(lambda m, i, o, n=f"layer.{k}": outputs.setdefault(n, o[0] if isinstance(o, tuple) else o))
             for k, layer in enumerate(model.bert.encoder.layer)]
    with torch.no_grad():
        states = objective.layer_states(model, torch.tensor([[2, 7, 9, 11, 5]]))
    for hook in [embeddings, *hooks]:
        hook.remove()
    names = hidden_state_names(len(states))
    assert names == ["embeddings", "layer.0", "layer.1"] and last_layer(names) == "layer.1"
    for name, state in zip(names, states):
        torch.testing.assert_close(state, outputs[name])
    assert [g for g in objective.layer_groups(model) if g != "head"] == names
    assert last_layer(["layer.10", "head", "layer.9", "embeddings"]) == "layer.10"


def test_probe_table_intervals_agreement_and_gains():
    """compare_probe on hand-made predictions: scores, agreement and gains are what they
    should be, each estimate inside its interval."""
    import pandas as pd

    from seqens.comparisons.probes import compare_probe
    from seqens.config import Condition, Ensemble

    ensemble = Ensemble(Condition("athal", "kmer6", "dna"), "bert", "mlm", (1, 2, 3))
    truth = np.array([0, 1, 2, 0, 1, 2, 0, 1])
    members = {1: truth.copy(), 2: np.array([0, 1, 2, 0, 1, 2, 1, 0]), 3: np.array([0, 1, 0, 0, 1, 2, 0, 1])}
    rows = []

    def add(model, seed, predictions):
        rows.extend({"probe": "p", "layer": "layer.1", "model": model, "seed": seed, "example": i, "label": y,
                     "prediction": p, "n_classes": 3} for i, (y, p) in enumerate(zip(truth, predictions)))

    for seed, predictions in members.items():
        add("member", seed, predictions)
        add("random_init", seed, np.zeros(8, dtype=int))
    add("majority", -1, np.zeros(8, dtype=int))
    add("kmer4_counts", -1, np.array([0, 1, 2, 0, 0, 0, 0, 0]))
    result = compare_probe(ensemble, pd.DataFrame(rows), draws=200)
    summary = result["summary"].set_index("metric")
    assert summary.loc["accuracy", "estimate"] == pytest.approx((8 + 6 + 7) / 24)
    assert summary.loc["baseline_accuracy", "estimate"] == pytest.approx(5 / 8)
    assert summary.loc["majority_accuracy", "estimate"] == pytest.approx(3 / 8)
    assert summary.loc["gain_over_baseline", "estimate"] == pytest.approx(21 / 24 - 5 / 8)
    # pairs (1,2): 6 of 8 agree, (1,3): 7, (2,3): 5
    assert summary.loc["probe_agreement", "estimate"] == pytest.approx((6 + 7 + 5) / 24)
    f1s = [f1_score(truth, members[s], average="macro") for s in (1, 2, 3)]
    assert summary.loc["macro_f1", "estimate"] == pytest.approx(np.mean(f1s))
    # The spread across seeds, as the paper's error bars: ddof=1 over members, ddof=0 over pairs.
    assert summary.loc["accuracy", "sd"] == pytest.approx(np.std(np.array([8, 6, 7]) / 8, ddof=1))
    assert summary.loc["macro_f1", "sd"] == pytest.approx(np.std(f1s, ddof=1))
    assert summary.loc["probe_agreement", "sd"] == pytest.approx(np.std(np.array([6, 7, 5]) / 8, ddof=0))
    intervals = summary[summary["level"].notna()]
    assert ((intervals["low"] <= intervals["estimate"] + 1e-12) & (intervals["estimate"] <= intervals["high"] + 1e-12)).all()
    assert set(summary["baseline"]) == {"kmer4_counts"}
