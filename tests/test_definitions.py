"""The two metric definitions (seqens.paper_definitions): on small hand-made inputs each
paper-definition function equals what the paper's own code gives, and each corrected one
equals scipy.

The paper's values were computed once by running the paper's functions, copied from GitHub
lbcb-sci/GFMs at commit 277899c, on these inputs in float64: src/analyze/metrics.py
(kl_divergence, jensen_shannon_distance, rankdata, local_spearman_correlation on cosine
similarity matrices), src/analyze/distribution/distribution.py (top_p_reweight,
compute_jensen_shannon) and src/analyze/fisher/fisher.py (get_fisher_information,
reduce_fisher_average_models). Their rankdata works in float32, hence the looser tolerance
of the local Spearman constants. The paper's Fisher during training (src/train/callback.py
FisherCallback) is reproduced below and run beside ours.
"""

from collections import defaultdict

import numpy as np
import pandas as pd
import pytest
import torch
from scipy.spatial.distance import jensenshannon
from scipy.stats import entropy as scipy_entropy
from scipy.stats import spearmanr

from seqens import distributions, embedding_similarity, paper_definitions as paper
from seqens.comparisons.embeddings import compare_embeddings
from seqens.comparisons.outputs import compare_outputs
from seqens.config import Condition, Ensemble
from seqens.extraction import callback_fisher, member_fisher
from seqens.objectives import make_objective
from seqens.positions import EvalPositions, draw_bernoulli_positions
from seqens.special import special_tokens

# [members, positions, V]: a tie at the top-p boundary, a uniform row, identical rows, a one-hot.
PROBS = np.array(
    [
        [[0.5, 0.3, 0.15, 0.05], [0.25, 0.25, 0.25, 0.25], [0.9, 0.05, 0.03, 0.02]],
        [[0.1, 0.6, 0.2, 0.1], [0.4, 0.3, 0.2, 0.1], [0.9, 0.05, 0.03, 0.02]],
        [[0.7, 0.1, 0.1, 0.1], [0.05, 0.05, 0.1, 0.8], [0.0, 1.0, 0.0, 0.0]],
    ]
)
# Two members' static embeddings [V = 6, H = 3].
A = np.array([[1.0, 0.2, 0.0], [0.8, 0.5, 0.1], [0.1, 1.0, 0.3], [0.0, 0.3, 1.0], [0.5, 0.5, 0.5], [0.9, -0.2, 0.4]])
B = np.array([[0.9, 0.1, 0.3], [0.2, 0.8, 0.1], [0.3, 1.0, 0.0], [0.1, 0.2, 1.0], [0.6, 0.4, 0.5], [1.0, 0.0, 0.2]])

# The paper's code on the inputs above.
PAPER_KL_UNIFORM_TO_P = {0: [0.44896482080494376, 0.0, 1.7941702667901764], 2: [0.6200893643729612, 1.0719280948873622, 22.914460711655217]}
PAPER_TOP_P = {
    (0, 0.5): [[1.0, 0.0, 0.0, 0.0], [0.5, 0.5, 0.0, 0.0], [1.0, 0.0, 0.0, 0.0]],
    (1, 0.8): [[0.0, 0.7499999999999999, 0.25, 0.0], [0.5714285714285715, 0.4285714285714286, 0.0, 0.0], [1.0, 0.0, 0.0, 0.0]],
}
PAPER_JS = {(0, 1): [0.38790854182512247, 0.20050332253142822, 0.0], (0, 2): [0.24409446789421796, 0.4880794391371188, 0.9246606924676086]}
PAPER_MEAN_JS = {0.3: 0.6666666655926906, 0.5: 0.7286581148293302, 1.0: 0.4887086084117209}  # compute_jensen_shannon
PAPER_LOCAL_SPEARMAN = {  # k: (local_spearman_correlation(A, B), (B, A))
    2: (0.0, 0.3333333432674408),
    3: (0.1666666716337204, 0.25),
    4: (-0.03333332762122154, 0.36666667461395264),
}
# reduce_fisher_average_models of one model (PAPER_FISHER_MODEL below): squared mini-batch
# gradients summed per group over batches of 8, divided by all masked tokens.
PAPER_FISHER = {"embeddings": 0.009818114190011329, "encoder": 0.0065639384370117515, "head": 0.01723849819973111}


