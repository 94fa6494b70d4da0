"""Static-embedding comparisons between two members' input embedding matrices A, B [V, H]
(rows in the same token order), in float64. Cosine similarities are computed in row chunks,
so a 32,768-token vocabulary never needs a V x V matrix in memory.

Neighbour searches dominate the cost (one V x V x H product per matrix). ``topk_overlap``
and ``local_spearman`` accept neighbours already found by ``cosine_neighbours`` (at any k at
least as large as they need), so an ensemble can search each member once and reuse the result
in every pair: the top-k list is always a prefix of the top-K list for K > k."""

from __future__ import annotations

from typing import Sequence

import numpy as np
from scipy.stats import hypergeom, rankdata

TOPK_VALUES = (1, 3, 5, 10, 20, 50, 100, 1000)
DEFAULT_CHUNK = 512  # rows per V x V block: 512 x 32,768 float64 similarities = 128 MiB
GATHER_BYTES = 1 << 26  # bound on the [rows, k, H] neighbour vectors gathered at once

Neighbours = tuple[np.ndarray, np.ndarray]  # (indices [V, k], similarities [V, k])


def _unit_rows(E: np.ndarray) -> np.ndarray:
    """Rows scaled to unit norm; an all-zero row stays zero (cosine 0 with every row)."""
    E = np.asarray(E, dtype=np.float64)
    norms = np.linalg.norm(E, axis=1, keepdims=True)
    return E / np.where(norms == 0, 1.0, norms)


def _top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Column indices of each row's k largest scores, by descending score and, among equal
    scores, ascending index, so the result does not depend on how argpartition splits ties."""
    candidates = np.argpartition(scores, -k, axis=1)[:, -k:]
    threshold = np.take_along_axis(scores, candidates, axis=1).min(axis=1, keepdims=True)
    tied = (scores >= threshold).sum(axis=1) > k  # ties straddle the k-th place
    if tied.any():
        candidates[tied] = np.argsort(-scores[tied], axis=1, kind="stable")[:, :k]
    order = np.lexsort((candidates, -np.take_along_axis(scores, candidates, axis=1)), axis=1)
    return np.take_along_axis(candidates, order, axis=1)


def cosine_neighbours(E: np.ndarray, k: int, chunk_size: int = DEFAULT_CHUNK) -> Neighbours:
    """Top-k cosine neighbours of every row, itself excluded: (indices [V, k], similarities
    [V, k]) in descending similarity, ties broken by the lower index."""
    unit = _unit_rows(E)
    n = len(unit)
    if not 1 <= k <= n - 1:
        raise ValueError(f"k must be in [1, {n - 1}] for {n} rows, got {k}")
    indices = np.empty((n, k), dtype=np.int64)
    sims = np.empty((n, k))
    for start in range(0, n, chunk_size):
        block = unit[start : start + chunk_size] @ unit.T
        rows = np.arange(len(block))
        block[rows, start + rows] = -np.inf  # a token is not its own neighbour
        top = _top_k(block, k)
        indices[start : start + len(block)] = top
        sims[start : start + len(block)] = np.take_along_axis(block, top, axis=1)
    return indices, sims


def _neighbours_of(A, B, k: int, chunk_size: int, neighbours: tuple[Neighbours, Neighbours] | None):
    """A's and B's top-k neighbours: the first k columns of the given ones, or searched."""
    if neighbours is None:
        return cosine_neighbours(A, k, chunk_size), cosine_neighbours(B, k, chunk_size)
    for indices, _ in neighbours:
        if indices.shape[1] < k:
            raise ValueError(f"precomputed neighbours have k = {indices.shape[1]} < {k}")
    return tuple((indices[:, :k], sims[:, :k]) for indices, sims in neighbours)


def topk_overlap(
    A: np.ndarray,
    B: np.ndarray,
    ks: Sequence[int] = TOPK_VALUES,
    chunk_size: int = DEFAULT_CHUNK,
    *,
    neighbours: tuple[Neighbours, Neighbours] | None = None,
) -> dict[int, np.ndarray]:
    """Per-token Jaccard index |N_A(i) & N_B(i)| / |N_A(i) | N_B(i)| of the two members'
    top-k neighbour sets, for each k: {k: [V]}.

    A k of V or more is skipped (a token has only V - 1 neighbours; the whole vocabulary
    would overlap trivially). Neighbours are searched once, at the largest k, and sliced."""
    if min(ks) < 1:
        raise ValueError(f"neighbourhood sizes must be positive, got {tuple(ks)}")
    usable = sorted({k for k in ks if k < len(A)})
    if not usable:
        return {}
    (nn_a, _), (nn_b, _) = _neighbours_of(A, B, usable[-1], chunk_size, neighbours)
    shared = {k: np.empty(len(A), dtype=np.int64) for k in usable}
    # place[r, t] = rank of token t in row r's list from A (k_max where absent); set and
    # reset only at the listed tokens, so each chunk costs O(rows x k_max), not O(rows x V).
    k_max = usable[-1]
    place = np.full((min(chunk_size, len(A)), len(A)), k_max, dtype=np.int32)
    for start in range(0, len(A), chunk_size):
        a, b = nn_a[start : start + chunk_size], nn_b[start : start + chunk_size]
        rows = np.arange(len(a))[:, None]
        place[rows, a] = np.arange(k_max)
        place_of_b = place[rows, b]  # [rows, k_max]: where each of B's neighbours is in A's list
        place[rows, a] = k_max
        for k in usable:
            shared[k][start : start + len(a)] = (place_of_b[:, :k] < k).sum(axis=1)
    return {k: shared[k] / (2 * k - shared[k]) for k in usable}


def chance_topk_overlap(k: int, vocab_size: int) -> float:
    """The expected top-k Jaccard overlap of two members whose neighbour lists were drawn at
    random (independent uniform k-subsets of the V - 1 other tokens): the floor a top-k
    overlap is read against. The shared count is hypergeometric, so exactly
    E[J] = sum_i P(i shared) i / (2k - i)."""
    others = vocab_size - 1
    if not 1 <= k <= others:
        raise ValueError(f"k must be in 1..{others} for a vocabulary of {vocab_size}, got {k}")
    shared = np.arange(max(0, 2 * k - others), k + 1)
    return float(np.sum(hypergeom.pmf(shared, others, k, k) * shared / (2 * k - shared)))


def _rowwise_spearman(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Spearman correlation of each row of x with the same row of y (average ranks for ties,
    as scipy.stats.spearmanr); NaN where either row is constant."""
    rx = rankdata(x, axis=1)
    ry = rankdata(y, axis=1)
    rx -= rx.mean(axis=1, keepdims=True)
    ry -= ry.mean(axis=1, keepdims=True)
    denominator = np.sqrt((rx**2).sum(axis=1) * (ry**2).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denominator > 0, (rx * ry).sum(axis=1) / denominator, np.nan)


