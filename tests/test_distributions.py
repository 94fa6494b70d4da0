"""Output-distribution metrics against scipy, per-row reference loops and hand-computed cases."""

import numpy as np
import pytest
from scipy.spatial.distance import jensenshannon
from scipy.stats import entropy as scipy_entropy

from seqens import distributions as d


def random_probs(rng, n, v, sparsity=0.0):
    """Dirichlet rows with a share of exact zeros (never an all-zero row)."""
    p = rng.dirichlet(np.full(v, 0.3), size=n)
    p[rng.random((n, v)) < sparsity] = 0.0
    p[:, 0] += 1e-3
    return p / p.sum(axis=1, keepdims=True)


def reference_top_p(row, p):
    """Per-row nucleus by a Python loop: walk tokens by (-probability, id) until the mass
    reaches p (within the documented rounding tolerance)."""
    kept, mass = [], 0.0
    for token in sorted(range(len(row)), key=lambda t: (-row[t], t)):
        kept.append(token)
        mass += row[token]
        if mass >= p - d.TOP_P_TOLERANCE:
            break
    out = np.zeros(len(row))
    out[kept] = row[kept] / row[kept].sum()
    return out


def test_entropy_and_kl_on_known_distributions():
    probs = np.array([[0.25] * 4, [1.0, 0, 0, 0], [0.5, 0.25, 0.25, 0.0]])
    np.testing.assert_allclose(d.entropy_bits(probs), [2.0, 0.0, 1.5], atol=1e-15)
    np.testing.assert_allclose(d.kl_from_uniform_bits(probs), [0.0, 2.0, 0.5], atol=1e-15)
    assert d.entropy_bits(probs.astype(np.float32)).dtype == np.float64


def test_entropy_matches_scipy_on_random_rows():
    p = random_probs(np.random.default_rng(0), 50, 30, sparsity=0.3)
    np.testing.assert_allclose(d.entropy_bits(p), scipy_entropy(p, base=2, axis=1), rtol=1e-12)
    np.testing.assert_allclose(d.kl_from_uniform_bits(p), scipy_entropy(p, np.full(30, 1 / 30), base=2, axis=1))


def test_cross_entropy_accuracy_perplexity():
    probs = np.array([[0.5, 0.25, 0.25], [0.1, 0.1, 0.8], [0.4, 0.4, 0.2]])
    targets = np.array([1, 2, 1])
    np.testing.assert_allclose(d.cross_entropy_bits(probs, targets), [2.0, -np.log2(0.8), -np.log2(0.4)])
    assert d.correct(probs, targets).tolist() == [False, True, False]  # a tie goes to the lower id
    assert d.perplexity(2.0) == 4.0
    assert d.perplexity(d.cross_entropy_bits(np.full((5, 8), 1 / 8), np.arange(5)).mean()) == pytest.approx(8.0)
    zero_mass = d.cross_entropy_bits(np.array([[1.0, 0.0]]), np.array([1]))
    assert zero_mass[0] == pytest.approx(np.log2(1 / d.MIN_PROBABILITY))
    with pytest.raises(ValueError, match="token ids"):
        d.cross_entropy_bits(probs, np.array([0, 1, 3]))
    with pytest.raises(ValueError, match="token ids"):
        d.cross_entropy_bits(probs, np.array([0, -1, 2]))


def test_js_distance_matches_scipy_base2():
    rng = np.random.default_rng(1)
    p, q = random_probs(rng, 40, 25, 0.4), random_probs(rng, 40, 25, 0.4)
    expected = [jensenshannon(a, b, base=2) for a, b in zip(p, q)]
    np.testing.assert_allclose(d.js_distance(p, q), expected, atol=1e-10)
    np.testing.assert_allclose(d.js_distance(q, p), expected, atol=1e-10)
    assert d.js_distance(np.array([[1.0, 0.0]]), np.array([[0.0, 1.0]]))[0] == pytest.approx(1.0)  # disjoint
    assert d.js_distance(p, p).max() < 1e-7


