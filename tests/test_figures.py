"""Figures a reader can put in a paper: journal widths, legible text, every axis labelled,
bits everywhere, and the reference each number is read against."""

import logging

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from seqens import plotting
from seqens.comparisons.embeddings import compare_embeddings
from seqens.comparisons.fisher import compare_fisher
from seqens.comparisons.outputs import compare_outputs
from seqens.comparisons.probes import compare_probe
from seqens.comparisons.regions import compare_regions
from seqens.config import Condition, Ensemble
from seqens.contextual import compare_contextual

from conftest import pdf_text

SEEDS = (1, 2)
VOCAB = 40


def ensembles():
    return [Ensemble(Condition("wiki", "bpe", "text"), "bert", "mlm", SEEDS),
            Ensemble(Condition("athal", "bpe", "dna"), "bert", "mlm", SEEDS)]


@pytest.fixture(scope="module")
def tables():
    rng = np.random.default_rng(0)
    targets = rng.integers(5, VOCAB, 60)
    outputs, embeddings, contextual, fisher, entropy, logs, fisher_logs, probe_tables = [], [], [], [], [], [], [], []
    regions = []
    for ensemble in ensembles():
        probs = [rng.dirichlet(np.ones(VOCAB), size=60) for _ in SEEDS]
        # Count baselines of orders 0..2 (best 1) from their own generator: the other tables' draws stay as they were.
        counts = (np.log2(np.random.default_rng(2).uniform(0.01, 0.5, (3, 60))), 1)
        outputs.append(compare_outputs(ensemble, probs, targets, counts=counts, draws=20))
        if ensemble.condition.kind == "dna":  # its own generator: the other tables' draws stay as they were
            classes_rng = np.random.default_rng(1)
            classes = pd.DataFrame({"position": range(60), "characters": classes_rng.integers(1, 7, 60).astype(float),
                                    "region": classes_rng.choice(["CDS", "UTR", "intron", "intergenic"], 60),
                                    "repeat": classes_rng.choice(["repeat", "unique"], 60)})
            regions.append(compare_regions(ensemble, outputs[-1]["per_position"], classes, draws=20)["summary"])
        embeddings.append(compare_embeddings(ensemble, [rng.normal(size=(VOCAB, 8)) for _ in SEEDS],
                                             ks=[1, 5, 20], spearman_ks=[3, 5], draws=20)["summary"])
        contextual.append(compare_contextual(ensemble, [rng.normal(size=(3, 30, 8)) for _ in SEEDS],
                                             draws=20)["summary"])
        groups = ["embeddings", "layer.0", "head"]
        per_sequence = [rng.random((10, 3)) * [1, 0.002, 0.3] for _ in SEEDS]
        member_tables = [pd.DataFrame({"group": groups, "fisher": p.sum(0)}) for p in per_sequence]
        fisher.append(compare_fisher(ensemble, member_tables, per_sequence, draws=20)["summary"])
        entropy.append(pd.DataFrame({"model": ["markov"] * 3 + ["mixture"], "order": [0, 1, 2, 16],
                                     "bits_per_token": [5.0, 4.0, 3.9, 3.5], "bits_per_character": [2.0, 1.6, 1.5, 1.4],
                                     "log2_vocab": np.log2(VOCAB), "condition": ensemble.condition.name}))
        truth = rng.integers(0, 3, 30)
        predictions = [{"probe": "p", "layer": "layer.1", "model": model, "seed": seed, "example": i, "label": y,
                        "prediction": int(rng.integers(0, 3)), "n_classes": 3}
                       for model, seeds in (("member", SEEDS), ("random_init", SEEDS), ("majority", [-1]),
                                            ("kmer4_counts", [-1])) for seed in seeds for i, y in enumerate(truth)]
        probe_tables.append(compare_probe(ensemble, pd.DataFrame(predictions), draws=20)["summary"])
        for seed in SEEDS:
            logs.append(pd.DataFrame({"step": [10, 20], "train_loss": [3.0, 2.5], "eval_loss": [np.nan, 2.6],
                                      **ensemble.labels(), "seed": seed}))
            for step in (0, 10, 20):
                for definition, definition_groups in (("corrected", groups), ("paper", ["embeddings", "encoder", "head"])):
                    shares = rng.dirichlet(np.ones(3))
                    fisher_logs.append(pd.DataFrame({"group": definition_groups, "order": [0, 1, 2],
                                                     "fisher_fraction": shares, "step": step, "definition": definition,
                                                     **ensemble.labels(), "seed": seed}))
    return {
        "summary": pd.concat([o["summary"] for o in outputs]),
        "ranks": pd.concat([o["rank_curve"] for o in outputs]),
        "js": pd.concat([o["js_distance"] for o in outputs]),
        "data_entropy": pd.concat(entropy),
        "embeddings": pd.concat(embeddings),
        "contextual": pd.concat(contextual),
        "fisher": pd.concat(fisher),
        "logs": pd.concat(logs),
        "fisher_log": pd.concat(fisher_logs),
        "probes": pd.concat(probe_tables),
        "regions": pd.concat(regions),
    }


