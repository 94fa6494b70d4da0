"""The report's landing page says what each ensemble learned and whether the paper's
findings hold, and renders as reStructuredText."""

import pandas as pd
from docutils.core import publish_parts

from seqens.overview import overview_page

STUDY = {"name": "demo", "conditions": ["wiki-bpe", "athal-bpe"], "architectures": ["roformer"],
         "objectives": ["mlm"], "seeds": [1, 2, 3], "model": "demo", "steps": 100, "tokens_per_member": 102400}


def summary_rows(condition, estimate, low, high):
    labels = {"condition": condition, "architecture": "roformer", "objective": "mlm"}
    return [
        {**labels, "metric": "bits_beyond_unigram", "estimate": estimate, "low": low, "high": high},
        {**labels, "metric": "bits_beyond_unigram_per_character", "estimate": estimate / 2, "low": low / 2,
         "high": high / 2},
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
              "layer": "last", "baseline": "kmer4_counts"}
    probes = pd.DataFrame([
        {**labels, "metric": "accuracy", "estimate": 0.6, "low": 0.5, "high": 0.7},
        {**labels, "metric": "baseline_accuracy", "estimate": 0.45, "low": 0.35, "high": 0.55},
        {**labels, "metric": "gain_over_baseline", "estimate": 0.15, "low": 0.05, "high": 0.25},
        {**labels, "metric": "gain_over_random_init", "estimate": -0.1, "low": -0.2, "high": -0.01},
        {**labels, "layer": "layer.1", "metric": "accuracy", "estimate": 0.1, "low": 0.0, "high": 0.2},
    ])
    page = overview_page(STUDY, summary, pd.DataFrame([contrast("entropy_bits", 2.0, 1.9, 2.1)]), probes)
    publish_parts(page, writer="html", settings_overrides={"halt_level": 2})  # valid RST
    assert "Frozen features on labelled tasks" in page
    assert "region (athal-kmer6)" in page and "kmer4_counts: 0.45 [0.35, 0.55]" in page
    cells = [line.split(" - ")[-1] for line in page.splitlines() if line.startswith("     - ")]
    assert "yes" in cells and "no, worse" in cells and "0.1 [0, 0.2]" not in cells  # last layer only
    assert "Frozen features" not in overview_page(STUDY, summary, pd.DataFrame([contrast("entropy_bits", 2.0, 1.9, 2.1)]))
