"""Count baselines at evaluation positions (seqens.counts): hand-computed probabilities, a
brute-force Kneser-Ney reference, the one-sided chain against seqens.markov, normalisation,
masked neighbours, held-out choice of order and discounts, and the config check of K."""

import copy
from collections import Counter, defaultdict

import numpy as np
import pytest
import yaml

from conftest import REPO
from seqens.config import ConfigError, Study
import seqens.counts
from seqens.counts import ContextCounts, Queries, _KeyIndex, _KeySet, count_baselines, visible_context
from seqens.markov import KneserNey


def test_a_masked_neighbour_truncates_the_context_and_the_row_edge_does_not():
    positions = np.array([[False, True, False, True, True, False, False]])
    left, right = visible_context(positions, 2, two_sided=True)
    # Column 1: column 0 and the padding before it are visible; column 3 is masked.
    # Column 3: column 1 masked, column 4 masked. Column 4: column 3 masked, 5, 6 visible.
    assert left.tolist() == [2, 1, 0]
    assert right.tolist() == [1, 0, 2]
    left, right = visible_context(positions, 2, two_sided=False)  # a causal member's input is whole
    assert left.tolist() == [2, 2, 2] and right.tolist() == [0, 0, 0]


def test_the_token_under_a_masked_neighbour_does_not_change_the_probability():
    rng = np.random.default_rng(1)
    train = rng.integers(0, 4, (60, 10))
    held = rng.integers(0, 4, (1, 10))
    positions = np.zeros((1, 10), dtype=bool)
    positions[0, [4, 6]] = True  # the target at 4 sees 1 token on its right, then a mask
    answers = []
    for hidden in range(4):
        held[0, 6] = hidden
        queries = Queries.at(held, positions, max_order=3, two_sided=True, vocab_size=4)
        counts = ContextCounts(train, queries, vocab_size=4, n_special=0)
        answers.append(counts.log2_probs([0.5] * 4, [0.5] * 4)[:, 0])
    assert queries.right[0] == 1
    for answer in answers[1:]:
        np.testing.assert_array_equal(answer, answers[0])


def test_hand_computed_two_sided_probabilities():
    # Outcomes (columns 1..7): 1 2 1 3 1 2 1, column 0 holds symbol 0; V = 4, no specials.
    train = np.array([[0, 1, 2, 1, 3, 1, 2, 1]])
    positions = np.zeros((1, 8), dtype=bool)
    positions[0, 2] = True  # the 2 between two 1s
    queries = Queries.at(train, positions, max_order=1, two_sided=True, vocab_size=4)
    counts = ContextCounts(train, queries, vocab_size=4, n_special=0)
    d_raw, d_cont = 0.5, 0.5
    # Order 0 (raw): 1 x4, 2 x2, 3 x1 of 7, three types; the uniform floor is 1/4.
    p0_raw = (2 - d_raw + d_raw * 3 / 4) / 7
    # Context (1 _ 1) seen 3 times: 2 twice, 3 once. Below it, (0, 0) in continuation counts:
    # distinct (left, right) around each token: 1 {(0,2), (2,3), (3,2), (2,EOS)} 4, 2 {(1,1)} 1,
    # 3 {(1,1)} 1: total 6, three types.
    p0_cont = (1 - d_cont + d_cont * 3 / 4) / 6
    p1 = (2 - d_raw + d_raw * 2 * p0_cont) / 3
    got = 2.0 ** counts.log2_probs([d_raw, d_raw], [d_cont, d_cont])[:, 0]
    np.testing.assert_allclose(got, [p0_raw, p1], rtol=0, atol=1e-12)
    np.testing.assert_allclose(p1, 0.5486111111111112)


def brute_force_log2_prob(train, window, a, b, order, *, max_order, right_order, V, n_special, d_raw, d_cont):
    """Interpolated Kneser-Ney of the module's docstring, from dictionaries of every training
    occurrence: an independent reading of the definition."""
    K, J = max_order, right_order
    rows = [[V] * K + list(r) + [V + 1] * J for r in train.tolist()]
    occurrences = [(r, K + c) for r in range(len(rows)) for c in range(1, train.shape[1]) if rows[r][K + c] >= n_special]

    def context(symbols, t, shape):
        return tuple(symbols[t - shape[0] : t]) + tuple(symbols[t + 1 : t + 1 + shape[1]])

    chain = []
    for level in range(order + 1)[::-1]:
        shape = (min(level, a), min(level, b))
        if not chain or chain[-1] != shape:
            chain.append(shape)
    prob = 1.0 / (V - n_special)
    target = window[K]
    for place in range(len(chain) - 1, -1, -1):
        shape = chain[place]
        wanted = context(window, K, shape)
        counts = Counter()
        if place == 0:
            for r, t in occurrences:
                if context(rows[r], t, shape) == wanted:
                    counts[rows[r][t]] += 1
        else:
            parent = chain[place - 1]
            # The context's edge on each side the parent widens (0: the side is empty).
            edges = [-shape[0]] if parent[0] > shape[0] else []
            edges += [shape[1]] if parent[1] > shape[1] else []
            edges = [window[K + edge] >= V if edge else False for edge in edges]
            if all(edges):  # cannot be widened: raw counts
                for r, t in occurrences:
                    if context(rows[r], t, shape) == wanted:
                        counts[rows[r][t]] += 1
            else:
                seen = defaultdict(set)
                for r, t in occurrences:
                    if context(rows[r], t, shape) == wanted:
                        seen[rows[r][t]].add(context(rows[r], t, parent))
                counts = Counter({w: len(s) for w, s in seen.items()})
        discount = (d_raw if place == 0 else d_cont)[max(shape)]
        total = sum(counts.values())
        if total:
            prob = (max(counts[target] - discount, 0) + discount * len(counts) * prob) / total
    return np.log2(prob)


