"""Contextual-embedding metrics against hand-computed cases, scipy, and the paper's own
functions (lbcb-sci/GFMs @277899c, src/analyze/embeddings/embeddings.py, copied below)."""

import numpy as np
import pandas as pd
import pytest
import torch
from scipy.spatial.distance import pdist
from scipy.stats import special_ortho_group
from torch.nn import functional as F

from seqens import bootstrap
from seqens import contextual as c
from seqens.config import Condition, Ensemble

ONES = np.ones((1, 1))


def value(metric, X):
    return float(getattr(c.SequenceSet(X), metric)(np.ones((1, len(X))))[0])


def pair_value(metric, X, Y):
    return float(c.PAIR_FUNCTIONS[metric](c.SequenceSet(X), c.SequenceSet(Y), np.ones((1, len(X))))[0])


# --- the paper's functions, verbatim (embeddings.py:128-195) --------------------------------------


def paper_uniformity(X):
    X_norm = F.normalize(X, dim=-1)
    dists = torch.pdist(X_norm, p=2).pow(2)
    return dists.mul(-2).exp().mean().log().item()


def paper_participation_ratio(X):
    X_centered = X - X.mean(dim=0)
    _, S, _ = torch.linalg.svd(X_centered, full_matrices=False)
    S2 = S**2
    return (S2.sum() ** 2 / (S2**2).sum()).item()


def paper_avg_cosine_sim(X):
    X_norm = F.normalize(X, dim=-1)
    sim = X_norm @ X_norm.T
    idx = torch.triu_indices(len(X), len(X), offset=1)
    return sim[idx[0], idx[1]].mean().item()


def paper_neighbor_alignment(X, Y, k=10):
    X_norm = F.normalize(X, dim=-1)
    Y_norm = F.normalize(Y, dim=-1)

    def get_knn(Z):
        sim = Z @ Z.T
        sim.fill_diagonal_(float("-inf"))
        return sim.topk(k, dim=-1).indices

    nn_x = get_knn(X_norm)
    nn_y = get_knn(Y_norm)
    shared = sum(len(set(nn_x[i].tolist()) & set(nn_y[i].tolist())) for i in range(len(X)))
    return shared / (len(X) * k)


def paper_alignment(X, Y):
    X_norm = F.normalize(X, dim=-1)
    Y_norm = F.normalize(Y, dim=-1)
    return (X_norm - Y_norm).norm(dim=-1).pow(2).mean().item()


def paper_effective_rank(X):
    X_centered = X - X.mean(dim=0)
    _, S, _ = torch.linalg.svd(X_centered, full_matrices=False)
    p = S / S.sum()
    entropy = -(p * torch.log(p + 1e-9)).sum()
    return torch.exp(entropy).item()


def paper_anisotropy(X):
    X_norm = F.normalize(X, dim=-1)
    return X_norm.mean(dim=0).norm().item()


def paper_pairwise_dist_std(X):
    return torch.pdist(X, p=2).std().item()


def paper_linear_cka(X, Y):
    X = X - X.mean(dim=0)
    Y = Y - Y.mean(dim=0)
    num = (Y.T @ X).norm(p="fro").pow(2)
    return (num / ((X.T @ X).norm(p="fro") * (Y.T @ Y).norm(p="fro"))).item()


PAPER_MEMBER = {
    "effective_rank": paper_effective_rank,
    "uniformity": paper_uniformity,
    "anisotropy": paper_anisotropy,
    "average_cosine": paper_avg_cosine_sim,
    "pairwise_distance_sd": paper_pairwise_dist_std,
    "participation_ratio": paper_participation_ratio,
}
PAPER_PAIR = {
    "neighbour_alignment": paper_neighbor_alignment,
    "l2_alignment": paper_alignment,
    "linear_cka": paper_linear_cka,
}


@pytest.mark.parametrize("shape", [(40, 6), (12, 30)])  # n > H and n < H: both spectra
def test_every_metric_equals_the_papers_function(shape):
    rng = np.random.default_rng(0)
    X = rng.normal(size=shape) + rng.normal(size=shape[1])  # off-centre, as hidden states are
    Y = X @ rng.normal(size=(shape[1], shape[1])) + 0.5 * rng.normal(size=shape)
    for metric, paper in PAPER_MEMBER.items():
        assert value(metric, X) == pytest.approx(paper(torch.from_numpy(X)), rel=1e-9, abs=1e-12), metric
    for metric, paper in PAPER_PAIR.items():
        assert pair_value(metric, X, Y) == pytest.approx(paper(torch.from_numpy(X), torch.from_numpy(Y)), rel=1e-9), metric


