"""Output-distribution metrics against scipy and hand-computed cases."""

import numpy as np
import pytest
from scipy.spatial.distance import jensenshannon
from scipy.stats import entropy as scipy_entropy

from seqens import distributions as d


def random_probs(rng, n, v, sparsity=0.0):
    p = rng.dirichlet(np.full(v, 0.3), size=n)
    p[rng.random((n, v)) < sparsity] = 0.0
    p[:, 0] += 1e-3  # never an all-zero row
    return p / p.sum(axis=1, keepdims=True)


def test_entropy_and_kl_on_known_distributions():
    probs = np.array([[0.25] * 4, [1.0, 0, 0, 0], [0.5, 0.25, 0.25, 0.0]])
    np.testing.assert_allclose(d.entropy_bits(probs), [2.0, 0.0, 1.5])
    np.testing.assert_allclose(d.kl_from_uniform_bits(probs), [0.0, 2.0, 0.5])


def test_entropy_matches_scipy_on_random_rows():
    p = random_probs(np.random.default_rng(0), 50, 30, sparsity=0.3)
    np.testing.assert_allclose(d.entropy_bits(p), scipy_entropy(p, base=2, axis=1), rtol=1e-12)


def test_cross_entropy_accuracy_perplexity():
    probs = np.array([[0.5, 0.25, 0.25], [0.1, 0.1, 0.8]])
    targets = np.array([1, 2])
    np.testing.assert_allclose(d.cross_entropy_bits(probs, targets), [2.0, -np.log2(0.8)])
    assert list(d.correct(probs, targets)) == [False, True]
    assert d.perplexity(2.0) == 4.0
    assert np.isfinite(d.cross_entropy_bits(np.array([[1.0, 0.0]]), np.array([1]))).all()


def test_js_distance_matches_scipy_base2():
    rng = np.random.default_rng(1)
    p, q = random_probs(rng, 40, 25, 0.4), random_probs(rng, 40, 25, 0.4)
    expected = [jensenshannon(a, b, base=2) for a, b in zip(p, q)]
    np.testing.assert_allclose(d.js_distance(p, q), expected, atol=1e-10)
    assert d.js_distance(np.array([[1.0, 0.0]]), np.array([[0.0, 1.0]]))[0] == pytest.approx(1.0)
    assert d.js_distance(p, p).max() < 1e-7


def test_top_p_truncation_hand_cases():
    probs = np.array([[0.5, 0.3, 0.15, 0.05]])
    np.testing.assert_allclose(d.top_p_truncate(probs, 0.1), [[1.0, 0, 0, 0]])  # p below the top-1 mass
    np.testing.assert_allclose(d.top_p_truncate(probs, 0.5), [[1.0, 0, 0, 0]])  # exactly reached by the top-1
    np.testing.assert_allclose(d.top_p_truncate(probs, 0.6), [[0.625, 0.375, 0, 0]])
    np.testing.assert_allclose(d.top_p_truncate(probs, 0.9), [[0.5, 0.3, 0.15, 0]] / np.float64(0.95))
    np.testing.assert_array_equal(d.top_p_truncate(probs, 1.0), probs)
    ties = np.array([[0.25, 0.25, 0.25, 0.25]])
    np.testing.assert_allclose(d.top_p_truncate(ties, 0.3), [[0.5, 0.5, 0, 0]])  # lower ids first


def test_rank_curve():
    probs = np.array([[0.1, 0.6, 0.3], [0.5, 0.2, 0.3]])
    np.testing.assert_allclose(d.rank_curve(probs), [0.55, 0.3, 0.15])


def test_pairwise_disagreement_chunks_and_pairs():
    rng = np.random.default_rng(2)
    members = np.stack([random_probs(rng, 37, 12, 0.2) for _ in range(3)])
    result = d.pairwise_disagreement(members, (0.5, 1.0), chunk_size=10)
    assert result["pairs"] == [(0, 1), (0, 2), (1, 2)]
    assert result["js_distance"].shape == (3, 2, 37)
    np.testing.assert_allclose(result["js_distance"][2, 1], d.js_distance(members[1], members[2]))
    np.testing.assert_allclose(
        result["js_distance"][0, 0], d.js_distance(d.top_p_truncate(members[0], 0.5), d.top_p_truncate(members[1], 0.5))
    )
    np.testing.assert_array_equal(result["argmax_differs"][1], members[0].argmax(1) != members[2].argmax(1))