def test_the_key_set_holds_each_distinct_key_once_through_repeats_collisions_and_growth():
    rng = np.random.default_rng(11)
    keys = _KeySet()  # 16 slots: every batch collides, wraps round the end and grows the table
    added = []
    for size in [5, 40, 1, 300, 2000, 0, 7000]:
        batch = rng.integers(0, 3 * size + 1, size) * 1_000_003  # many repeats, within and across batches
        keys.add(batch)
        added.append(batch)
    np.testing.assert_array_equal(np.sort(keys.pop()), np.unique(np.concatenate(added)))
    assert len(keys.pop()) == 0  # popping empties the set


@pytest.mark.parametrize("table", ["dense", "packed", "rows"])
def test_a_key_index_finds_each_keys_position_and_minus_one_for_the_rest(table):
    rng = np.random.default_rng(12)
    size = {"dense": 50_000, "packed": 50_000, "rows": 1 << 40}[table]  # rows: keys beyond 32 bits
    keys = np.unique(rng.integers(0, 50_000, 3000)) * (size // 50_000)
    index = _KeyIndex(keys, size, dense_limit=size if table == "dense" else 0)
    assert getattr(index, table) is not None
    asked = np.concatenate([rng.choice(keys, 10_000), rng.integers(0, size, 10_000)])
    expected = np.where(np.isin(asked, keys), np.searchsorted(keys, asked), -1)
    np.testing.assert_array_equal(index.find(asked), expected)


@pytest.mark.parametrize("lookups", ["dense", "hashed"])
@pytest.mark.parametrize("two_sided", [True, False])
def test_probabilities_match_a_brute_force_kneser_ney(two_sided, lookups, monkeypatch):
    # Small key spaces take dense lookup tables; with no floor, all but the smallest are hashed.
    monkeypatch.setattr(seqens.counts, "DENSE_LOOKUP_MIN", 1 << 16 if lookups == "dense" else 0)
    rng = np.random.default_rng(3)
    V, n_special, K = 9, 2, 2
    train = rng.integers(n_special, 6, (30, 9))  # ids 6..8 never occur: unseen ordinary tokens
    train[:, 0] = 1
    train[rng.random(train.shape) < 0.05] = 0  # a few specials inside rows: context, never outcomes
    held = rng.integers(n_special, V, (6, 9))
    held[:, 0] = 1
    positions = (rng.random(held.shape) < 0.4) & (held >= n_special)
    positions[:, 0] = False
    queries = Queries.at(held, positions, max_order=K, two_sided=two_sided, vocab_size=V)
    counts = ContextCounts(train, queries, vocab_size=V, n_special=n_special, chunk_tokens=40)  # many chunks
    d_raw, d_cont = [0.3, 0.6, 0.8], [0.4, 0.7, np.nan]
    got = counts.log2_probs(d_raw, d_cont)
    for q in range(len(queries)):
        for order in range(K + 1):
            expected = brute_force_log2_prob(
                train, queries.windows[q].tolist(), queries.left[q], queries.right[q], order,
                max_order=K, right_order=queries.right_order, V=V, n_special=n_special, d_raw=d_raw, d_cont=d_cont,
            )
            assert got[order, q] == pytest.approx(expected, abs=1e-12), (q, order)


def test_probabilities_sum_to_one_over_the_ordinary_tokens_for_every_context():
    rng = np.random.default_rng(4)
    V, n_special, K = 8, 2, 2
    train = rng.integers(n_special, V, (40, 8))
    held = rng.integers(n_special, V, (5, 8))
    positions = rng.random(held.shape) < 0.5
    positions[:, 0] = False
    queries = Queries.at(held, positions, max_order=K, two_sided=True, vocab_size=V)
    # Every query's context with every ordinary token in the target's place.
    every = np.repeat(queries.windows, V - n_special, axis=0)
    every[:, K] = np.tile(np.arange(n_special, V), len(queries))
    repeated = Queries(every, np.repeat(queries.left, V - n_special), np.repeat(queries.right, V - n_special), K, K)
    counts = ContextCounts(train, repeated, vocab_size=V, n_special=n_special)
    probs = 2.0 ** counts.log2_probs([0.2, 0.5, 0.9], [0.3, 0.6, np.nan])
    sums = probs.reshape(K + 1, len(queries), V - n_special).sum(axis=2)
    np.testing.assert_allclose(sums, 1.0, rtol=0, atol=1e-12)


def test_the_one_sided_count_model_is_the_markov_chain_at_the_same_positions():
    rng = np.random.default_rng(5)
    V, K = 7, 3
    train = rng.integers(0, V, (50, 12))
    train[:, 0] = 2
    held = rng.integers(0, V, (6, 12))
    positions = np.zeros(held.shape, dtype=bool)
    positions[:, 1:] = True
    queries = Queries.at(held, positions, max_order=K, two_sided=False, vocab_size=V)
    counts = ContextCounts(train, queries, vocab_size=V, n_special=0)
    markov = KneserNey(train, max_order=K, vocab_size=V)
    raw = markov.discounts["raw"].to_numpy()
    continuation = markov.discounts["continuation"].to_numpy()
    expected = markov.log2_probs(queries.windows[:, :K], queries.targets)
    np.testing.assert_allclose(counts.log2_probs(raw, continuation), expected, rtol=0, atol=1e-12)


def test_order_and_discounts_are_chosen_on_held_out_training_rows_not_on_the_evaluation_positions():
    rng = np.random.default_rng(6)
    # A first-order chain: each token mostly repeats its left neighbour's successor.
    train = np.cumsum(rng.random((300, 16)) < 0.2, axis=1) % 6 + 5
    train[:, 0] = 2
    evaluation = rng.integers(5, 11, (20, 16))
    positions = np.zeros(evaluation.shape, dtype=bool)
    positions[:, 3::4] = True
    options = dict(max_order=3, two_sided=True, vocab_size=11, held_out_sequences=30, train_sequences=None,
                   mask_fraction=0.25, seed=1)
    found = count_baselines(train, evaluation, positions, **options)
    other = count_baselines(train, rng.integers(5, 11, (20, 16)), positions, **options)
    assert found.selection.equals(other.selection)  # the evaluation tokens play no part
    assert found.log2_probs.shape == (4, positions.sum())
    assert found.best_order >= 1  # the data have structure
    assert found.selection["held_out_bits"][0] > found.selection["held_out_bits"][found.best_order]
    assert found.selection["best"].sum() == 1 and found.selection["best"][found.best_order]


def test_an_order_beyond_the_sequence_is_refused_at_config_time_naming_the_key():
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    config = copy.deepcopy(config)
    config["extraction"] = {**config.get("extraction", {}), "counts_max_order": 8}
    config["data"]["sequence_length"] = 16
    with pytest.raises(ConfigError) as error:
        Study(config)
    message = str(error.value)
    assert message.startswith("config: extraction.counts_max_order: 8 needs sequences of 18 tokens")
    assert "at most 7" in message and "\n" not in message
    config["extraction"]["counts_max_order"] = 7
    Study(config)  # 2 x 7 + 2 = 16 fits


def test_a_small_study_holds_out_a_quarter_of_its_training_sequences_for_the_order_choice():
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    assert Study(copy.deepcopy(config)).config["extraction"]["counts_held_out_sequences"] == 256  # of 4,096
    config["data"]["train_sequences"] = 256
    assert Study(copy.deepcopy(config)).config["extraction"]["counts_held_out_sequences"] == 64
    config["extraction"] = {**config.get("extraction", {}), "counts_held_out_sequences": 256}
    with pytest.raises(ConfigError, match="counts_held_out_sequences: 256 leaves no training sequence to count"):
        Study(config)


def test_bits_beyond_counts_is_the_best_orders_cross_entropy_minus_the_members_per_token_and_character():
    from seqens.comparisons.outputs import per_position_metrics

    probs = np.array([[0.5, 0.25, 0.25], [0.125, 0.75, 0.125]])
    targets = np.array([0, 1])
    count_log2 = np.log2([[0.25, 0.5], [0.5, 0.25]])  # orders 0 and 1
    metrics = per_position_metrics(probs, targets, characters_per_target=2.0, counts=(count_log2, 1))
    np.testing.assert_allclose(metrics["count_cross_entropy_bits_k0"], [2.0, 1.0])
    np.testing.assert_allclose(metrics["count_cross_entropy_bits"], [1.0, 2.0])  # order 1
    member = -np.log2([0.5, 0.75])
    np.testing.assert_allclose(metrics["bits_beyond_counts"], [1.0, 2.0] - member)
    np.testing.assert_allclose(metrics["bits_beyond_counts_per_character"], ([1.0, 2.0] - member) / 2)
    np.testing.assert_allclose(metrics["count_cross_entropy_bits_k0_per_character"], [1.0, 0.5])
    assert "bits_beyond_counts" not in per_position_metrics(probs, targets)  # no counts, no columns