def test_hand_computed_cases():
    rng = np.random.default_rng(1)
    rank_one = np.outer(rng.normal(size=50), rng.normal(size=8))
    assert value("effective_rank", rank_one) == pytest.approx(1.0, abs=1e-6)
    assert value("participation_ratio", rank_one) == pytest.approx(1.0, abs=1e-9)
    # k orthogonal directions of equal spread: effective rank and participation ratio k.
    square = np.kron(np.eye(4), [[1.0], [-1.0]])  # 8 points, +-e_i
    assert value("effective_rank", square) == pytest.approx(4.0, rel=1e-6)
    assert value("participation_ratio", square) == pytest.approx(4.0)
    # Two antipodal points: distance^2 4, uniformity log exp(-8); average cosine -1.
    antipodal = np.array([[1.0, 0.0], [-3.0, 0.0]])
    assert value("uniformity", antipodal) == pytest.approx(-8.0)
    assert value("average_cosine", antipodal) == pytest.approx(-1.0)
    assert value("anisotropy", np.array([[2.0, 0.0], [5.0, 0.0]])) == pytest.approx(1.0)  # one direction
    isotropic = rng.normal(size=(4000, 16))
    assert value("anisotropy", isotropic) < 0.03
    assert abs(value("average_cosine", isotropic)) < 0.01
    X = rng.normal(size=(30, 5))
    assert value("pairwise_distance_sd", X) == pytest.approx(np.std(pdist(X), ddof=1))


def test_between_members_invariances():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(60, 8)) + 1.0
    rotated = X @ special_ortho_group.rvs(8, random_state=3)
    assert pair_value("linear_cka", X, rotated) == pytest.approx(1.0)
    assert pair_value("linear_cka", X, 3.0 * X + 2.0) == pytest.approx(1.0)  # scale and shift
    assert pair_value("neighbour_alignment", X, rotated) == pytest.approx(1.0)  # cosines kept
    assert pair_value("l2_alignment", X, X) == 0.0
    # Not rotation-invariant (as the paper defines it): a rotated copy is far in coordinates.
    assert pair_value("l2_alignment", X, rotated) > 0.5
    assert pair_value("linear_cka", X, rng.normal(size=(60, 8))) < 0.3


def materialised(X, counts):
    rows = np.repeat(np.arange(len(X)), counts.astype(int))
    return X[rows], rows


def multiset_reference(metric, X, counts, Y=None):
    """The metric of the drawn multiset, copies of one sequence neither a pair nor neighbours."""
    Z, origin = materialised(X, counts)
    different = origin[:, None] != origin[None, :]
    unit = Z / np.linalg.norm(Z, axis=1, keepdims=True)
    upper = np.triu(different, 1)
    if metric == "uniformity":
        squared = ((unit[:, None] - unit[None]) ** 2).sum(-1)
        return np.log(np.exp(-2 * squared)[upper].mean())
    if metric == "average_cosine":
        return (unit @ unit.T)[upper].mean()
    if metric == "pairwise_distance_sd":
        return np.sqrt(((Z[:, None] - Z[None]) ** 2).sum(-1))[upper].std(ddof=1)
    if metric == "neighbour_alignment":
        W, _ = materialised(Y, counts)
        shared = 0
        for i in range(len(Z)):
            lists = []
            for E in (Z, W):
                u = E / np.linalg.norm(E, axis=1, keepdims=True)
                scores = np.where(different[i], u @ u[i], -np.inf)
                lists.append(np.argsort(-scores, kind="stable")[:10])  # copies in slot order, as the weights take them
            shared += len(set(lists[0]) & set(lists[1]))
        return shared / (len(Z) * 10)
    paper = PAPER_MEMBER.get(metric) or PAPER_PAIR[metric]
    args = (Z,) if Y is None else (Z, materialised(Y, counts)[0])
    return paper(*map(torch.from_numpy, args))


def test_bootstrap_weights_compute_the_metric_of_the_drawn_multiset():
    rng = np.random.default_rng(4)
    X = rng.normal(size=(25, 6)) + 0.5
    Y = X @ rng.normal(size=(6, 6)) + rng.normal(size=(25, 6))
    counts = rng.multinomial(25, np.ones(25) / 25, size=3).astype(float)  # three draws
    a, b = c.SequenceSet(X), c.SequenceSet(Y)
    for metric in PAPER_MEMBER:
        expected = [multiset_reference(metric, X, w) for w in counts]
        np.testing.assert_allclose(getattr(a, metric)(counts), expected, rtol=1e-9, err_msg=metric)
    for metric in PAPER_PAIR:
        expected = [multiset_reference(metric, X, w, Y) for w in counts]
        np.testing.assert_allclose(c.PAIR_FUNCTIONS[metric](a, b, counts), expected, rtol=1e-9, err_msg=metric)


