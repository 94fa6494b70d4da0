"""Multi-Bootstrap: nominal coverage, the drawn grids, pairs, ratios and paired differences."""

from itertools import combinations, product

import numpy as np
import pytest

from seqens import bootstrap as b

PAIRS_OF_4 = list(combinations(range(4), 2))


def synthetic(rng, m=10, n=200, mean=1.0, seed_sd=0.3, example_sd=1.0, noise_sd=0.5):
    """Per-member, per-example values [m, n]: a seed effect, an effect of each example shared
    by all members, and independent noise, around the true mean `mean`."""
    return (
        mean
        + rng.normal(0, seed_sd, size=(m, 1))
        + rng.normal(0, example_sd, size=(1, n))
        + rng.normal(0, noise_sd, size=(m, n))
    )


def test_intervals_cover_the_true_mean_at_about_the_nominal_rate():
    rng = np.random.default_rng(0)
    replicates = 300
    hits = 0
    for i in range(replicates):
        interval = b.multi_bootstrap(synthetic(rng), n_draws=1000, seed=i)
        hits += interval.low <= 1.0 <= interval.high
    assert 0.90 <= hits / replicates <= 0.99


def test_interval_is_deterministic_given_the_seed():
    values = synthetic(np.random.default_rng(1))
    first = b.multi_bootstrap(values, n_draws=300, seed=7)
    assert first == b.multi_bootstrap(values, n_draws=300, seed=7)
    assert first != b.multi_bootstrap(values, n_draws=300, seed=8)
    assert first.low < first.estimate < first.high and first.n_draws == 300 and first.level == 0.95
    assert first.estimate == pytest.approx(values.mean())
    with pytest.raises(ValueError):
        b.multi_bootstrap(values, level=95)


def decode(grid):
    """Rows and examples of a grid drawn from values[r, n] = 1000 r + n."""
    rows, examples = np.divmod(grid.astype(int), 1000)
    assert (rows == rows[:, :1]).all() and (examples == examples[:1]).all()
    return rows[:, 0], examples[0]


def test_each_draw_is_a_grid_of_resampled_members_and_examples():
    values = 1000.0 * np.arange(5)[:, None] + np.arange(40)
    grids = []
    b.multi_bootstrap(values, n_draws=50, seed=3, statistic=lambda grid: grids.append(grid) or 0.0)
    assert len(grids) == 51  # the full data, then one grid per draw
    members = [decode(grid)[0] for grid in grids[1:]]
    assert all(grid.shape == (5, 40) for grid in grids) and len({tuple(sorted(m)) for m in members}) > 10
    assert any(len(set(m)) < 5 for m in members)  # with replacement
    assert any(len(set(decode(grid)[1])) < 40 for grid in grids[1:])


def test_pair_grids_hold_the_distinct_pairs_of_drawn_members():
    values = 1000.0 * np.arange(len(PAIRS_OF_4))[:, None] + np.arange(10)
    grids = []
    b.multi_bootstrap_pairs(values, PAIRS_OF_4, 4, n_draws=100, seed=1,
                            statistic=lambda grid: grids.append(grid) or 0.0)
    # Every multiset of pairs must come from some member draw: counts c with c[a] c[b] copies of (a, b).
    allowed = set()
    for counts in product(range(5), repeat=4):
        if sum(counts) == 4:
            allowed.add(tuple(sorted(sum([[p] * (counts[i] * counts[j]) for p, (i, j) in enumerate(PAIRS_OF_4)], []))))
    seen = {tuple(sorted(decode(grid)[0])) for grid in grids[1:]}
    assert seen <= allowed and len(seen) > 5


def test_pair_weights_against_slot_enumeration():
    rng = np.random.default_rng(4)
    draws = rng.integers(0, 4, size=(30, 4))
    counts = np.stack([np.bincount(d, minlength=4) for d in draws])
    weights = b._pair_weights(PAIRS_OF_4, counts)
    for draw, row in zip(draws, weights):
        slot_pairs = [tuple(sorted((draw[s], draw[t]))) for s, t in combinations(range(4), 2) if draw[s] != draw[t]]
        assert row.tolist() == [slot_pairs.count(p) for p in PAIRS_OF_4]


@pytest.mark.parametrize("batch_elements", [1 << 22, 100])
def test_vectorised_mean_equals_the_mean_of_each_drawn_grid(monkeypatch, batch_elements):
    monkeypatch.setattr(b, "BATCH_ELEMENTS", batch_elements)  # 100: several batches of 3 draws
    rng = np.random.default_rng(5)
    values, pair_values = rng.normal(size=(4, 30)), rng.normal(size=(6, 30))
    for run in (
        lambda **kw: b.multi_bootstrap(values, n_draws=200, seed=2, **kw),
        lambda **kw: b.multi_bootstrap_pairs(pair_values, PAIRS_OF_4, 4, n_draws=200, seed=2, **kw),
        lambda **kw: b.paired_difference(values, values[:, ::-1] + 0.1, n_draws=200, seed=2, **kw)[0],
    ):
        fast, per_grid = run(), run(statistic=lambda grid: grid.mean())
        assert fast.n_draws == per_grid.n_draws
        np.testing.assert_allclose([fast.low, fast.high], [per_grid.low, per_grid.high], rtol=1e-12)


