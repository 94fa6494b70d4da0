"""DNA-minus-text contrasts: paired differences, p-values, pairing within one architecture and
objective, and per-member vs per-pair arrays each resampled as what they are."""

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from seqens import bootstrap
from seqens.comparisons.contrasts import (
    REPRODUCTION_COLUMNS,
    dna_text_pairs,
    metric_contrasts,
    trained_minus_published,
    trained_published_pairs,
)
from seqens.comparisons.embeddings import compare_embeddings
from seqens.comparisons.fisher import compare_fisher, fisher_contrasts
from seqens.comparisons.intervals import MemberValues, PairValues, all_pairs, bootstrap_options, unit_sd
from seqens.comparisons.outputs import compare_outputs
from seqens.comparisons.probes import compare_probe
from seqens.contextual import compare_contextual, contextual_contrasts
from seqens.config import Condition, Ensemble

SEEDS = (1, 2, 3)
PAIRS = all_pairs(len(SEEDS))
WIKI = Condition("wiki", "bpe", "text")
ATHAL = Condition("athal", "kmer6", "dna")


def ensemble(condition, architecture="bert", objective="mlm"):
    return Ensemble(condition, architecture, objective, SEEDS)


def test_a_contrast_is_the_dna_mean_minus_the_text_mean_of_each_metric_both_have():
    dna, text = ensemble(ATHAL), ensemble(WIKI)
    per_example = {
        dna: {
            "entropy_bits": MemberValues(np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])),  # mean 3.5
            "js_distance": PairValues(np.array([[0.2, 0.4], [0.6, 0.8], [0.1, 0.3]]), PAIRS, 3),  # mean 0.4
            "dna_only": MemberValues(np.zeros((3, 2))),
        },
        text: {
            "entropy_bits": MemberValues(np.array([[0.0, 1.0], [1.0, 0.0], [2.0, 2.0]])),  # mean 1.0
            "js_distance": PairValues(np.array([[0.1, 0.1], [0.1, 0.1], [0.1, 0.1]]), PAIRS, 3),  # mean 0.1
        },
    }
    table = metric_contrasts(per_example, draws=200)
    assert list(table["metric"]) == ["entropy_bits", "js_distance"]  # shared metrics, by name
    assert set(table["dna_condition"]) == {"athal-kmer6"} and set(table["text_condition"]) == {"wiki-bpe"}
    rows = table.set_index("metric")
    assert rows.loc["entropy_bits", "difference"] == pytest.approx(2.5)
    assert rows.loc["js_distance", "difference"] == pytest.approx(0.3)
    assert (rows["low"] <= rows["difference"]).all() and (rows["difference"] <= rows["high"]).all()


def test_a_contrast_whose_draws_all_lie_on_one_side_has_the_smallest_p_value():
    rng = np.random.default_rng(0)
    text = rng.normal(size=(3, 50))
    per_example = {
        ensemble(ATHAL): {"accuracy": MemberValues(text + 10.0), "agreement": PairValues(text + 10.0, PAIRS, 3)},
        ensemble(WIKI): {"accuracy": MemberValues(text), "agreement": PairValues(text, PAIRS, 3)},
    }
    rows = metric_contrasts(per_example, draws=300).set_index("metric")
    assert (rows["low"] > 0).all()
    # 1 / the draws kept: a pair draw whose slots all hold one member has no pair and is dropped
    assert rows.loc["accuracy", "p_value"] == pytest.approx(1 / 300) and rows.loc["accuracy", "draws"] == 300
    assert rows.loc["agreement", "p_value"] == pytest.approx(1 / rows.loc["agreement", "draws"])
    assert rows.loc["agreement", "draws"] < 300