@pytest.fixture(scope="module")
def figures(tables):
    drawn = {
        "entropy": plotting.plot_entropy(tables["summary"], tables["ranks"], tables["data_entropy"]),
        "js_distance": plotting.plot_js_distance(tables["js"]),
        "embeddings": plotting.plot_embeddings(tables["embeddings"]),
        "contextual": plotting.plot_contextual(tables["contextual"]),
        "fisher": plotting.plot_fisher(tables["fisher"]),
        "loss_curves": plotting.plot_loss_curves(tables["logs"]),
        "fisher_training": plotting.plot_fisher_training(tables["fisher_log"]),
        "probes": plotting.plot_probes(tables["probes"]),
        "regions": plotting.plot_regions(tables["regions"]),
        "beyond_counts": plotting.plot_beyond_counts(tables["summary"], tables["data_entropy"], tables["regions"]),
    }
    yield drawn
    for figure in drawn.values():
        plt.close(figure)


def labels_of(ax):
    return [line.get_label() for line in ax.get_lines()] + [c.get_label() for c in ax.collections]


def test_journal_width_legible_text_and_labelled_axes(figures):
    for name, figure in figures.items():
        width, _ = figure.get_size_inches()
        assert width in (plotting.SINGLE_COLUMN, plotting.DOUBLE_COLUMN), (name, width)
        figure.canvas.draw()
        sizes = [t.get_fontsize() for t in figure.findobj(plt.Text) if t.get_text().strip()]
        assert min(sizes) >= 5.5, (name, min(sizes))
        for ax in (ax for ax in figure.axes if ax.get_visible()):
            assert ax.get_ylabel(), f"{name}: panel '{ax.get_title()}' has no y label"


