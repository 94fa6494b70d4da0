"""Multi-Bootstrap: coverage at about the nominal rate, pairs, ratios, paired differences."""

import numpy as np
import pytest

from seqens import bootstrap as b


def synthetic(rng, m=5, n=200, mean=1.0, seed_sd=0.2, noise_sd=1.0):
    """Per-member, per-example values: a seed effect plus example noise around `mean`."""
    return mean + rng.normal(0, seed_sd, size=(m, 1)) + rng.normal(0, noise_sd, size=(m, n))


def test_intervals_cover_the_truth_at_about_the_nominal_rate():
    rng = np.random.default_rng(0)
    hits = 0
    replicates = 200
    for i in range(replicates):
        interval = b.multi_bootstrap(synthetic(rng, m=10, n=100), n_draws=200, seed=i)
        hits += interval.low <= 1.0 <= interval.high
    assert 0.85 <= hits / replicates <= 0.99


def test_interval_is_deterministic_and_contains_estimate():
    values = synthetic(np.random.default_rng(1))
    first = b.multi_bootstrap(values, n_draws=300, seed=7)
    assert first == b.multi_bootstrap(values, n_draws=300, seed=7)
    assert first.low < first.estimate < first.high
    assert first.estimate == pytest.approx(values.mean())


def test_pairs_leave_out_self_pairs():
    values = np.array([[1.0, 1.0], [2.0, 2.0], [3.0, 3.0]])  # pairs (0,1), (0,2), (1,2)
    interval = b.multi_bootstrap_pairs(values, [(0, 1), (0, 2), (1, 2)], 3, n_draws=500, seed=0)
    assert interval.estimate == pytest.approx(2.0)
    assert 1.0 <= interval.low <= interval.high <= 3.0
    assert b._pair_weights([(0, 1), (0, 2), (1, 2)], np.array([0, 0, 1])).tolist() == [2.0, 0.0, 0.0]


def test_ratio_shares_sum_to_one():
    rng = np.random.default_rng(2)
    values = rng.gamma(2.0, size=(4, 50, 3)) * np.array([1.0, 2.0, 7.0])
    intervals = b.multi_bootstrap_ratio(values, n_draws=200)
    assert sum(i.estimate for i in intervals) == pytest.approx(1.0)
    assert intervals[2].low > 0.6 and intervals[0].high < 0.2


def test_paired_difference_p_values():
    rng = np.random.default_rng(3)
    a, c = synthetic(rng, mean=1.0), synthetic(rng, mean=1.5)
    interval, p = b.paired_difference(c, a, n_draws=500)
    assert p < 0.01 and interval.low > 0
    null_a, null_b = synthetic(rng, mean=1.0, seed_sd=0.0), synthetic(rng, mean=1.0, seed_sd=0.0)
    _, p_null = b.paired_difference(null_a, null_b, n_draws=500)
    assert p_null > 0.05
    pairs = [(0, 1), (0, 2), (1, 2)]
    _, p_pairs = b.paired_difference(np.full((3, 20), 0.5), np.full((3, 20), 0.2), pairs=pairs, n_members=3,
                                     n_draws=200)
    assert p_pairs == pytest.approx(1 / 200, abs=1e-3) or p_pairs < 0.01
