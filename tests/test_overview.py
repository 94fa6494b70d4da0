"""The report's landing page says what each ensemble learned and whether the paper's
findings hold, and renders as reStructuredText."""

import pandas as pd
from docutils.core import publish_parts

from seqens.overview import overview_page

STUDY = {"name": "demo", "conditions": ["wiki-bpe", "athal-bpe"], "architectures": ["roformer"],
         "objectives": ["mlm"], "seeds": [1, 2, 3], "model": "demo", "steps": 100, "tokens_per_member": 102400}


def summary_rows(condition, estimate, low, high, unigram_bits=10.0):
    labels = {"condition": condition, "architecture": "roformer", "objective": "mlm"}
    return [
        {**labels, "metric": "bits_beyond_unigram", "estimate": estimate, "low": low, "high": high},
        {**labels, "metric": "bits_beyond_unigram_per_character", "estimate": estimate / 2, "low": low / 2,
         "high": high / 2},
        {**labels, "metric": "unigram_cross_entropy_bits", "estimate": unigram_bits, "low": unigram_bits - 0.1,
         "high": unigram_bits + 0.1},
    ]


def contrast(metric, difference, low, high):
    return {"architecture": "roformer", "objective": "mlm", "dna_condition": "athal-bpe",
            "text_condition": "wiki-bpe", "metric": metric, "difference": difference, "low": low, "high": high}


def test_landing_page_reads_learning_and_directions():
    summary = pd.DataFrame(summary_rows("wiki-bpe", 2.1, 2.0, 2.2) + summary_rows("athal-bpe", 0.001, -0.01, 0.01))
    contrasts = pd.DataFrame([
        contrast("entropy_bits", 2.0, 1.9, 2.1),  # as the paper
        contrast("js_distance", -0.3, -0.4, -0.2),  # reversed
        contrast("procrustes_disparity", 0.01, -0.02, 0.04),  # interval holds 0
        contrast("topk_overlap@10", -0.05, -0.07, -0.03),
        contrast("fisher_fraction:embeddings", 0.2, 0.1, 0.3),
        contrast("accuracy", -0.1, -0.2, -0.05),  # not one of the findings
    ])
    page = overview_page(STUDY, summary, contrasts)
    html = publish_parts(page, writer="html", settings_overrides={"halt_level": 2})["html_body"]
    assert "Ensemble study &#39;demo&#39;" in html or "Ensemble study 'demo'" in html
    assert "learned from context" in html and "no more than token frequencies" in html
    assert "No learning beyond the unigram for athal-bpe (roformer mlm)" in html
    rows = {line.split(" - ")[-1] for line in page.splitlines() if line.startswith("     - ")}
    assert {"yes", "reversed", "unclear (interval holds 0)"} <= rows
    assert "accuracy" not in page and "102,400 training tokens per member" in page


def test_landing_page_reads_probes_against_their_baselines():
    summary = pd.DataFrame(summary_rows("wiki-bpe", 2.1, 2.0, 2.2))
    labels = {"condition": "athal-kmer6", "architecture": "roformer", "objective": "mlm", "probe": "region",
              "layer": "layer.1", "baseline": "kmer4_counts"}
    probes = pd.DataFrame([
        {**labels, "metric": "accuracy", "estimate": 0.6, "low": 0.5, "high": 0.7},
        {**labels, "metric": "baseline_accuracy", "estimate": 0.45, "low": 0.35, "high": 0.55},
        {**labels, "metric": "gain_over_baseline", "estimate": 0.15, "low": 0.05, "high": 0.25},
        {**labels, "metric": "gain_over_random_init", "estimate": -0.1, "low": -0.2, "high": -0.01},
        {**labels, "layer": "layer.0", "metric": "accuracy", "estimate": 0.1, "low": 0.0, "high": 0.2},
    ])
    page = overview_page(STUDY, summary, pd.DataFrame([contrast("entropy_bits", 2.0, 1.9, 2.1)]), probes)
    publish_parts(page, writer="html", settings_overrides={"halt_level": 2})  # valid RST
    assert "Frozen features on labelled tasks" in page
    assert "region (athal-kmer6)" in page and "kmer4_counts: 0.45 [0.35, 0.55]" in page
    cells = [line.split(" - ")[-1] for line in page.splitlines() if line.startswith("     - ")]
    assert "yes" in cells and "no, worse" in cells and "0.1 [0, 0.2]" not in cells  # last layer only
    assert "Frozen features" not in overview_page(STUDY, summary, pd.DataFrame([contrast("entropy_bits", 2.0, 1.9, 2.1)]))


