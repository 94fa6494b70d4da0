"""Static-embedding comparisons between two members' input embedding matrices A, B [V, H]
(rows in the same token order). Cosine similarities are computed in row chunks, so a
32,768-token vocabulary never needs a V x V matrix in memory."""

from __future__ import annotations

from typing import Sequence

import numpy as np
from scipy.stats import rankdata

DEFAULT_CHUNK = 2048


def _unit_rows(E: np.ndarray) -> np.ndarray:
    E = np.asarray(E, dtype=np.float64)
    norms = np.linalg.norm(E, axis=1, keepdims=True)
    return E / np.where(norms == 0, 1.0, norms)


def cosine_neighbours(E: np.ndarray, k: int, chunk_size: int = DEFAULT_CHUNK) -> tuple[np.ndarray, np.ndarray]:
    """Top-k cosine neighbours of every row, itself excluded: (indices [V, k], similarities
    [V, k]) in descending similarity; ties broken by the lower index."""
    unit = _unit_rows(E)
    n = len(unit)
    k = min(k, n - 1)
    indices = np.empty((n, k), dtype=np.int64)
    sims = np.empty((n, k))
    for start in range(0, n, chunk_size):
        block = unit[start : start + chunk_size] @ unit.T
        rows = np.arange(block.shape[0])
        block[rows, start + rows] = -np.inf  # exclude self
        # Stable sort on -similarity: equal similarities keep index order.
        if k < n - 1:
            candidates = np.argpartition(-block, k, axis=1)[:, : k + 1]
            candidate_sims = np.take_along_axis(block, candidates, axis=1)
            order = np.lexsort((candidates, -candidate_sims), axis=1)[:, :k]
            top = np.take_along_axis(candidates, order, axis=1)
        else:
            top = np.argsort(-block, axis=1, kind="stable")[:, :k]
        indices[start : start + len(block)] = top
        sims[start : start + len(block)] = np.take_along_axis(block, top, axis=1)
    return indices, sims


def _jaccard(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise Jaccard index of two [V, k] neighbour-index arrays (sets, no duplicates)."""
    both = np.concatenate([a, b], axis=1)
    both.sort(axis=1)
    shared = (both[:, 1:] == both[:, :-1]).sum(axis=1)
    k = a.shape[1]
    return shared / (2 * k - shared)


def topk_overlap(A: np.ndarray, B: np.ndarray, ks: Sequence[int], chunk_size: int = DEFAULT_CHUNK) -> dict[int, np.ndarray]:
    """Per-token Jaccard overlap of the two members' top-k neighbour sets, for each k.

    A k of V or more (no such neighbourhood exists) is skipped."""
    usable = [k for k in ks if k < len(A)]
    if not usable:
        return {}
    kmax = max(usable)
    nn_a, _ = cosine_neighbours(A, kmax, chunk_size)
    nn_b, _ = cosine_neighbours(B, kmax, chunk_size)
    return {k: _jaccard(nn_a[:, :k], nn_b[:, :k]) for k in usable}


def _rowwise_spearman(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Spearman correlation of each row of x with the same row of y (NaN for constant rows)."""
    rx = rankdata(x, axis=1)
    ry = rankdata(y, axis=1)
    rx -= rx.mean(axis=1, keepdims=True)
    ry -= ry.mean(axis=1, keepdims=True)
    denominator = np.sqrt((rx**2).sum(axis=1) * (ry**2).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denominator > 0, (rx * ry).sum(axis=1) / denominator, np.nan)


def _similarities_to(unit: np.ndarray, neighbours: np.ndarray, chunk_size: int) -> np.ndarray:
    """cos(i, neighbours[i, j]) for every row i, in chunks."""
    out = np.empty(neighbours.shape)
    for start in range(0, len(unit), chunk_size):
        rows = unit[start : start + chunk_size]
        out[start : start + chunk_size] = np.einsum("vh,vkh->vk", rows, unit[neighbours[start : start + chunk_size]])
    return out


def local_spearman(A: np.ndarray, B: np.ndarray, k: int, chunk_size: int = DEFAULT_CHUNK) -> np.ndarray:
    """Per-token local Spearman correlation of similarities, symmetrised.

    Direction A: over A's own top-k neighbours of token i, correlate the similarities in A
    with those of the same pairs in B. Direction B: the same over B's neighbours. The value is
    the mean of the two directions, each computed from its own neighbour set."""
    unit_a, unit_b = _unit_rows(A), _unit_rows(B)
    directions = []
    for own, other, E in ((unit_a, unit_b, A), (unit_b, unit_a, B)):
        neighbours, own_sims = cosine_neighbours(E, k, chunk_size)
        directions.append(_rowwise_spearman(own_sims, _similarities_to(other, neighbours, chunk_size)))
    return 0.5 * (directions[0] + directions[1])


def _standardise(X: np.ndarray) -> np.ndarray:
    X = np.asarray(X, dtype=np.float64)
    X = X - X.mean(axis=0)
    norm = np.linalg.norm(X)
    if norm == 0:
        raise ValueError("Procrustes needs a matrix with more than one distinct row")
    return X / norm


def procrustes(A: np.ndarray, B: np.ndarray) -> tuple[float, float]:
    """(disparity, mean row cosine after alignment).

    The disparity is as ``scipy.spatial.procrustes`` defines it: both matrices centred and
    scaled to unit Frobenius norm, B rotated (orthogonally) and scaled to fit A, then the sum
    of squared differences. A and B must have the same shape."""
    a, b = _standardise(A), _standardise(B)
    u, s, vt = np.linalg.svd(b.T @ a, full_matrices=False)
    rotation = u @ vt
    scale = s.sum()
    aligned = scale * (b @ rotation)
    disparity = float(((a - aligned) ** 2).sum())
    cosine = (_unit_rows(a) * _unit_rows(aligned)).sum(axis=1)
    return disparity, float(cosine.mean())


def linear_cka(X: np.ndarray, Y: np.ndarray) -> float:
    """Linear centred kernel alignment (Kornblith et al. 2019); widths may differ."""
    X = np.asarray(X, dtype=np.float64)
    Y = np.asarray(Y, dtype=np.float64)
    X = X - X.mean(axis=0)
    Y = Y - Y.mean(axis=0)
    cross = np.linalg.norm(Y.T @ X) ** 2
    return float(cross / (np.linalg.norm(X.T @ X) * np.linalg.norm(Y.T @ Y)))