def test_kl_uniform_to_p_is_the_papers_and_kl_p_to_uniform_is_scipys():
    for member, expected in PAPER_KL_UNIFORM_TO_P.items():
        np.testing.assert_allclose(paper.kl_uniform_to_p_bits(PROBS[member]), expected, rtol=1e-12, atol=1e-15)
    uniform = np.full(4, 0.25)
    for member in range(3):
        np.testing.assert_allclose(
            distributions.kl_from_uniform_bits(PROBS[member]), scipy_entropy(PROBS[member], uniform, base=2, axis=1)
        )
    # the one-hot row: the paper's is bounded by the clamp, ours is log2 V
    assert paper.kl_uniform_to_p_bits(PROBS[2])[2] > 20 and distributions.kl_from_uniform_bits(PROBS[2])[2] == 2.0


def test_top_p_keeps_mass_up_to_p_in_the_paper_and_reaches_p_in_ours():
    for (member, p), expected in PAPER_TOP_P.items():
        np.testing.assert_allclose(paper.top_p_keep_below(PROBS[member], p), expected, rtol=1e-15)
    # [0.5, 0.3, 0.15, 0.05] at p = 0.5: the paper keeps the top token (mass 0.5 <= p), the
    # nucleus keeps it too; at p = 0.6 the paper still keeps one, the nucleus two.
    row = PROBS[0, :1]
    np.testing.assert_allclose(paper.top_p_keep_below(row, 0.6), [[1, 0, 0, 0]])
    np.testing.assert_allclose(distributions.top_p_truncate(row, 0.6), [[0.625, 0.375, 0, 0]])


def test_js_distance_is_the_papers_with_clamping_and_scipys_without():
    for (i, j), expected in PAPER_JS.items():
        np.testing.assert_allclose(paper.js_distance_clamped(PROBS[i], PROBS[j]), expected, rtol=1e-12, atol=1e-15)
        scipy_values = [jensenshannon(p, q, base=2) for p, q in zip(PROBS[i], PROBS[j])]
        np.testing.assert_allclose(distributions.js_distance(PROBS[i], PROBS[j]), scipy_values, atol=1e-12)


def test_pairwise_js_distance_averages_to_compute_jensen_shannon():
    top_p = list(PAPER_MEAN_JS)
    js = paper.pairwise_js_distance(PROBS, top_p, chunk_size=2)  # [pairs, p, positions]
    np.testing.assert_allclose(js.mean(axis=(0, 2)), list(PAPER_MEAN_JS.values()), rtol=1e-12)


def test_a_pairs_nan_js_becomes_that_pairs_mean():
    values = np.array([[0.2, np.nan, 0.4], [np.nan, 0.1, 0.1]])
    np.testing.assert_allclose(paper.nan_to_pair_mean(values), [[0.2, 0.3, 0.4], [0.1, 0.1, 0.1]])


def test_local_spearman_is_one_directional_in_the_paper_and_symmetric_in_ours():
    for k, (a_then_b, b_then_a) in PAPER_LOCAL_SPEARMAN.items():
        assert paper.local_spearman_one_directional(A, B, k).mean() == pytest.approx(a_then_b, abs=1e-6)
        assert paper.local_spearman_one_directional(B, A, k).mean() == pytest.approx(b_then_a, abs=1e-6)
    # ours: the mean of both directions, each over its own neighbours, as scipy's spearmanr
    k = 3
    unit_a, unit_b = embedding_similarity._unit_rows(A), embedding_similarity._unit_rows(B)
    sims_a, sims_b = unit_a @ unit_a.T, unit_b @ unit_b.T
    expected = []
    for i in range(len(A)):
        directions = []
        for own, other in ((sims_a, sims_b), (sims_b, sims_a)):
            others = np.delete(np.arange(len(A)), i)
            top = others[np.argsort(-own[i, others], kind="stable")[:k]]
            directions.append(spearmanr(own[i, top], other[i, top]).statistic)
        expected.append(np.mean(directions))
    np.testing.assert_allclose(embedding_similarity.local_spearman(A, B, k), expected, atol=1e-12)


PAPER_FISHER_PRESET = {"layers": 2, "hidden": 16, "heads": 2, "ffn": 32, "max_positions": 32, "dropout": 0.0}