def test_argmax_differs():
    p = np.array([[0.6, 0.4], [0.5, 0.5], [0.2, 0.8]])
    q = np.array([[0.9, 0.1], [0.5, 0.5], [0.7, 0.3]])
    assert d.argmax_differs(p, q).tolist() == [False, False, True]


def test_top_p_truncation_hand_cases():
    probs = np.array([[0.5, 0.3, 0.15, 0.05]])
    np.testing.assert_allclose(d.top_p_truncate(probs, 0.1), [[1.0, 0, 0, 0]])  # p below the top-1 mass
    np.testing.assert_allclose(d.top_p_truncate(probs, 0.5), [[1.0, 0, 0, 0]])  # reached by the top-1 exactly
    np.testing.assert_allclose(d.top_p_truncate(probs, 0.6), [[0.625, 0.375, 0, 0]])
    np.testing.assert_allclose(d.top_p_truncate(probs, 0.9), [[0.5, 0.3, 0.15, 0]] / np.float64(0.95))
    np.testing.assert_array_equal(d.top_p_truncate(probs, 1.0), probs)
    ties = np.array([[0.25, 0.25, 0.25, 0.25], [0.2, 0.4, 0.0, 0.4]])
    np.testing.assert_allclose(d.top_p_truncate(ties, 0.3), [[0.5, 0.5, 0, 0], [0, 1.0, 0, 0]])  # lower ids first
    tenths = np.full((1, 10), 0.1)  # 0.1 + 0.1 + 0.1 rounds above 0.3: still exactly three tokens
    np.testing.assert_allclose(d.top_p_truncate(tenths, 0.3), [[1 / 3] * 3 + [0] * 7])
    for bad in (0.0, -0.1, 1.5):
        with pytest.raises(ValueError, match="top-p"):
            d.top_p_truncate(probs, bad)


def test_top_p_truncation_matches_a_per_row_loop():
    rng = np.random.default_rng(4)
    probs = random_probs(rng, 60, 20, sparsity=0.3)
    probs[:10] = np.round(probs[:10], 1)  # rows with ties
    probs[:10] /= probs[:10].sum(axis=1, keepdims=True)
    for p in (0.05, 0.35, 0.8, 0.99):
        truncated = d.top_p_truncate(probs, p)
        np.testing.assert_allclose(truncated, [reference_top_p(row, p) for row in probs], atol=1e-14)
        np.testing.assert_allclose(truncated.sum(axis=1), 1.0)


def test_rank_curve():
    probs = np.array([[0.1, 0.6, 0.3], [0.5, 0.2, 0.3]])
    np.testing.assert_allclose(d.rank_curve(probs), [0.55, 0.3, 0.15])


class ChunkRecorder:
    """A [M, N, V] array that records the position slices read from it."""

    def __init__(self, array):
        self.array, self.shape, self.reads = array, array.shape, []

    def __getitem__(self, index):
        self.reads.append(index[1])
        return self.array[index]


def test_pairwise_disagreement_matches_the_single_pair_metrics_in_bounded_chunks():
    rng = np.random.default_rng(2)
    members = np.stack([random_probs(rng, 37, 12, 0.2) for _ in range(4)]).astype(np.float32)
    top_p = (0.3, 0.5, 1.0)
    stack = ChunkRecorder(members)
    result = d.pairwise_disagreement(stack, top_p, chunk_size=10)
    assert result["pairs"] == [(0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3)]
    assert result["js_distance"].shape == (6, 3, 37) and result["argmax_differs"].shape == (6, 37)
    assert max(s.stop - s.start for s in stack.reads) == 10
    for pair_index, (i, j) in enumerate(result["pairs"]):
        for p_index, p in enumerate(top_p):
            expected = d.js_distance(d.top_p_truncate(members[i], p), d.top_p_truncate(members[j], p))
            np.testing.assert_allclose(result["js_distance"][pair_index, p_index], expected, atol=1e-12)
        differs = members[i].argmax(1) != members[j].argmax(1)
        np.testing.assert_array_equal(result["argmax_differs"][pair_index], differs)
    whole = d.pairwise_disagreement(members, top_p, chunk_size=1000)
    np.testing.assert_allclose(whole["js_distance"], result["js_distance"], atol=1e-12)