def test_a_contrast_of_draws_symmetric_about_zero_has_a_p_value_near_one():
    signs = np.tile([1.0, -1.0], 100)  # every member: mean 0, and so is every resample's mirror image
    per_example = {
        ensemble(ATHAL): {"gain": MemberValues(np.stack([signs, 2 * signs, 3 * signs]))},
        ensemble(WIKI): {"gain": MemberValues(np.zeros((3, 200)))},
    }
    row = metric_contrasts(per_example, draws=1000).iloc[0]
    assert row["difference"] == 0.0 and row["low"] < 0 < row["high"]
    assert row["p_value"] > 0.9
    identical = {ensemble(ATHAL): per_example[ensemble(WIKI)], ensemble(WIKI): per_example[ensemble(WIKI)]}
    assert metric_contrasts(identical, draws=100).iloc[0]["p_value"] == 1.0


def test_an_ensemble_is_contrasted_only_with_the_other_kind_of_its_architecture_and_objective():
    dna_bert, dna_roformer = ensemble(ATHAL, "bert"), ensemble(ATHAL, "roformer")
    text_bert, text_roformer, text_bert_clm = ensemble(WIKI, "bert"), ensemble(WIKI, "roformer"), ensemble(WIKI, "bert", "clm")
    other_dna = ensemble(Condition("athal", "bpe", "dna"), "bert")
    ensembles = [text_roformer, dna_bert, text_bert_clm, other_dna, dna_roformer, text_bert]
    assert list(dna_text_pairs(ensembles)) == [(dna_bert, text_bert), (other_dna, text_bert), (dna_roformer, text_roformer)]
    values = {e: {"accuracy": MemberValues(np.ones((3, 4)) * i)} for i, e in enumerate(ensembles)}
    table = metric_contrasts(values, draws=20)
    assert list(zip(table["architecture"], table["objective"], table["dna_condition"], table["text_condition"])) == [
        ("bert", "mlm", "athal-kmer6", "wiki-bpe"),
        ("bert", "mlm", "athal-bpe", "wiki-bpe"),
        ("roformer", "mlm", "athal-kmer6", "wiki-bpe"),
    ]
    assert list(table["difference"]) == [1.0 - 5.0, 3.0 - 5.0, 4.0 - 0.0]


def test_the_bootstrap_follows_the_type_of_the_values_not_the_name_of_the_metric():
    # With 3 seeds, 3 members and 3 pairs: the same array, under any name, is drawn as what it is.
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(3, 40)), rng.normal(size=(3, 40))
    as_pairs = metric_contrasts(
        {ensemble(ATHAL): {"a_new_pair_metric": PairValues(a, PAIRS, 3)}, ensemble(WIKI): {"a_new_pair_metric": PairValues(b, PAIRS, 3)}},
        draws=200, seed=4,
    ).iloc[0]
    as_members = metric_contrasts(
        {ensemble(ATHAL): {"js_distance": MemberValues(a)}, ensemble(WIKI): {"js_distance": MemberValues(b)}},
        draws=200, seed=4,
    ).iloc[0]
    pair_interval, pair_p = bootstrap.paired_difference(a, b, pairs=PAIRS, n_members=3, n_draws=200, seed=4)
    member_interval, member_p = bootstrap.paired_difference(a, b, n_draws=200, seed=4)
    assert (as_pairs["low"], as_pairs["high"], as_pairs["p_value"]) == (pair_interval.low, pair_interval.high, pair_p)
    assert (as_members["low"], as_members["high"], as_members["p_value"]) == (member_interval.low, member_interval.high, member_p)
    assert (pair_interval.low, pair_interval.high) != (member_interval.low, member_interval.high)
    assert PairValues(a, PAIRS, 3).interval(draws=200, level=0.9, seed=4) == bootstrap.multi_bootstrap_pairs(
        a, PAIRS, 3, n_draws=200, level=0.9, seed=4
    )
    assert MemberValues(a).interval(draws=200, level=0.9, seed=4) == bootstrap.multi_bootstrap(a, n_draws=200, level=0.9, seed=4)