def test_numbers_are_shown_against_their_references(figures):
    entropy = {ax.get_title(): ax for ax in figures["entropy"].axes}
    for title in ("Cross-entropy at hidden positions", "Entropy of predictions"):
        assert {"training unigram", "log2 V"} <= set(labels_of(entropy[title]))
    assert "training unigram" in labels_of(entropy["KL from uniform"])
    assert all("bits" in ax.get_ylabel() for ax in figures["entropy"].axes if ax.get_title() != "Sorted probability vs rank")
    overlap = figures["embeddings"].axes[0]
    assert "chance (random neighbours)" in labels_of(overlap)
    assert figures["fisher"].axes[0].get_yscale() == "log"  # shares of 0.001 stay visible
    layers = figures["contextual"].axes[0]
    assert [t.get_text() for t in layers.get_xticklabels()] == ["embeddings", "layer.0", "layer.1"]
    assert all(ax.get_ylabel() == "loss (bits per token)" for ax in figures["loss_curves"].axes if ax.get_visible())
    during = [ax for ax in figures["fisher_training"].axes if ax.get_visible()]
    assert len(during) == 4 and all(ax.get_yscale() == "log" and ax.get_xlabel() == "step" for ax in during)
    assert [ax.get_title().rpartition(", ")[2] for ax in during] == ["corrected", "corrected", "paper", "paper"]
    assert [t.get_text() for t in figures["fisher_training"].legends[0].get_texts()] == \
        ["embeddings", "layer.0", "encoder", "head"]  # input to output
    probe = figures["probes"].axes[0]
    assert {"count baseline", "untrained members", "majority class"} <= set(labels_of(probe))
    assert probe.get_title().endswith("count baseline: 4-mer counts")
    regions = {ax.get_title(): ax for ax in figures["regions"].axes}
    assert "training unigram" in labels_of(regions["Cross-entropy at hidden positions, per base"])
    assert regions["Beyond the unigram, per base"].get_ylabel() == "bits per base"
    ticks = [t.get_text() for t in regions["Entropy of predictions"].get_xticklabels()]
    assert [t.split("\n")[0] for t in ticks] == ["CDS", "UTR", "intron", "intergenic", "repeat", "unique"]


def legend_colours(figure):
    """The figure legend's entry -> colour (conditions, variants, references)."""
    (legend,) = figure.legends
    return {text.get_text(): handle.get_color() for text, handle in zip(legend.get_texts(), legend.legend_handles)
            if hasattr(handle, "get_color")}


@pytest.mark.parametrize("name, table", [("entropy", "summary"), ("embeddings", "embeddings"),
                                         ("contextual", "contextual"), ("fisher", "fisher"), ("probes", "probes"),
                                         ("regions", "regions"), ("beyond_counts", "summary")])
def test_a_point_has_its_conditions_colour_in_every_panel(figures, tables, name, table):
    """Colour means the condition, the same in every panel (not the kernel, the variant or the
    panel's own order): each point estimate drawn has the legend's colour of its row's condition."""
    colours = legend_colours(figures[name])
    rows = tables[table]
    if name == "probes":  # the references are grey marks: the members' accuracy is the coloured point
        rows = rows[rows["metric"] == "accuracy"]
    checked = 0
    for ax in figures[name].axes:
        for line in ax.get_lines():
            if len(line.get_ydata()) != 1 or line.get_marker() in ("None", ""):
                continue
            matches = set(rows.loc[np.isclose(rows["estimate"], line.get_ydata()[0]), "condition"])
            if len(matches) == 1:
                drawn = matplotlib.colors.to_rgb(line.get_color())
                assert colours[matches.pop()] == drawn, (name, ax.get_title())
                checked += 1
    assert checked >= len(ensembles()), name


def test_legends_sit_outside_the_panels(figures):
    for name, figure in figures.items():
        assert len(figure.legends) == 1, name
        assert all(ax.get_legend() is None for ax in figure.axes), name
        figure.canvas.draw()
        legend_box = figure.legends[0].get_window_extent()
        for ax in (ax for ax in figure.axes if ax.get_visible()):
            assert not legend_box.overlaps(ax.get_window_extent()), (name, ax.get_title())


def test_js_distance_is_labelled_as_the_unitless_square_root_of_the_divergence(figures):
    label = figures["js_distance"].axes[0].get_ylabel()
    assert "square root of JS divergence in bits" in label and not label.endswith("(bits)")
    assert figures["js_distance"].axes[0].get_ylim() == (0, 1)


def test_probe_references_are_drawn_with_their_intervals(figures, tables):
    ax = figures["probes"].axes[0]
    vertical = [segment for collection in ax.collections for segment in collection.get_segments()
                if len(segment) == 2 and segment[0][0] == segment[1][0]]
    spans = {(round(min(s[:, 1]), 9), round(max(s[:, 1]), 9)) for s in vertical}
    for metric in ("baseline_accuracy", "random_init_accuracy", "majority_accuracy"):
        for row in tables["probes"][tables["probes"]["metric"] == metric].itertuples():
            assert (round(row.low, 9), round(row.high, 9)) in spans, (metric, row.condition)


