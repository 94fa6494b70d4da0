"""Embedding comparisons against scipy, brute-force references and constructed cases."""

import numpy as np
import pytest
from scipy.spatial import procrustes as scipy_procrustes
from scipy.stats import spearmanr, special_ortho_group

from seqens import embedding_similarity as e


def unit(X):
    return X / np.linalg.norm(X, axis=1, keepdims=True)


def on_arc(degrees):
    """2-d unit vectors at the given angles: cosine neighbours are the angular neighbours."""
    radians = np.deg2rad(degrees)
    return np.stack([np.cos(radians), np.sin(radians)], axis=1)


def jaccard(a, b):
    return len(set(a) & set(b)) / len(set(a) | set(b))


def test_neighbours_match_a_full_sort_whatever_the_chunking():
    X = np.random.default_rng(0).normal(size=(50, 8))
    full = unit(X) @ unit(X).T
    np.fill_diagonal(full, -np.inf)
    expected = np.argsort(-full, axis=1, kind="stable")[:, :5]
    for chunk_size in (1, 7, 1000):
        idx, sims = e.cosine_neighbours(X, 5, chunk_size=chunk_size)
        np.testing.assert_array_equal(idx, expected)
        np.testing.assert_allclose(sims, np.take_along_axis(full, expected, axis=1), atol=1e-14)
    assert not (idx == np.arange(50)[:, None]).any()
    assert e.cosine_neighbours(X, 49)[0].shape == (50, 49)
    for bad_k in (0, 50):
        with pytest.raises(ValueError, match="k must be"):
            e.cosine_neighbours(X, bad_k)


def test_neighbour_ties_go_to_the_lower_index():
    # Token 0 is orthogonal to tokens 1-3 (similarity exactly 0) and opposite to token 4;
    # tokens 1-3 are identical (similarity exactly 1 to each other).
    E = np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 1.0], [0.0, 1.0], [-1.0, 0.0]])
    idx, sims = e.cosine_neighbours(E, 3, chunk_size=2)
    assert idx.tolist() == [[1, 2, 3], [2, 3, 0], [1, 3, 0], [1, 2, 0], [1, 2, 3]]
    np.testing.assert_array_equal(sims[1], [1.0, 1.0, 0.0])
    # Many exact ties across the k-th place, where argpartition alone would pick arbitrarily.
    scores = np.array([[3.0, 1, 1, 1, 1, 1, 1, 1, 2, 1], [1.0, 1, 1, 1, 1, 1, 1, 1, 1, 1]])
    assert e._top_k(scores, 4).tolist() == [[0, 8, 1, 2], [0, 1, 2, 3]]


def test_topk_overlap_on_constructed_neighbour_sets():
    A = on_arc([0, 10, 25, 60])  # neighbours by distance: 0:1,2,3  1:0,2,3  2:1,0,3  3:2,1,0
    B = on_arc([0, 50, 20, 60])  # neighbours by distance: 0:2,1,3  1:3,2,0  2:0,1,3  3:1,2,0
    overlap = e.topk_overlap(A, B, ks=(1, 2, 3, 4, 10))
    assert set(overlap) == {1, 2, 3}  # k >= V skipped
    np.testing.assert_allclose(overlap[1], [0, 0, 0, 0])
    np.testing.assert_allclose(overlap[2], [1, 1 / 3, 1, 1])  # token 1: {0, 2} vs {3, 2}
    np.testing.assert_allclose(overlap[3], [1, 1, 1, 1])
    assert all(np.allclose(v, 1.0) for v in e.topk_overlap(A, A.copy(), ks=(1, 2, 3)).values())
    with pytest.raises(ValueError, match="positive"):
        e.topk_overlap(A, B, ks=(0, 2))


def test_topk_overlap_is_the_jaccard_index_of_the_neighbour_sets():
    rng = np.random.default_rng(1)
    A, B = rng.normal(size=(60, 5)), rng.normal(size=(60, 5))
    B[:30] = A[:30] + 0.1 * rng.normal(size=(30, 5))  # half the tokens keep similar neighbours
    ks = (1, 3, 10, 59, 60)
    overlap = e.topk_overlap(A, B, ks=ks, chunk_size=7)
    assert set(overlap) == {1, 3, 10, 59}
    for k in (1, 3, 10, 59):
        nn_a, _ = e.cosine_neighbours(A, k)
        nn_b, _ = e.cosine_neighbours(B, k)
        np.testing.assert_allclose(overlap[k], [jaccard(a, b) for a, b in zip(nn_a, nn_b)])
    assert 0 < overlap[10].mean() < 1
    found = (e.cosine_neighbours(A, 59), e.cosine_neighbours(B, 59))
    precomputed = e.topk_overlap(A, B, ks=ks, neighbours=found)
    assert all(np.array_equal(precomputed[k], overlap[k]) for k in overlap)
    with pytest.raises(ValueError, match="precomputed"):
        e.topk_overlap(A, B, ks=(3,), neighbours=(e.cosine_neighbours(A, 2), e.cosine_neighbours(B, 2)))


