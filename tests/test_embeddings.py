"""Embedding comparisons against scipy and constructed cases."""

import numpy as np
import pytest
from scipy.linalg import orthogonal_procrustes
from scipy.spatial import procrustes as scipy_procrustes
from scipy.stats import spearmanr, special_ortho_group

from seqens import embeddings as e


def test_neighbours_exclude_self_and_chunking_does_not_matter():
    X = np.random.default_rng(0).normal(size=(50, 8))
    idx, sims = e.cosine_neighbours(X, 5, chunk_size=7)
    idx_full, sims_full = e.cosine_neighbours(X, 5, chunk_size=1000)
    np.testing.assert_array_equal(idx, idx_full)
    np.testing.assert_allclose(sims, sims_full)
    assert not (idx == np.arange(50)[:, None]).any()
    unit = X / np.linalg.norm(X, axis=1, keepdims=True)
    full = unit @ unit.T
    np.fill_diagonal(full, -np.inf)
    np.testing.assert_array_equal(idx[:, 0], full.argmax(axis=1))
    assert (np.diff(sims, axis=1) <= 1e-12).all()


def test_topk_overlap_on_constructed_neighbour_sets():
    # Points on a line of angles: each token's nearest neighbours are its angular neighbours.
    angles = np.linspace(0, np.pi / 2, 20)
    A = np.stack([np.cos(angles), np.sin(angles)], axis=1)
    overlap = e.topk_overlap(A, A.copy(), ks=(1, 2, 5, 50))
    assert set(overlap) == {1, 2, 5}  # k >= V skipped
    assert all(np.allclose(v, 1.0) for v in overlap.values())
    # Reverse the order of B's tokens along the arc, except swapping... a permutation of tokens
    perm = np.random.default_rng(1).permutation(20)
    B = A[perm]
    nn_a, _ = e.cosine_neighbours(A, 3)
    nn_b, _ = e.cosine_neighbours(B, 3)
    expected = [len(set(a) & set(b)) / len(set(a) | set(b)) for a, b in zip(nn_a, nn_b)]
    np.testing.assert_allclose(e.topk_overlap(A, B, ks=(3,))[3], expected)


def test_local_spearman_matches_per_row_scipy_and_is_symmetrised():
    rng = np.random.default_rng(2)
    A, B = rng.normal(size=(40, 6)), rng.normal(size=(40, 6))
    k = 8
    unit_a = A / np.linalg.norm(A, axis=1, keepdims=True)
    unit_b = B / np.linalg.norm(B, axis=1, keepdims=True)

    def direction(own, other, E):
        nn, _ = e.cosine_neighbours(E, k)
        return np.array([spearmanr(own[i] @ own[nn[i]].T, other[i] @ other[nn[i]].T)[0] for i in range(40)])

    expected = 0.5 * (direction(unit_a, unit_b, A) + direction(unit_b, unit_a, B))
    np.testing.assert_allclose(e.local_spearman(A, B, k), expected, atol=1e-12)
    np.testing.assert_allclose(e.local_spearman(A, B, k), e.local_spearman(B, A, k), atol=1e-12)
    np.testing.assert_allclose(e.local_spearman(A, 3 * A, k), 1.0)


def test_procrustes_matches_scipy_and_aligns_rotations():
    rng = np.random.default_rng(3)
    A, B = rng.normal(size=(30, 5)), rng.normal(size=(30, 5))
    disparity, _ = e.procrustes(A, B)
    assert disparity == pytest.approx(scipy_procrustes(A, B)[2], rel=1e-10)
    rotation = special_ortho_group.rvs(5, random_state=4)
    disparity, cosine = e.procrustes(A, 2.5 * A @ rotation + 1.0)
    assert disparity == pytest.approx(0.0, abs=1e-12) and cosine == pytest.approx(1.0)
    assert orthogonal_procrustes(A, A @ rotation)[0] is not None


def test_linear_cka_invariances_and_reference():
    rng = np.random.default_rng(5)
    X = rng.normal(size=(100, 10))
    Q = special_ortho_group.rvs(10, random_state=6)
    assert e.linear_cka(X, X @ Q) == pytest.approx(1.0)
    assert e.linear_cka(X, 3.0 * X) == pytest.approx(1.0)
    Y = rng.normal(size=(100, 7))
    # direct HSIC form: tr(K H L H) / sqrt(tr(K H K H) tr(L H L H)) with linear kernels
    H = np.eye(100) - 1.0 / 100
    K, L = X @ X.T, Y @ Y.T
    hsic = lambda P, R: np.trace(P @ H @ R @ H)  # noqa: E731
    assert e.linear_cka(X, Y) == pytest.approx(hsic(K, L) / np.sqrt(hsic(K, K) * hsic(L, L)))
    assert e.linear_cka(X, Y) < 0.3