def test_neighbour_alignment_when_the_nearest_sequences_are_not_drawn():
    """A draw whose copies all lie beyond the first 4k ranks of a row needs every rank."""
    rng = np.random.default_rng(7)
    X = rng.normal(size=(60, 5))
    Y = X + 0.5 * rng.normal(size=(60, 5))
    order, _ = c.SequenceSet(X).neighbour_order
    counts = np.zeros((1, 60))
    counts[0, order[0, 41:59]] = 3.0  # row 0's 18 farthest sequences only (one is row 0 itself: last)
    counts[0, 0] = 6.0
    result = c.neighbour_alignment(c.SequenceSet(X), c.SequenceSet(Y), counts)
    assert result[0] == pytest.approx(multiset_reference("neighbour_alignment", X, counts[0], Y))


def test_a_set_statistic_of_a_mean_gives_the_mean_metrics_interval_shape():
    """A mean over examples, passed as a set statistic, has the mean's estimate; the
    interval covers it and narrows with more examples."""
    rng = np.random.default_rng(5)
    values = rng.normal(size=(3, 400))

    def statistic(weights):
        return (weights @ values.T / weights.sum(axis=1, keepdims=True)).T[:, :, None]

    (interval,) = bootstrap.multi_bootstrap_sets(statistic, 400, n_members=3, n_draws=200)
    reference = bootstrap.multi_bootstrap(values, n_draws=200)
    assert interval.estimate == pytest.approx(values.mean())
    assert interval.low < interval.estimate < interval.high
    assert interval.high - interval.low == pytest.approx(reference.high - reference.low, rel=0.3)


def test_compare_contextual_tables_and_contrasts():
    rng = np.random.default_rng(6)
    seeds = (1, 2, 3)
    text = Ensemble(Condition("wiki", "bpe", "text"), "bert", "mlm", seeds)
    dna = Ensemble(Condition("athal", "bpe", "dna"), "bert", "mlm", seeds)
    shared = rng.normal(size=(3, 40, 8))
    states = {
        text: [shared + 0.1 * rng.normal(size=shared.shape) for _ in seeds],  # members agree
        dna: [rng.normal(size=(3, 40, 8)) for _ in seeds],  # members unrelated
    }
    results = {e: c.compare_contextual(e, s, draws=50) for e, s in states.items()}
    summary = results[text]["summary"]
    assert set(summary["metric"]) == {*c.MEMBER_METRICS, *c.PAIR_METRICS, c.LAYER_METRIC}
    pr = summary[summary["metric"] == "participation_ratio"]
    assert list(pr["layer"]) == ["embeddings", "layer.0", "layer.1"] and list(pr["order"]) == [0, 1, 2]
    assert (summary["low"] < summary["high"]).all()
    # Means over sequences or pairs are not biased by resampling: their intervals cover the
    # estimate. (Spectral metrics are: a drawn set holds fewer distinct sequences.)
    means = summary[summary["metric"].isin(["average_cosine", "anisotropy", "l2_alignment", "linear_cka"])]
    assert ((means["low"] <= means["estimate"]) & (means["estimate"] <= means["high"])).all()
    assert len(results[text]["members"]) == 3 * (len(c.MEMBER_METRICS) + 3)
    assert len(results[text]["pairs"]) == 3 * len(c.PAIR_METRICS)
    contrasts = c.contextual_contrasts(results, draws=50)
    cka = contrasts.set_index("metric").loc["linear_cka"]
    assert cka["difference"] < 0 and cka["high"] < 0  # DNA members unrelated, text members agree
    assert {"participation_ratio:layer.0", "effective_rank"} <= set(contrasts["metric"])
    with pytest.raises(Exception, match="differ in layers or sequences"):
        c.compare_contextual(text, [shared[:, :30], shared, shared])
    assert isinstance(contrasts, pd.DataFrame) and contrasts["p_value"].between(0, 1).all()


def test_a_published_model_alone_has_member_metrics_and_no_pair_metrics():
    """An ensemble of one (a single published model): its member metrics with intervals over
    sequences, the pair metrics absent rather than made up."""
    one = Ensemble(Condition("wiki", "one", "text"), "published", "mlm", (1,), source="published")
    result = c.compare_contextual(one, [np.random.default_rng(3).normal(size=(3, 40, 8))], draws=50)
    assert result["pairs"].empty and "pairs" not in result["statistics"]
    assert set(result["summary"]["metric"]) == {*c.MEMBER_METRICS, c.LAYER_METRIC}