def spearman_direction(own, other, E, k):
    """One direction of local Spearman by a per-row scipy loop over E's own neighbours."""
    nn, _ = e.cosine_neighbours(E, k)
    return np.array([spearmanr(own[i] @ own[nn[i]].T, other[i] @ other[nn[i]].T)[0] for i in range(len(E))])


def test_local_spearman_matches_per_row_scipy_and_is_symmetrised():
    rng = np.random.default_rng(2)
    A, B = rng.normal(size=(40, 6)), rng.normal(size=(40, 6))
    k = 8
    from_a = spearman_direction(unit(A), unit(B), A, k)
    from_b = spearman_direction(unit(B), unit(A), B, k)
    assert np.abs(from_a - from_b).max() > 0.3  # the two neighbour sets really differ
    np.testing.assert_allclose(e.local_spearman(A, B, k), 0.5 * (from_a + from_b), atol=1e-12)
    np.testing.assert_allclose(e.local_spearman(B, A, k), e.local_spearman(A, B, k), atol=1e-12)
    found = (e.cosine_neighbours(A, 20), e.cosine_neighbours(B, 20))
    np.testing.assert_allclose(e.local_spearman(A, B, k, neighbours=found), 0.5 * (from_a + from_b), atol=1e-12)
    rotation = special_ortho_group.rvs(6, random_state=3)
    np.testing.assert_allclose(e.local_spearman(A, 3 * A @ rotation, k), 1.0)


def test_local_spearman_on_a_constructed_asymmetric_case():
    # Token 0 at 0 degrees; B moves token 4 from 51 to 4 degrees and token 3 from 35 to 63
    # (no two distances from any token are equal, so no rank ties).
    A = on_arc([0, 10, 22, 35, 51])
    B = on_arc([0, 10, 22, 63, 4])
    # From A's neighbours {1, 2, 3}: both members rank them 1 > 2 > 3, rho = 1.
    # From B's neighbours {4, 1, 2}: B ranks 4 > 1 > 2, A ranks 1 > 2 > 4, rho = -0.5.
    assert e.local_spearman(A, B, 3)[0] == pytest.approx(0.25)
    expected = 0.5 * (spearman_direction(A, B, A, 3) + spearman_direction(B, A, B, 3))
    np.testing.assert_allclose(e.local_spearman(A, B, 3), expected, atol=1e-12)


def test_local_spearman_constant_rows_are_nan():
    # Token 0 is orthogonal to every other token: its similarities are all exactly 0.
    E = np.array([[1.0, 0, 0], [0, 1.0, 0], [0, 0, 1.0], [0, 1.0, 1.0]])
    values = e.local_spearman(E, 2 * E, 2)
    assert np.isnan(values[0]) and values[1] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="k >= 2"):
        e.local_spearman(E, E, 1)


def test_procrustes_matches_scipy_and_aligns_rotations():
    rng = np.random.default_rng(3)
    A, B = rng.normal(size=(30, 5)), rng.normal(size=(30, 5))
    disparity, cosine = e.procrustes(A, B)
    standard_a, aligned_b, scipy_disparity = scipy_procrustes(A, B)
    assert disparity == pytest.approx(scipy_disparity, rel=1e-10)
    assert cosine == pytest.approx(np.mean(np.sum(unit(standard_a) * unit(aligned_b), axis=1)), rel=1e-10)
    rotation = special_ortho_group.rvs(5, random_state=4)
    disparity, cosine = e.procrustes(A, 2.5 * A @ rotation + 1.0)
    assert disparity == pytest.approx(0.0, abs=1e-12) and cosine == pytest.approx(1.0)
    with pytest.raises(ValueError, match="one shape"):
        e.procrustes(A, B[:, :4])