def test_a_member_metric_is_never_paired_with_a_pair_metric():
    values = np.zeros((3, 5))
    with pytest.raises(TypeError, match="per-member"):
        MemberValues(values).minus(PairValues(values, PAIRS, 3), draws=10, level=0.95, seed=0)
    with pytest.raises(TypeError, match="same member pairs"):
        PairValues(values, PAIRS, 3).minus(MemberValues(values), draws=10, level=0.95, seed=0)
    with pytest.raises(TypeError, match="same member pairs"):
        PairValues(values, PAIRS, 3).minus(PairValues(values, [(0, 1), (0, 2), (2, 1)], 3), draws=10, level=0.95, seed=0)


def test_bootstrap_options_come_from_a_comparison_jobs_params():
    params = SimpleNamespace(comparison={"bootstrap_draws": 120, "confidence_level": 0.9, "top_k": [10]}, seed=7)
    assert bootstrap_options(params) == {"draws": 120, "level": 0.9, "seed": 7}


def test_the_sd_is_over_members_with_ddof_1_and_over_pairs_with_ddof_0_as_the_papers_error_bars():
    # GFMs @277899c: plotting.py barplot / _per_model_stats np.std(ddof=1) over models;
    # metrics.py meanstd np.std (ddof=0) over pairs.
    members = np.array([[1.0, 3.0], [2.0, 6.0], [0.0, 0.0]])  # member means 2, 4, 0
    assert MemberValues(members).sd() == pytest.approx(2.0)  # sqrt(((0)^2 + 2^2 + 2^2) / 2)
    assert MemberValues(members).sd(statistic=np.max) == pytest.approx(np.std([3.0, 6.0, 0.0], ddof=1))
    assert PairValues(members, PAIRS, 3).sd() == pytest.approx(np.sqrt(8 / 3))  # same rows, ddof 0
    assert unit_sd([5.0], pairs=True) == 0.0 and np.isnan(unit_sd([5.0], pairs=False))


def test_every_summary_row_carries_the_sd_of_its_units():
    rng = np.random.default_rng(3)
    ens = ensemble(ATHAL)
    probs = [rng.dirichlet(np.ones(12), size=40) for _ in SEEDS]
    targets = rng.integers(0, 12, 40)
    outputs = compare_outputs(ens, probs, targets, top_p_values=(1.0,), draws=20)
    by_metric = outputs["summary"].set_index("metric")
    assert by_metric.loc["entropy_bits", "sd"] == pytest.approx(outputs["members"]["entropy_bits"].std(ddof=1))
    js = outputs["per_position"]["js_distance"].values.mean(axis=1)
    assert by_metric.loc["js_distance", "sd"] == pytest.approx(np.std(js, ddof=0))
    per_sequence = [rng.random((10, 3)) for _ in SEEDS]
    tables = [pd.DataFrame({"group": ["embeddings", "layer.0", "head"], "fisher": p.sum(0)}) for p in per_sequence]
    fisher = compare_fisher(ens, tables, per_sequence, draws=20)["summary"]
    shares = np.array([p.sum(0) / p.sum() for p in per_sequence])  # each model's shares, as the paper's figure
    np.testing.assert_allclose(fisher["sd"], shares.std(axis=0, ddof=1))
    contextual = compare_contextual(ens, [rng.normal(size=(2, 30, 8)) for _ in SEEDS], draws=20)
    summary = contextual["summary"]
    for table, ddof in ((contextual["members"], 1), (contextual["pairs"], 0)):
        for (metric, layer), part in table.groupby(["metric", "layer"]):
            row = summary[(summary["metric"] == metric) & (summary["layer"] == layer)]
            assert row["sd"].item() == pytest.approx(np.std(part["value"], ddof=ddof)), metric