# --- the paper's definition: its masking and pooling (embeddings.py:47-126, data.py:90-104) ------


def paper_mean_pool(hidden_states, attention_mask):
    """embeddings.py:101-105."""
    mask = attention_mask.unsqueeze(-1).float()
    sum_hidden = (hidden_states * mask).sum(dim=1)
    n_tokens = mask.sum(dim=1).clamp(min=1e-9)
    return sum_hidden / n_tokens


def paper_mask(input_ids, mask_arr, mask_token_id):
    """data.py:90-104 mlm_preprocess with its torch.rand draw given as ``mask_arr`` (each
    non-pad token, [CLS] and [SEP] included, replaced by [MASK]; the rows have no padding)."""
    input_ids = input_ids.clone()
    input_ids[mask_arr] = mask_token_id
    return {"input_ids": input_ids, "attention_mask": torch.ones_like(input_ids)}


@torch.inference_mode()
def paper_get_embeddings(models, dataloader):
    """embeddings.py:107-126, each model with output_hidden_states (__main__.py:147)."""
    result = []
    for model in models:
        model_embeddings = []
        for batch in dataloader:
            output = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], output_hidden_states=True)
            model_embeddings.extend(paper_mean_pool(output.hidden_states[-1], batch["attention_mask"]))
        result.append(torch.stack(model_embeddings))
    return torch.stack(result)


def test_the_paper_definition_is_the_papers_masking_pooling_and_metrics(tmp_path):
    """Three tiny BERT members on sequences masked by the paper's rule (paper_positions'
    masked draw: p = 0.15 over every token, [CLS] and [SEP] included): the last layer's
    pooled states of extract_contextual equal the paper's get_embeddings on the same masks,
    and compare_contextual's paper rows equal the paper's compare_embeddings functions."""
    from seqens.extraction import contextual_embeddings
    from seqens.objectives import make_objective
    from seqens.positions import draw_bernoulli_positions
    from seqens.special import special_tokens

    special = special_tokens(40)
    objective = make_objective("mlm", special, {}, "bert")
    preset = {"layers": 2, "hidden": 16, "heads": 2, "ffn": 32, "max_positions": 32, "dropout": 0.0}
    models = []
    for seed in (1, 2, 3):
        torch.manual_seed(seed)
        models.append(objective.build_model(preset).eval())
    rng = np.random.default_rng(4)
    ids = rng.integers(5, 40, size=(24, 12))
    ids[:, 0], ids[:, -1] = special.cls, special.sep
    np.save(tmp_path / "eval.npy", ids)
    positions = draw_bernoulli_positions(tmp_path / "eval.npy", n_sequences=None, probability=0.15, seed=1, stream=2)
    assert positions.positions[:, 0].any() and positions.positions[:, -1].any()
    masked = paper_mask(torch.from_numpy(ids), torch.from_numpy(positions.positions), special.mask)
    batches = [{k: v[i : i + 8] for k, v in masked.items()} for i in range(0, 24, 8)]  # --batch_size 8
    theirs = paper_get_embeddings(models, batches).double()
    ours = [contextual_embeddings(objective, model, positions, n_sequences=24, batch_size=5, device="cpu")
            for model in models]
    for member, states in zip(theirs, ours):
        np.testing.assert_allclose(states[-1], member.numpy(), rtol=1e-5, atol=1e-6)
    ensemble = Ensemble(Condition("wiki", "bpe", "text"), "bert", "mlm", (1, 2, 3))
    result = c.compare_contextual(ensemble, ours, definition="paper", draws=20)
    assert set(result["summary"]["definition"]) == {"paper"}
    members = result["members"].query("layer == 'layer.1'").pivot(index="seed", columns="metric", values="value")
    last = [torch.from_numpy(states[-1].astype(np.float64)) for states in ours]
    for metric, paper in PAPER_MEMBER.items():
        # LayerNorm leaves the pooled states one dimension short: the paper's SVD gives the
        # missing singular value as rounding noise (~1e-8), which moves its effective rank by
        # ~1e-7; ours counts it as 0.
        tolerance = 1e-6 if metric == "effective_rank" else 1e-9
        np.testing.assert_allclose(members[metric], [paper(X) for X in last], rtol=tolerance, err_msg=metric)
    pairs = result["pairs"].set_index(["seed_a", "seed_b", "metric"])["value"]
    for metric, paper in PAPER_PAIR.items():
        for i, j in ((0, 1), (0, 2), (1, 2)):
            assert pairs[(i + 1, j + 1, metric)] == pytest.approx(paper(last[i], last[j]), rel=1e-9), metric