def paper_fisher_model():
    """A 2-layer BERT whose every weight is drawn from numpy (seed 7), and 12 sequences with
    Bernoulli(0.25) positions, [CLS] and [SEP] among them: what the paper's Fisher was run on."""
    special = special_tokens(40)
    objective = make_objective("mlm", special, {}, "bert")
    model = objective.build_model(PAPER_FISHER_PRESET).eval()
    rng = np.random.default_rng(7)
    with torch.no_grad():
        for _, parameter in model.named_parameters():
            parameter.copy_(torch.from_numpy(0.3 * rng.standard_normal(tuple(parameter.shape))))
    ids = rng.integers(5, 40, size=(12, 10))
    ids[:, 0], ids[:, -1] = special.cls, special.sep
    positions = rng.random(ids.shape) < 0.25
    return objective, model, EvalPositions(ids, positions, np.arange(12), "")


def test_minibatch_fisher_is_the_papers():
    objective, model, positions = paper_fisher_model()
    assert positions.positions[:, 0].any() and positions.positions[:, -1].any()
    result = member_fisher(
        objective, model, positions, n_sequences=12, method="minibatch", chunk_size=paper.FISHER_BATCH_SIZE, device="cpu"
    )
    totals = dict(zip(result.groups, result.totals()))
    ours = {
        "embeddings": totals["embeddings"],
        "encoder": totals["layer.0"] + totals["layer.1"],
        "head": totals["head"],
    }
    for group, expected in PAPER_FISHER.items():
        assert ours[group] == pytest.approx(expected, rel=1e-4), group


def paper_callback_fisher(model, eval_dataloader, keys):
    """FisherCallback of lbcb-sci/GFMs @277899c (src/train/callback.py:33-92): __init__'s key
    order and _assign_group, and _compute_fisher with its args.device the CPU and
    self.num_samples None (the whole split), as written there."""
    keys = sorted(keys, key=len, reverse=True)

    def assign_group(param_name):
        for key in keys:
            if param_name.startswith(key):
                return key
        return "__other__"

    model.eval()
    fisher_accum = {}
    n_samples = 0
    for batch in eval_dataloader:
        batch = {k: v for k, v in batch.items() if isinstance(v, torch.Tensor)}
        batch_size = next(iter(batch.values())).shape[0]
        model.zero_grad()
        with torch.enable_grad():
            outputs = model(**batch)
            outputs.loss.backward()
        for name, param in model.named_parameters():
            if param.grad is not None:
                sq = param.grad.detach().pow(2).mul_(batch_size)
                fisher_accum[name] = fisher_accum.get(name, torch.zeros_like(sq)).add_(sq)
        n_samples += batch_size
    model.zero_grad()
    group_values = defaultdict(list)
    for name, accum in fisher_accum.items():
        fisher_val = accum.div_(n_samples).sum().item()
        group_values[assign_group(name)].append(fisher_val)
    return {key: sum(vals) for key, vals in group_values.items()}


def test_fisher_during_training_is_the_papers_callback():
    """callback_fisher on held-out batches masked as in training (of 5, 5 and 2 sequences: a
    short last batch weighs by its size) equals the paper's callback on the same batches in
    the Trainer's form (labels -100 where nothing is predicted), with its train.py keys."""
    objective, model, positions = paper_fisher_model()
    generator = torch.Generator().manual_seed(3)
    ids = torch.from_numpy(positions.input_ids)
    batches = [objective.training_batch(ids[start : start + 5], generator, progress=0.0) for start in (0, 5, 10)]
    assert all(batch["selected"].any() for batch in batches)
    trainer_batches = [
        {"input_ids": b["input_ids"], "labels": torch.where(b["selected"], b["targets"], -100)} for b in batches
    ]
    expected = paper_callback_fisher(model, trainer_batches, ["bert.embeddings", "bert.encoder", "cls"])
    result = callback_fisher(objective, model, batches, device="cpu")
    assert result.groups == ["embeddings", "encoder", "head"]
    ours = dict(zip(["bert.embeddings", "bert.encoder", "cls"], result.totals()))
    assert set(expected) == set(ours)
    for group, value in expected.items():
        assert ours[group] == pytest.approx(value, rel=1e-5), group
    # A batch with nothing to predict (NaN in the paper's) adds nothing but counts its sequences.
    empty = {**batches[2], "selected": torch.zeros_like(batches[2]["selected"])}
    with_empty = callback_fisher(objective, model, [*batches[:2], empty], device="cpu")
    without = callback_fisher(objective, model, batches[:2], device="cpu")
    np.testing.assert_allclose(with_empty.totals(), without.totals() * 10 / 12, rtol=1e-6)