def test_linear_cka_invariances_and_reference():
    rng = np.random.default_rng(5)
    X = rng.normal(size=(100, 10))
    Q = special_ortho_group.rvs(10, random_state=6)
    assert e.linear_cka(X, X @ Q) == pytest.approx(1.0)
    assert e.linear_cka(X, 3.0 * X + 2.0) == pytest.approx(1.0)
    Y = rng.normal(size=(100, 7))
    # Direct HSIC form with linear kernels: tr(K H L H) / sqrt(tr(K H K H) tr(L H L H)).
    H = np.eye(100) - 1.0 / 100
    K, L = X @ X.T, Y @ Y.T

    def hsic(P, R):
        return np.trace(P @ H @ R @ H)

    assert e.linear_cka(X, Y) == pytest.approx(hsic(K, L) / np.sqrt(hsic(K, K) * hsic(L, L)), rel=1e-10)
    assert e.linear_cka(X, Y) < 0.3
    Z = X[:, :3] @ rng.normal(size=(3, 4))  # a different width, partly shared
    assert e.linear_cka(X, Z) == pytest.approx(hsic(K, Z @ Z.T) / np.sqrt(hsic(K, K) * hsic(Z @ Z.T, Z @ Z.T)))


def test_chance_topk_overlap_matches_random_neighbour_lists():
    rng = np.random.default_rng(0)
    vocab, k = 60, 7
    draws = [
        len(set(a) & set(b)) / len(set(a) | set(b))
        for a, b in (
            (rng.choice(vocab - 1, k, replace=False), rng.choice(vocab - 1, k, replace=False)) for _ in range(20000)
        )
    ]
    assert e.chance_topk_overlap(k, vocab) == pytest.approx(np.mean(draws), abs=0.003)
    assert e.chance_topk_overlap(1, vocab) == pytest.approx(1 / (vocab - 1))  # one neighbour: equal or not
    assert e.chance_topk_overlap(vocab - 1, vocab) == pytest.approx(1.0)  # every other token
    with pytest.raises(ValueError):
        e.chance_topk_overlap(vocab, vocab)


# ckatorch 1.0.3 cka_base(kernel="rbf"), which the paper calls (GFMs @277899c
# src/analyze/metrics.py:83-93), on rbf_inputs(): computed once with ckatorch and torch 2.13.
CKATORCH_RBF = {12: 0.5303913470714818, 11: 0.5849033002830026}
CKATORCH_LINEAR_12 = 0.36044278893386555


def rbf_inputs():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(12, 4))
    Y = np.tanh(X @ rng.normal(size=(4, 3))) + 0.3 * rng.normal(size=(12, 3))
    return X, Y


def reference_rbf_cka(X, Y):
    """Kornblith et al.'s formula written out: explicit centring matrix, HSIC as a trace,
    the median of the sorted n^2 squared distances (lower middle, as torch.median)."""
    n = len(X)
    centring = np.eye(n) - np.ones((n, n)) / n

    def kernel(Z):
        squared = np.array([[np.sum((a - b) ** 2) for b in Z] for a in Z])
        median = np.sort(squared.ravel())[(n * n - 1) // 2]
        return np.exp(-squared / (2 * median))

    K, L = kernel(X), kernel(Y)
    hsic = lambda A, B: np.trace(A @ centring @ B @ centring)  # noqa: E731
    return hsic(K, L) / np.sqrt(hsic(K, K) * hsic(L, L))


def test_rbf_cka_equals_the_papers_ckatorch_and_a_written_out_reference():
    X, Y = rbf_inputs()
    for n, expected in CKATORCH_RBF.items():
        assert e.rbf_cka(X[:n], Y[:n]) == pytest.approx(expected, rel=1e-10)
        assert e.rbf_cka(X[:n], Y[:n]) == pytest.approx(reference_rbf_cka(X[:n], Y[:n]), rel=1e-10)
    assert e.linear_cka(X, Y) == pytest.approx(CKATORCH_LINEAR_12, rel=1e-10)


def test_rbf_cka_is_invariant_to_rotation_translation_and_scale():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(40, 6))
    moved = 3.0 * X @ special_ortho_group.rvs(6, random_state=2) + 5.0
    assert e.rbf_cka(X, moved) == pytest.approx(1.0)
    assert e.rbf_cka(X, rng.normal(size=(40, 6))) < 0.5
    with pytest.raises(ValueError, match="same rows"):
        e.rbf_cka(X, X[:5])