def test_local_spearman_at_one_k_dodges_the_ensembles_on_a_linear_axis(tables):
    summary = tables["embeddings"]
    one_k = summary[(summary["metric"] != "local_spearman") | (summary["k"] == 3)]
    figure = plotting.plot_embeddings(one_k)
    ax = figure.axes[1]
    assert ax.get_xscale() == "linear" and [t.get_text() for t in ax.get_xticklabels()] == ["3"]
    xs = [line.get_xdata()[0] for line in ax.get_lines()]
    assert len(xs) == len(ensembles()) == len(set(xs))
    plt.close(figure)


def test_baseline_names_for_readers():
    assert plotting.baseline_name("kmer4_counts") == "4-mer counts"
    assert plotting.baseline_name("bag_of_tokens") == "bag of tokens"


def test_a_condition_keeps_its_colour_when_a_table_lacks_another(tables):
    """Colours follow the study's conditions: a probe table without the first condition
    (no probe for it) still draws the others in the colours every other figure gives them."""
    study = list(dict.fromkeys(tables["fisher"]["condition"]))
    full = legend_colours(plotting.plot_fisher(tables["fisher"], study_conditions=study))
    probes = tables["probes"]
    without_first = probes[probes["condition"] != study[0]]
    partial = legend_colours(plotting.plot_probes(without_first, study_conditions=study))
    assert study[0] not in partial
    assert all(partial[c] == full[c] for c in study[1:])
    plt.close("all")


def test_saving_a_figure_logs_no_font_subsetting(tmp_path, caplog):
    """fontTools.subset logs a line per font table at INFO: figure logs were 98% of them."""
    caplog.set_level(logging.INFO)
    fig, ax = plt.subplots()
    ax.set_xlabel("bits per character")
    plotting.save(fig, tmp_path / "figure.pdf")
    assert "bits per character" in pdf_text(tmp_path / "figure.pdf")
    assert not [record for record in caplog.records if record.name.startswith("fontTools")]


def test_a_saved_figure_shows_its_titles_labels_and_legend(tables, tmp_path):
    """The PDF (papers) holds the figure as drawn: every panel's title and axis labels and
    every legend entry are in it as text (fonts embedded, pdf.fonttype 42)."""
    figure = plotting.plot_entropy(tables["summary"], tables["ranks"], tables["data_entropy"])
    drawn = {text for ax in figure.axes if ax.get_visible() for text in (ax.get_title(), ax.get_xlabel(), ax.get_ylabel())}
    drawn |= {text.get_text() for text in figure.legends[0].get_texts()}
    plotting.save(figure, tmp_path / "entropy.pdf", tmp_path / "entropy.png")
    assert drawn - {""} <= set(pdf_text(tmp_path / "entropy.pdf"))
    assert {"wiki-bpe", "athal-bpe", "Entropy of predictions"} <= drawn  # what the figure is about


def test_the_answer_figure_shows_members_against_unigram_counts_and_entropy_rate_overall_and_by_region(figures):
    panels = {ax.get_title(): ax for ax in figures["beyond_counts"].axes}
    assert set(panels) == {"Bits at hidden positions", "Beyond the best count model",
                           "Bits at hidden positions, by region", "Beyond the best count model, by region"}
    references = {"training unigram", "best count model (k visible tokens each side)", "entropy rate (mixed orders)"}
    assert references <= set(labels_of(panels["Bits at hidden positions"]))
    assert references - {"entropy rate (mixed orders)"} <= set(labels_of(panels["Bits at hidden positions, by region"]))
    assert panels["Bits at hidden positions"].get_ylabel() == "bits per base (DNA) or character (text)"
    ticks = [t.get_text() for t in panels["Beyond the best count model, by region"].get_xticklabels()]
    assert ticks == ["CDS", "UTR", "intron", "intergenic", "repeat", "unique"]