def test_pairs_leave_out_self_pairs_and_draws_without_a_pair():
    values = np.array([[1.0, 1.0], [2.0, 2.0], [3.0, 3.0]])  # pairs (0,1), (0,2), (1,2)
    interval = b.multi_bootstrap_pairs(values, [(0, 1), (0, 2), (1, 2)], 3, n_draws=2000, seed=0)
    assert interval.estimate == pytest.approx(2.0)
    assert 1.0 <= interval.low < 2.0 < interval.high <= 3.0
    # All three slots hold one member with probability 3 / 27: those draws carry no pair.
    assert 0.85 < interval.n_draws / 2000 < 0.93
    with pytest.raises(ValueError, match="pairs"):
        b.multi_bootstrap_pairs(values, [(0, 1)], 3)


def test_ratio_shares_sum_to_one():
    rng = np.random.default_rng(2)
    values = rng.gamma(2.0, size=(4, 50, 3)) * np.array([1.0, 2.0, 7.0])
    intervals = b.multi_bootstrap_ratio(values, n_draws=200)
    assert sum(i.estimate for i in intervals) == pytest.approx(1.0)
    assert intervals[2].low > 0.6 and intervals[0].high < 0.2


def test_paired_difference_finds_a_clear_difference():
    rng = np.random.default_rng(3)
    dna, text = synthetic(rng, mean=1.6, n=300), synthetic(rng, mean=1.0, n=150)
    interval, p = b.paired_difference(dna, text, n_draws=1000)
    assert interval.estimate == pytest.approx(dna.mean() - text.mean())
    assert interval.low > 0 and p == pytest.approx(1 / 1000)
    assert (interval, p) == b.paired_difference(dna, text, n_draws=1000)


def test_paired_difference_under_the_null():
    rng = np.random.default_rng(6)
    values = synthetic(rng)
    _, p_same = b.paired_difference(values, values[:, rng.permutation(200)], n_draws=1000)
    assert p_same > 0.2
    # Calibration: equal true means, independent datasets; about 5 % of p-values below 0.05.
    p_values = [b.paired_difference(synthetic(rng), synthetic(rng), n_draws=500, seed=i)[1] for i in range(100)]
    assert np.mean(np.array(p_values) < 0.05) <= 0.12 and np.median(p_values) > 0.2


def test_paired_difference_shares_the_member_draw():
    # Values vary between members only; b is a shifted by 0.1 member by member. A shared
    # member draw makes every drawn difference exactly 0.1.
    members = np.random.default_rng(7).normal(size=(5, 1)) * np.ones((5, 20))
    interval, p = b.paired_difference(members + 0.1, members, n_draws=300)
    assert interval.low == pytest.approx(0.1) and interval.high == pytest.approx(0.1) and p == pytest.approx(1 / 300)
    pair_values = np.random.default_rng(8).normal(size=(6, 1)) * np.ones((6, 20))
    interval, p = b.paired_difference(pair_values + 0.1, pair_values, pairs=PAIRS_OF_4, n_members=4, n_draws=300)
    assert interval.low == pytest.approx(0.1) and interval.high == pytest.approx(0.1)
    assert p == pytest.approx(1 / interval.n_draws) and interval.n_draws < 300  # draws of one member dropped
    with pytest.raises(ValueError, match="same members"):
        b.paired_difference(members, members[:4])
    with pytest.raises(ValueError, match="n_members"):
        b.paired_difference(pair_values, pair_values, pairs=PAIRS_OF_4)


def _distinct_share(n_members: int, scale: float = 1.0):
    """A set statistic that resampling shifts: the share of distinct examples in the drawn
    set (1 on the data, about 0.63 in a draw), per member, times ``scale``."""

    def statistic(counts):  # [d, N] -> [M, d, 1]
        share = (counts > 0).mean(axis=1) * scale
        return np.broadcast_to(share[None, :, None], (n_members, len(counts), 1))

    return statistic


def test_set_intervals_are_recentred_on_the_estimate():
    """Duplicates in a resampled set shift a set statistic: the raw draws of the distinct
    share lie near 0.63, all below its value 1 on the data; the recentred interval holds the
    estimate and keeps the draws' spread."""
    n = 200
    (interval,) = b.multi_bootstrap_sets(_distinct_share(3), n, n_members=3, n_draws=400, seed=1)
    assert interval.estimate == 1.0
    assert interval.low < 1.0 < interval.high
    rng = np.random.default_rng(0)
    raw = np.array([len(np.unique(rng.integers(0, n, n))) / n for _ in range(2000)])
    assert raw.max() < 0.75  # without recentring the interval would lie far below the estimate
    spread = np.percentile(raw, 97.5) - np.percentile(raw, 2.5)
    assert interval.high - interval.low == pytest.approx(spread, rel=0.3)


def test_set_contrasts_are_recentred_too():
    """Two ensembles whose set statistics differ by 1 on the data (2 and 1) and by about
    0.63 in every draw: the difference's interval holds 1, and it is significant."""
    (difference, p_value), = b.paired_set_difference(
        _distinct_share(3, scale=2.0), _distinct_share(3), 300, 100, n_members=3, n_draws=400, seed=2
    )
    assert difference.estimate == pytest.approx(1.0)
    assert difference.low < 1.0 < difference.high
    assert p_value < 0.01