def test_the_verdict_grades_a_gain_by_its_interval_and_its_share_of_the_unigrams_bits():
    """The demo's numbers: wiki-bpe removes 22% of the unigram's bits, athal-kmer6 0.4%
    (an interval that excludes 0, yet a trace), athal-bpe's interval holds 0."""
    summary = pd.DataFrame(summary_rows("wiki-bpe", 1.9, 1.01, 2.46, unigram_bits=8.55)
                           + summary_rows("athal-bpe", -0.0062, -0.013, 0.0006, unigram_bits=8.71)
                           + summary_rows("athal-kmer6", 0.0463, 0.0252, 0.0684, unigram_bits=11.64)
                           + summary_rows("athal-char", 0.5, 0.4, 0.6, unigram_bits=2.0))
    page = overview_page({**STUDY, "conditions": ["wiki-bpe", "athal-bpe", "athal-kmer6", "athal-char"]},
                         summary, pd.DataFrame([contrast("entropy_bits", 2.0, 1.9, 2.1)]))
    verdicts = [line.split(" - ", 1)[1] for line in page.splitlines()
                if line.startswith("     - ") and ("frequencies" in line or "context" in line)]
    assert verdicts == [
        "learned from context (22.2% of the unigram's 8.55 bits)",
        "**no more than token frequencies**",
        "*a trace* beyond token frequencies (0.4% of the unigram's 11.6 bits)",
        "learned from context (25.0% of the unigram's 2 bits)",
    ]
    assert "Only a trace of learning beyond the unigram for athal-kmer6 (roformer mlm)" in page
    modest = overview_page(STUDY, pd.DataFrame(summary_rows("wiki-bpe", 0.5, 0.4, 0.6)),
                           pd.DataFrame([contrast("entropy_bits", 2.0, 1.9, 2.1)]))
    assert "modestly from context (5.0% of the unigram's 10 bits)" in modest
    publish_parts(page, writer="html", settings_overrides={"halt_level": 2})  # still valid RST


def test_the_landing_page_says_whether_each_reproduction_is_distinguishable():
    """Trained minus published, across measurements: a count per pair and a verdict per headline
    metric; single published models get a note on their intervals; no reproduction, no section."""
    summary = pd.DataFrame(summary_rows("wiki-gfms", 2.1, 2.0, 2.2))
    labels = {"condition": "wiki-gfms", "objective": "mlm", "trained_architecture": "bert",
              "published_architecture": "released"}
    reproductions = pd.DataFrame([
        {**labels, "metric": "bits_beyond_unigram", "difference": -0.4, "low": -0.5, "high": -0.3, "distinguishable": True},
        {**labels, "metric": "topk_overlap@10", "difference": 0.01, "low": -0.02, "high": 0.04, "distinguishable": False},
        {**labels, "metric": "linear_cka", "difference": 0.2, "low": 0.1, "high": 0.3, "distinguishable": True},
        {**labels, "metric": "accuracy", "difference": 0.0, "low": -0.1, "high": 0.1, "distinguishable": False},
    ])
    study = {**STUDY, "single_models": ["wiki-nt (single)"]}
    page = overview_page(study, summary, pd.DataFrame([contrast("entropy_bits", 2.0, 1.9, 2.1)]),
                         reproductions=reproductions)
    publish_parts(page, writer="html", settings_overrides={"halt_level": 2})  # valid RST
    assert "bert (trained) − released (published), wiki-gfms mlm: distinguishable in 2 of 4 metrics." in page
    rows = [line.split(" - ", 1)[1] for line in page.splitlines() if line.startswith("     - ")]
    assert rows.count("**yes**: they differ") == 2 and rows.count("no (interval holds 0)") == 1  # headline metrics
    assert "Single published models: wiki-nt (single)" in page and "held-out positions only" in page
    plain = overview_page(STUDY, summary, pd.DataFrame([contrast("entropy_bits", 2.0, 1.9, 2.1)]),
                          reproductions=reproductions.iloc[:0])
    assert "Reproductions" not in plain and "Single published" not in plain
