"""The entropy rate of a symbol stream (seqens.markov's mixed-order model) and of a prepared
corpus (seqens.entropy_rate): a known Markov chain, brute-force counts, the mixture's
guarantee, compressor bounds."""

from itertools import product

import numpy as np
import pytest

from seqens.markov import (
    MixedOrderCounts,
    context_lengths,
    discounted_sums,
    forgetting_mixture,
    mixed_order_bits,
    stream_keys,
)

DNA = 4  # alphabet size; the break symbol is 4


def sample_nucleotide_chain(rng, transition: np.ndarray, order: int, length: int) -> np.ndarray:
    """A stream from an order-``order`` chain over ACGT (context = the last ``order`` symbols)."""
    cumulative = transition.cumsum(axis=1)
    uniforms = rng.random(length)
    stream = np.empty(length, np.int64)
    state, states = 0, DNA**order
    for t in range(length):
        symbol = min(int(np.searchsorted(cumulative[state], uniforms[t])), DNA - 1)
        stream[t] = symbol
        state = (state * DNA + symbol) % states
    return stream


def true_entropy_rate(transition: np.ndarray, order: int) -> float:
    states = DNA**order
    chain = np.zeros((states, states))
    for state, symbol in product(range(states), range(DNA)):
        chain[state, (state * DNA + symbol) % states] += transition[state, symbol]
    eigenvalues, eigenvectors = np.linalg.eig(chain.T)
    stationary = np.real(eigenvectors[:, np.argmin(np.abs(eigenvalues - 1))])
    stationary /= stationary.sum()
    return float(-(stationary[:, None] * transition * np.log2(transition)).sum())


def test_the_entropy_rate_of_a_known_third_order_chain_is_recovered_within_two_hundredths_of_a_bit():
    rng = np.random.default_rng(0)
    transition = rng.dirichlet(np.full(DNA, 0.5), size=DNA**3)
    truth = true_entropy_rate(transition, 3)
    train = sample_nucleotide_chain(rng, transition, 3, 400_000)
    held_out = sample_nucleotide_chain(rng, transition, 3, 100_000)
    bits = mixed_order_bits(
        train, held_out, alphabet_size=DNA, orders=[1, 2, 3, 4, 6, 8, 11, 12, 14, 16],
        prior_strength=8, forgetting=[0.9, 0.99, 1.0],
    )
    assert len(bits) == len(held_out)
    assert 1.9 - truth > 0.3  # the chain has structure to find (order 0 is near 2 bits)
    assert abs(bits.mean() - truth) < 0.02


def brute_force_counts(stream: np.ndarray, held_out: np.ndarray, order: int):
    """n(context, symbol) and n(context) of each held-out symbol, by dictionaries."""
    grams, contexts = {}, {}
    def windows(s):
        for t, symbol in enumerate(s):
            if symbol == DNA:
                continue
            start = t - order
            context = tuple(s[max(start, 0) : t])
            if start < 0 or DNA in context:
                context = None  # shorter than the order: not counted at this order
            yield t, context, symbol
    for _, context, symbol in windows(stream):
        if context is not None:
            grams[context, symbol] = grams.get((context, symbol), 0) + 1
            contexts[context] = contexts.get(context, 0) + 1
    return [(grams.get((c, x), 0), contexts.get(c, 0)) for _, c, x in windows(held_out) if c is not None]


def test_every_order_matches_a_dictionary_count_blended_with_the_order_below():
    rng = np.random.default_rng(1)
    train = rng.choice(5, size=3000, p=[0.3, 0.2, 0.2, 0.25, 0.05])  # breaks included
    held_out = rng.choice(5, size=400, p=[0.3, 0.2, 0.2, 0.25, 0.05])
    counts = MixedOrderCounts(train, alphabet_size=DNA, max_order=5)
    orders = [0, 1, 2, 3, 5]
    strength = 3.0
    log_probs = counts.log_probs(held_out, orders=orders, prior_strength=strength)
    available = context_lengths(held_out, alphabet_size=DNA)[held_out < DNA]
    lower = np.full(len(available), 1 / DNA)
    for row, order in enumerate(orders):
        fits = available >= order
        expected = lower.copy()
        expected[fits] = [(g + strength * p) / (c + strength)
                          for (g, c), p in zip(brute_force_counts(train, held_out, order), lower[fits])]
        np.testing.assert_allclose(log_probs[row], np.log(expected), rtol=0, atol=1e-12)
        lower = expected
    # After a break, a high order predicts as the highest order the context allows.
    np.testing.assert_array_equal(log_probs[-1][available == 3], log_probs[-2][available == 3])


def test_each_order_is_a_distribution_over_the_alphabet():
    rng = np.random.default_rng(2)
    train = rng.integers(0, 5, size=2000)
    context = rng.integers(0, 4, size=6)
    counts = MixedOrderCounts(train, alphabet_size=DNA, max_order=6)
    total = np.zeros(7)
    for symbol in range(DNA):
        held_out = np.concatenate([context, [symbol]])
        total += np.exp(counts.log_probs(held_out, orders=range(7), prior_strength=0.5)[:, -1])
    np.testing.assert_allclose(total, 1.0)


def test_keys_read_the_nearest_symbol_first_and_refuse_what_64_bits_cannot_hold():
    # Position 2 of [1, 2, 3]: digits 3, 2, 1 in base 5.
    assert stream_keys(np.array([1, 2, 3]), alphabet_size=DNA, max_order=2)[2] == 3 * 25 + 2 * 5 + 1
    assert stream_keys(np.array([1]), alphabet_size=DNA, max_order=2)[0] == 1 * 25 + 4 * 5 + 4  # breaks before
    stream_keys(np.array([0]), alphabet_size=DNA, max_order=26)
    with pytest.raises(ValueError, match="64 bits"):
        stream_keys(np.array([0]), alphabet_size=DNA, max_order=27)


def test_the_bayesian_mixture_costs_at_most_log2_of_the_models_over_the_best():
    rng = np.random.default_rng(4)
    log_probs = np.log(rng.uniform(0.05, 1.0, size=(3, 500)))
    mixed = forgetting_mixture(log_probs, 1.0)
    best = log_probs.sum(axis=1).max()
    assert best - np.log(3) - 1e-9 <= mixed.sum() <= best + 1e-9
    # One model: the mixture is that model, whatever the forgetting.
    np.testing.assert_allclose(forgetting_mixture(log_probs[:1], 0.9), log_probs[0])


@pytest.mark.parametrize("factor", [0.9, 0.999, 1.0])
def test_discounted_sums_match_a_loop(factor):
    rng = np.random.default_rng(5)
    values = rng.normal(size=(2, 30_000))
    expected = np.empty_like(values)
    total = np.zeros(2)
    for t in range(values.shape[1]):
        total = factor * total + values[:, t]
        expected[:, t] = total
    np.testing.assert_allclose(discounted_sums(values, factor), expected, rtol=1e-9, atol=1e-9)