def test_bernoulli_positions_cover_every_non_pad_token(tmp_path):
    ids = np.full((400, 8), 7, dtype=np.int64)
    ids[:, 0], ids[:, 5], ids[:, 6:] = 2, 3, 0  # [CLS] x x x x [SEP] [PAD] [PAD]
    np.save(tmp_path / "eval.npy", ids)
    drawn = draw_bernoulli_positions(tmp_path / "eval.npy", n_sequences=None, probability=0.1, seed=1, stream=1)
    assert not drawn.positions[:, 6:].any()
    rates = drawn.positions[:, :6].mean(axis=0)
    assert ((rates > 0.05) & (rates < 0.15)).all()  # [CLS] and [SEP] too, each at about p
    assert (drawn.positions.sum(axis=1) == 0).any()  # a sequence may get none
    other = draw_bernoulli_positions(tmp_path / "eval.npy", n_sequences=None, probability=0.1, seed=1, stream=2)
    assert (other.positions != drawn.positions).any()
    everything = draw_bernoulli_positions(tmp_path / "eval.npy", n_sequences=300, probability=1.0, seed=1, stream=1)
    assert everything.positions.sum() == 300 * 6


ENSEMBLE = Ensemble(Condition("wiki", "bpe", "text"), "bert", "mlm", (1, 2, 3))


def test_compare_outputs_labels_its_rows_and_computes_the_papers_metrics():
    targets = np.array([0, 1, 0])
    corrected = compare_outputs(ENSEMBLE, list(PROBS), targets, top_p_values=(0.3, 0.5, 1.0), draws=20)
    ours = compare_outputs(ENSEMBLE, list(PROBS), targets, definition="paper", top_p_values=(0.3, 0.5, 1.0), draws=20)
    assert set(corrected["summary"]["definition"]) == {"corrected"} and set(ours["summary"]["definition"]) == {"paper"}
    assert set(ours["summary"]["metric"]) == {"entropy_bits", "kl_from_uniform_bits", "cross_entropy_bits", "accuracy", "js_distance"}
    js = ours["js_distance"].set_index("top_p")["estimate"]
    for p, expected in PAPER_MEAN_JS.items():
        assert js[p] == pytest.approx(expected, rel=1e-12)
    kl = ours["members"].set_index("seed")["kl_from_uniform_bits"]
    assert kl[1] == pytest.approx(np.mean(PAPER_KL_UNIFORM_TO_P[0])) and kl[3] == pytest.approx(np.mean(PAPER_KL_UNIFORM_TO_P[2]))
    shared = ["entropy_bits", "cross_entropy_bits", "accuracy"]  # same definition, same positions here
    pd.testing.assert_series_equal(
        corrected["members"][shared].iloc[0], ours["members"][shared].iloc[0], check_names=False
    )


def test_compare_embeddings_reports_local_spearman_per_definition_and_the_rest_once():
    rng = np.random.default_rng(0)
    members = [rng.standard_normal((30, 4)) for _ in range(3)]
    both = compare_embeddings(ENSEMBLE, members, ks=(3, 5), spearman_ks=[4], definitions=("corrected", "paper"), draws=20)
    summary = both["summary"].set_index(["metric", "definition"])
    assert set(summary.loc["local_spearman"].index) == {"corrected", "paper"}
    for metric in ("topk_overlap", "procrustes_disparity", "linear_cka"):
        assert set(summary.loc[metric].index) == {"both"}
    pairs = both["pairs_table"]
    paper_values = pairs[(pairs["metric"] == "local_spearman") & (pairs["definition"] == "paper")]["value"]
    expected = [paper.local_spearman_one_directional(members[i], members[j], 4).mean() for i, j in both["pairs"]]
    np.testing.assert_allclose(paper_values, expected)
    only_ours = compare_embeddings(ENSEMBLE, members, ks=(3, 5), spearman_ks=[4], draws=20)
    assert set(only_ours["summary"]["definition"]) == {"corrected", "both"}