def test_unigram_surprisal_is_the_targets_own_entropy():
    targets = np.array([7, 7, 9, 11])  # q = (1/2, 1/4, 1/4)
    assert np.allclose(d.unigram_surprisal_bits(targets), [1.0, 1.0, 2.0, 2.0])
    _, counts = np.unique(targets, return_counts=True)
    assert d.unigram_surprisal_bits(targets).mean() == pytest.approx(scipy_entropy(counts, base=2))


def test_bits_beyond_unigram_per_token_and_per_character():
    from seqens.comparisons.outputs import compare_outputs, per_position_metrics
    from seqens.config import Condition, Ensemble

    targets = np.array([0, 0, 1, 2])
    uniform = np.full((4, 4), 0.25)  # 2 bits everywhere: 0.5 bit worse than the unigram's 1.5
    metrics = per_position_metrics(uniform, targets, characters_per_target=2.0)
    assert metrics["unigram_entropy_bits"].mean() == pytest.approx(1.5)
    assert metrics["bits_beyond_unigram"].mean() == pytest.approx(-0.5)
    assert metrics["bits_beyond_unigram_per_character"].mean() == pytest.approx(-0.25)
    assert metrics["cross_entropy_bits_per_character"].mean() == pytest.approx(1.0)
    # A model that knows each target gains exactly the unigram surprisal of it.
    oracle = np.eye(4)[targets] * (1 - 1e-9) + 1e-9 / 4
    gained = per_position_metrics(oracle, targets)["bits_beyond_unigram"]
    assert np.allclose(gained, d.unigram_surprisal_bits(targets), atol=1e-6)
    # Against a training unigram (here uniform over the 4 ids) instead of the targets' own.
    trained_on_uniform = per_position_metrics(uniform, targets, unigram_log2=np.full(4, -2.0))
    assert trained_on_uniform["unigram_cross_entropy_bits"].mean() == pytest.approx(2.0)
    assert trained_on_uniform["bits_beyond_unigram"].mean() == pytest.approx(0.0)
    assert trained_on_uniform["unigram_entropy_bits"].mean() == pytest.approx(1.5)
    ensemble = Ensemble(Condition("c", "t", "text"), "roformer", "mlm", (1, 2))
    result = compare_outputs(ensemble, [uniform, oracle], targets, characters_per_target=2.0, draws=50)
    members = result["members"].set_index("seed")
    assert members.loc[1, "bits_beyond_unigram"] == pytest.approx(-0.5)
    assert members.loc[2, "bits_beyond_unigram_per_character"] == pytest.approx(0.75, abs=1e-6)
    summary = result["summary"].set_index("metric")
    assert summary.loc["bits_beyond_unigram", "estimate"] == pytest.approx((-0.5 + 1.5) / 2, abs=1e-6)
    assert summary.loc["bits_beyond_unigram", "low"] <= summary.loc["bits_beyond_unigram", "estimate"]
    assert set(summary["architecture"]) == {"roformer"}


def test_members_with_identical_weights_are_refused():
    from seqens.comparisons.distinct_members import check_members_differ
    from seqens.config import Condition, Ensemble
    from seqens.errors import InputError

    ensemble = Ensemble(Condition("wiki", "bpe", "text"), "roformer", "mlm", (1, 2, 3))
    check_members_differ(ensemble, {1: {"model.safetensors": "a"}, 2: {"model.safetensors": "b"}, 3: {}})
    with pytest.raises(InputError, match="wiki-bpe/roformer/mlm: members seed1 and seed3 have identical weights"):
        check_members_differ(ensemble, {1: {"model.safetensors": "a"}, 2: {"model.safetensors": "b"},
                                        3: {"model.safetensors": "a"}})