def _similarities_to(unit: np.ndarray, neighbours: np.ndarray) -> np.ndarray:
    """cos(i, neighbours[i, j]) for every row i, gathering GATHER_BYTES of vectors at a time."""
    out = np.empty(neighbours.shape)
    rows = max(1, GATHER_BYTES // (8 * neighbours.shape[1] * unit.shape[1]))
    for start in range(0, len(unit), rows):
        stop = start + rows
        out[start:stop] = np.einsum("vh,vkh->vk", unit[start:stop], unit[neighbours[start:stop]])
    return out


def local_spearman(
    A: np.ndarray,
    B: np.ndarray,
    k: int,
    chunk_size: int = DEFAULT_CHUNK,
    *,
    neighbours: tuple[Neighbours, Neighbours] | None = None,
) -> np.ndarray:
    """Per-token local Spearman correlation of similarities, symmetrised: [V].

    Direction A: over A's own top-k neighbours N_A(i) of token i, the rank correlation of
    sim_A(i, N_A(i)) with sim_B(i, N_A(i)). Direction B: the same over N_B(i). The value is
    the mean of the two directions, each from its own neighbour set. A row whose similarities
    are all equal in either direction has no rank correlation and gives NaN (hence k >= 2)."""
    if k < 2:
        raise ValueError(f"local Spearman needs k >= 2 neighbours, got {k}")
    found = _neighbours_of(A, B, k, chunk_size, neighbours)
    unit_b, unit_a = _unit_rows(B), _unit_rows(A)
    directions = [
        _rowwise_spearman(own_sims, _similarities_to(other, indices))
        for (indices, own_sims), other in zip(found, (unit_b, unit_a))
    ]
    return 0.5 * (directions[0] + directions[1])


def _standardise(X: np.ndarray) -> np.ndarray:
    """Columns centred, then the matrix scaled to unit Frobenius norm (as scipy's procrustes)."""
    X = np.asarray(X, dtype=np.float64)
    X = X - X.mean(axis=0)
    norm = np.linalg.norm(X)
    if norm == 0:
        raise ValueError("Procrustes needs a matrix with more than one distinct row")
    return X / norm


def procrustes(A: np.ndarray, B: np.ndarray) -> tuple[float, float]:
    """(disparity, mean row cosine after alignment) of two [V, H] matrices.

    The disparity is as ``scipy.spatial.procrustes`` defines it: both matrices centred and
    scaled to unit Frobenius norm, B rotated (orthogonally, from the SVD of B^T A) and scaled
    to fit A, then the sum of squared differences. The cosine is taken row by row between
    the standardised A and the aligned B (a centred row of zeros counts as cosine 0)."""
    if np.shape(A) != np.shape(B):
        raise ValueError(f"Procrustes needs matrices of one shape, got {np.shape(A)} and {np.shape(B)}")
    a, b = _standardise(A), _standardise(B)
    u, singular_values, vt = np.linalg.svd(b.T @ a, full_matrices=False)
    aligned = singular_values.sum() * (b @ (u @ vt))
    disparity = float(((a - aligned) ** 2).sum())
    cosine = (_unit_rows(a) * _unit_rows(aligned)).sum(axis=1)
    return disparity, float(cosine.mean())


def linear_cka(X: np.ndarray, Y: np.ndarray) -> float:
    """Linear centred kernel alignment (Kornblith et al. 2019) of [V, H1] and [V, H2]:
    HSIC(XX^T, YY^T) / sqrt(HSIC(XX^T, XX^T) HSIC(YY^T, YY^T)), computed through the H x H
    cross-products ||Y^T X||_F^2 / (||X^T X||_F ||Y^T Y||_F) of the centred matrices."""
    X = np.asarray(X, dtype=np.float64)
    Y = np.asarray(Y, dtype=np.float64)
    if len(X) != len(Y):
        raise ValueError(f"CKA needs the same rows in both matrices, got {len(X)} and {len(Y)}")
    X = X - X.mean(axis=0)
    Y = Y - Y.mean(axis=0)
    cross = np.linalg.norm(Y.T @ X) ** 2
    return float(cross / (np.linalg.norm(X.T @ X) * np.linalg.norm(Y.T @ Y)))


def rbf_cka(X: np.ndarray, Y: np.ndarray, threshold: float = 1.0) -> float:
    """Centred kernel alignment with Gaussian (RBF) kernels, as the paper computes it: GFMs
    @277899c ``src/analyze/metrics.py`` lines 83-93 call ckatorch 1.0.3's
    ``cka_base(kernel="rbf")`` (``core.py`` lines 11-68, ``utils.py`` lines 21-72).

    Each matrix gets its own kernel exp(-||x_i - x_j||^2 / (2 threshold^2 m)), its bandwidth
    from m, the median of all n^2 squared distances, the zero diagonal included, taken as
    ``torch.median`` does (the lower of the two middle values when n^2 is even); then
    <HKH, HLH>_F / (||HKH||_F ||HLH||_F). Invariant to rotation, translation and scale of
    either matrix. Needs the two n x n kernels in memory (a 4,096-token vocabulary: about
    0.5 GB at the peak)."""
    X = np.asarray(X, dtype=np.float64)
    Y = np.asarray(Y, dtype=np.float64)
    if len(X) != len(Y):
        raise ValueError(f"CKA needs the same rows in both matrices, got {len(X)} and {len(Y)}")
    kernels = [_centred_rbf_kernel(M, threshold) for M in (X, Y)]
    return float((kernels[0] * kernels[1]).sum() / (np.linalg.norm(kernels[0]) * np.linalg.norm(kernels[1])))


def _centred_rbf_kernel(X: np.ndarray, threshold: float) -> np.ndarray:
    """H K H for the RBF kernel K of X with the median bandwidth (``rbf_cka``), in place."""
    kernel = X @ X.T
    norms = np.diag(kernel).copy()
    kernel *= -2.0
    kernel += norms[:, None]
    kernel += norms[None, :]  # squared distances, computed as ckatorch does (exact 0 diagonal)
    middle = (kernel.size - 1) // 2
    median = np.partition(kernel.ravel(), middle)[middle]
    kernel /= -2.0 * threshold**2 * median
    np.exp(kernel, out=kernel)
    means = kernel.mean(axis=0)
    kernel -= means[:, None] - means.mean() / 2
    kernel -= means[None, :] - means.mean() / 2
    return kernel