def test_a_reproduction_is_trained_minus_published_in_one_condition_and_objective():
    """Every trained ensemble against a released one of the same condition and objective (never
    across conditions, never trained against trained); distinguishable where the interval
    excludes 0."""
    rng = np.random.default_rng(1)
    base = rng.normal(size=(3, 40))
    trained, released = ensemble(WIKI), Ensemble(WIKI, "released", "mlm", SEEDS, source="published")
    other_condition = Ensemble(ATHAL, "released", "mlm", SEEDS, source="published")
    per_example = {
        trained: {"entropy_bits": MemberValues(base + 5.0), "same": MemberValues(base)},
        released: {"entropy_bits": MemberValues(base), "same": MemberValues(base)},
        other_condition: {"entropy_bits": MemberValues(base - 100.0)},
        ensemble(WIKI, "roformer"): {"entropy_bits": MemberValues(base)},
    }
    full = metric_contrasts(per_example, draws=200, contrast=trained_minus_published)
    assert set(full["published_architecture"]) == {"released"} and set(full["condition"]) == {"wiki-bpe"}
    assert sorted(zip(full["trained_architecture"], full["metric"])) == [
        ("bert", "entropy_bits"), ("bert", "same"), ("roformer", "entropy_bits")]
    table = full[full["trained_architecture"] == "bert"].set_index("metric")
    assert table.loc["entropy_bits", "difference"] == pytest.approx(5.0)
    assert table.loc["entropy_bits", "distinguishable"] and not table.loc["same", "distinguishable"]


def test_a_study_of_one_kind_has_an_empty_contrast_table_with_its_columns():
    """Published text models alone: no DNA-minus-text pair, but the table still names its
    columns, so that what reads it (the report's landing page) finds none rather than failing."""
    per_example = {ensemble(WIKI): {"entropy_bits": MemberValues(np.ones((3, 4)))}}
    table = metric_contrasts(per_example, draws=50)
    assert table.empty and {"metric", "difference", "dna_condition", "source"} <= set(table.columns)


# --- ensembles of one member (a single published model) --------------------------------------

ONE = Ensemble(WIKI, "single", "mlm", (0,), source="published")


def test_an_ensemble_of_one_member_has_member_rows_with_intervals_over_positions_and_no_pair_rows():
    """One member: its metrics are summarised with an interval over held-out positions alone (the
    member draw has one outcome), close to the normal interval of the mean; the SD over members
    is NaN; disagreement, embedding stability, contextual agreement and probe agreement have no
    rows and no arrays, in tables that still name their columns."""
    rng = np.random.default_rng(5)
    n = 400
    probs, targets = rng.dirichlet(np.ones(12), size=n), rng.integers(0, 12, n)
    outputs = compare_outputs(ONE, [probs], targets, draws=2000)
    summary = outputs["summary"].set_index("metric")
    assert not {"js_distance", "argmax_disagreement"} & set(summary.index)
    assert outputs["js_distance"].empty and {"metric", "estimate", "top_p", "source"} <= set(outputs["js_distance"].columns)
    assert not {"js_distance", "argmax_disagreement"} & set(outputs["per_position"])
    entropy = outputs["per_position"]["entropy_bits"].values[0]
    row = summary.loc["entropy_bits"]
    half_width = 1.96 * entropy.std(ddof=1) / np.sqrt(n)  # the normal interval of a mean of n positions
    assert row["estimate"] == pytest.approx(entropy.mean()) and row["draws"] == 2000 and np.isnan(row["sd"])
    assert (row["high"] - row["low"]) / 2 == pytest.approx(half_width, rel=0.1)
    embeddings = compare_embeddings(ONE, [rng.normal(size=(30, 8))], ks=[5], spearman_ks=[5], draws=20)
    assert embeddings["summary"].empty and embeddings["pairs_table"].empty and embeddings["per_token"] == {}
    assert {"metric", "estimate", "k", "chance"} <= set(embeddings["summary"].columns)
    contextual = compare_contextual(ONE, [rng.normal(size=(2, 30, 8))], draws=20)
    assert contextual["pairs"].empty and "linear_cka" not in set(contextual["summary"]["metric"])
    per_sequence = rng.random((10, 3))
    table = pd.DataFrame({"group": ["embeddings", "layer.0", "head"], "fisher": per_sequence.sum(0)})
    fisher = compare_fisher(ONE, [table], [per_sequence], draws=20)["summary"]
    np.testing.assert_allclose(fisher["estimate"], per_sequence.sum(0) / per_sequence.sum())
    truth = rng.integers(0, 3, 20)
    predictions = pd.DataFrame([
        {"probe": "p", "layer": "layer.0", "model": model, "seed": seed, "example": i, "label": y,
         "prediction": int(rng.integers(0, 3)), "n_classes": 3}
        for model, seeds in (("member", [0]), ("random_init", [0]), ("majority", [-1]), ("kmer4_counts", [-1]))
        for seed in seeds for i, y in enumerate(truth)
    ])
    probes = compare_probe(ONE, predictions, draws=20)
    assert "probe_agreement" not in set(probes["summary"]["metric"]) and "accuracy" in set(probes["summary"]["metric"])