def test_the_answer_figure_draws_the_tables_values(tables):
    """Each mark and reference line sits at its table's value: the members' bits per character
    and beyond counts (with their intervals), the unigram's and best count model's, and the
    corpus's entropy rate (``mixture``, per character)."""
    figure = plotting.plot_beyond_counts(tables["summary"], tables["data_entropy"])
    assert len(figure.axes) == 2  # without a regions table: the overall panels only
    levels, beyond = figure.axes
    summary = tables["summary"].set_index(["condition", "metric"])["estimate"]
    marks = {round(line.get_ydata()[0], 9) for line in levels.get_lines() if len(line.get_ydata()) == 1}
    short_lines = {round(segment[0][1], 9) for collection in levels.collections for segment in collection.get_segments()
                   if segment[0][1] == segment[1][1]}
    for condition in ("wiki-bpe", "athal-bpe"):
        assert round(summary[(condition, "cross_entropy_bits_per_character")], 9) in marks
        for metric in ("unigram_cross_entropy_bits_per_character", "count_cross_entropy_bits_per_character"):
            assert round(summary[(condition, metric)], 9) in short_lines, (condition, metric)
    assert 1.4 in short_lines  # the fixture's mixture row, per character
    beyond_marks = {round(line.get_ydata()[0], 9) for line in beyond.get_lines() if len(line.get_ydata()) == 1}
    assert {round(v, 9) for v in summary.xs("bits_beyond_counts_per_character", level="metric")} <= beyond_marks
    plt.close(figure)


def test_the_saved_answer_figure_shows_its_titles_labels_and_legend(figures, tmp_path):
    figure = figures["beyond_counts"]
    drawn = {text for ax in figure.axes for text in (ax.get_title(), ax.get_ylabel())}
    drawn |= {text.get_text() for text in figure.legends[0].get_texts()}
    plotting.save(figure, tmp_path / "beyond_counts.pdf")
    assert drawn - {""} <= set(pdf_text(tmp_path / "beyond_counts.pdf"))
    assert {"wiki-bpe", "athal-bpe", "best count model (k visible tokens each side)"} <= drawn


@pytest.mark.parametrize("single_only", [False, True])
def test_figures_of_pair_metrics_draw_when_an_ensemble_has_one_member(tmp_path, single_only):
    """A single published model has no pair rows: beside an ensemble of two, the figures draw the
    ensemble; alone, they still draw, saying there are no member pairs. Tables read back from
    CSV, as the figure jobs read them."""
    rng = np.random.default_rng(4)
    single = Ensemble(Condition("wiki", "nt", "text"), "single", "mlm", (0,), source="published")
    ensembles_ = [single] if single_only else [single, ensembles()[1]]
    js, embeddings = [], []
    for ensemble in ensembles_:
        probs = [rng.dirichlet(np.ones(VOCAB), size=60) for _ in ensemble.seeds]
        js.append(compare_outputs(ensemble, probs, rng.integers(5, VOCAB, 60), draws=20)["js_distance"])
        embeddings.append(compare_embeddings(ensemble, [rng.normal(size=(VOCAB, 8)) for _ in ensemble.seeds],
                                             ks=[1, 5], spearman_ks=[3], draws=20)["summary"])
    for name, parts in (("js", js), ("embeddings", embeddings)):
        pd.concat(parts, ignore_index=True).to_csv(tmp_path / f"{name}.csv", index=False)
    conditions = [e.condition.name for e in ensembles_]
    drawn = [plotting.plot_js_distance(pd.read_csv(tmp_path / "js.csv"), conditions),
             plotting.plot_embeddings(pd.read_csv(tmp_path / "embeddings.csv"), conditions)]
    for figure in drawn:
        texts = {text.get_text() for ax in figure.axes for text in ax.texts}
        assert (plotting.NO_PAIRS in texts) == single_only
        plotting.save(figure, tmp_path / "figure.pdf")
        plt.close(figure)