def test_ensembles_are_contrasted_only_with_ensembles_of_as_many_members():
    """Members are paired by seed order: a single model is contrasted with single models only."""
    one_dna, one_text = Ensemble(ATHAL, "single", "mlm", (0,)), Ensemble(WIKI, "single", "mlm", (0,))
    three_text = Ensemble(WIKI, "single", "mlm", SEEDS)
    assert list(dna_text_pairs([one_dna, one_text, three_text])) == [(one_dna, one_text)]
    trained = ensemble(WIKI)
    assert list(trained_published_pairs([trained, ONE])) == []
    assert list(trained_published_pairs([trained, Ensemble(WIKI, "released", "mlm", SEEDS, source="published")]))


def test_every_measurement_gives_its_reproduction_in_the_shape_of_the_outputs_one():
    """Static embeddings (pair metrics), Fisher shares and contextual set metrics are contrasted
    trained minus published as the outputs are: the same columns, distinguishable where the
    interval excludes 0; the Fisher share difference is the hand-computed one."""
    rng = np.random.default_rng(9)
    trained, released = ensemble(WIKI), Ensemble(WIKI, "released", "mlm", SEEDS, source="published")
    overlap = rng.random((len(PAIRS), 50))
    embeddings = metric_contrasts(
        {trained: {"topk_overlap@10": PairValues(overlap + 0.5, PAIRS, 3)},
         released: {"topk_overlap@10": PairValues(overlap, PAIRS, 3)}},
        draws=200, contrast=trained_minus_published,
    )
    assert list(embeddings.columns) == REPRODUCTION_COLUMNS
    assert embeddings["difference"].item() == pytest.approx(0.5) and embeddings["distinguishable"].item()
    groups = ["embeddings", "layer.0", "head"]
    per_sequence = {e: np.stack([rng.random((12, 3)) * weights for _ in SEEDS])
                    for e, weights in ((trained, [4.0, 1.0, 1.0]), (released, [1.0, 1.0, 1.0]))}
    fisher = fisher_contrasts(
        {e: {"groups": groups, "per_sequence": values} for e, values in per_sequence.items()},
        draws=200, contrast=trained_minus_published,
    ).set_index("metric")
    shares = {e: values.mean(axis=(0, 1)) / values.mean(axis=(0, 1)).sum() for e, values in per_sequence.items()}
    expected = shares[trained][0] - shares[released][0]
    assert fisher.loc["fisher_fraction:embeddings", "difference"] == pytest.approx(expected)
    assert fisher.loc["fisher_fraction:embeddings", "distinguishable"]
    contextual = contextual_contrasts(
        {e: compare_contextual(e, [rng.normal(size=(2, 30, 8)) for _ in SEEDS], draws=20) for e in (trained, released)},
        draws=50, contrast=trained_minus_published,
    )
    assert list(contextual.columns) == REPRODUCTION_COLUMNS and {"linear_cka", "effective_rank"} <= set(contextual["metric"])
