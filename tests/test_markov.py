"""Kneser-Ney Markov cross-entropies: hand-computed probabilities, a dictionary-based reference,
normalisation, a known Markov chain, row independence and input checks."""

from collections import defaultdict

import numpy as np
import pytest

from seqens.markov import FALLBACK_DISCOUNT, KneserNey, held_out_positions, markov_cross_entropies

CLS, SEP = 2, 3
A, B, C = 5, 6, 7  # the ordinary tokens of the hand-computed cases
V = 8
BOS = V  # the beginning-of-row symbol is the first id past the vocabulary


def probs(model, context, target):
    """P_k(target | context) for every order k = 0..max_order of a fitted model."""
    contexts = np.array(context, dtype=np.int64).reshape(1, model.max_order)
    return 2.0 ** model.log2_probs(contexts, np.array([target]))[:, 0]


def close(actual, expected):
    np.testing.assert_allclose(actual, expected, rtol=0, atol=1e-12)


def test_hand_computed_probabilities():
    # Outcomes (every column but 0): row 1  a b c a c,  row 2  a SEP b c c.
    train = np.array([[CLS, A, B, C, A, C], [CLS, A, SEP, B, C, C]], dtype=np.uint16)
    model = KneserNey(train, max_order=2, vocab_size=V)

    # Order 0, raw counts: a 3, b 2, c 4, SEP 1 (total 10, 4 types); n1 = 1, n2 = 1 -> D = 1/3.
    d0 = 1 / 3
    close(probs(model, [A, A], C)[0], (4 - d0 + d0 * 4 / 8) / 10)
    close(probs(model, [A, A], C)[0], 23 / 60)
    close(probs(model, [A, A], 0)[0], d0 * 4 / 8 / 10)  # [PAD] never seen: its uniform share
    close(probs(model, [A, A], 0)[0], 1 / 60)

    # Continuation unigram counts (distinct left neighbours): a {CLS, c} 2, b {a, SEP} 2,
    # c {b, a, c} 3, SEP {a} 1 (total 8, 4 types); n1 = 1, n2 = 2 -> D = 1/5.
    dc0 = 1 / 5
    pc0 = {w: (n - dc0 + dc0 * 4 / 8) / 8 for w, n in {A: 2, B: 2, C: 3, SEP: 1}.items()}

    # Order 1, raw counts: (CLS,a) 2, (b,c) 2, and 1 each (a,b) (c,a) (a,c) (a,SEP) (SEP,b) (c,c);
    # n1 = 6, n2 = 2 -> D = 0.6. Contexts (total, types): CLS (2, 1), a (3, 3), b (2, 1), c (2, 2).
    d1 = 0.6
    close(probs(model, [A, B], C)[1], (2 - d1 + d1 * 1 * pc0[C]) / 2)
    close(probs(model, [A, CLS], A)[1], (2 - d1 + d1 * 1 * pc0[A]) / 2)
    close(probs(model, [A, A], B)[1], (1 - d1 + d1 * 3 * pc0[B]) / 3)
    close(probs(model, [A, A], A)[1], (0 + d1 * 3 * pc0[A]) / 3)  # unseen bigram, seen context
    close(probs(model, [A, 0], A)[1], pc0[A])  # unseen context: all mass from the lower order
    close(probs(model, [A, BOS], C)[1], pc0[C])  # BOS is never an order-1 context (column 0 is)

    # Continuation bigram counts (distinct symbols two back, BOS before column 0):
    # (b,c) {a, SEP} 2, and 1 each (CLS,a) {BOS} (a,b) (c,a) (a,c) (a,SEP) (SEP,b) (c,c);
    # n1 = 7, n2 = 1 -> D = 7/9. Contexts (total, types): CLS (1, 1), a (3, 3), b (2, 1), c (2, 2).
    dc1 = 7 / 9
    pc1_a_after_c = (1 - dc1 + dc1 * 2 * pc0[A]) / 2
    pc1_b_after_a = (1 - dc1 + dc1 * 3 * pc0[B]) / 3
    pc1_a_after_cls = (1 - dc1 + dc1 * 1 * pc0[A]) / 1
    pc1_c_after_b = (2 - dc1 + dc1 * 1 * pc0[C]) / 2

    # Order 2, raw counts: (BOS,CLS,a) 2, eight other trigrams 1; n1 = 8, n2 = 1 -> D = 0.8.
    # Contexts (total, types): (b,c) (2, 2), (CLS,a) (2, 2), (BOS,CLS) (2, 1), (a,b) (1, 1).
    d2 = 0.8
    close(probs(model, [B, C], A)[2], (1 - d2 + d2 * 2 * pc1_a_after_c) / 2)
    close(probs(model, [CLS, A], B)[2], (1 - d2 + d2 * 2 * pc1_b_after_a) / 2)
    close(probs(model, [BOS, CLS], A)[2], (2 - d2 + d2 * 1 * pc1_a_after_cls) / 2)
    close(probs(model, [A, B], C)[2], (1 - d2 + d2 * 1 * pc1_c_after_b) / 1)
    close(probs(model, [C, B], C)[2], pc1_c_after_b)  # (c,b) never seen

    close(model.discounts["raw"], [d0, d1, d2])
    close(model.discounts["continuation"][:2], [dc0, dc1])
    assert model.distinct_contexts.tolist() == [1, 5, 7]

    # At max_order 3 the trigram (BOS,CLS,a) is a lower order. It cannot be extended to the
    # left, so it keeps its raw count 2 (not 1 distinct left neighbour, which would also make
    # n2 = 0): backing off from the unseen (c,BOS,CLS) gives the order-2 P(a | BOS,CLS) above.
    deeper = KneserNey(train, max_order=3, vocab_size=V)
    close(deeper.discounts["continuation"][2], 0.8)
    close(probs(deeper, [C, BOS, CLS], A)[3], (2 - d2 + d2 * 1 * pc1_a_after_cls) / 2)


def test_discount_fallback_without_doubletons():
    # Unigram counts a 1, b 1, c 1: n2 = 0, so n1 / (n1 + 2 n2) = 1 is replaced by the fallback.
    model = KneserNey(np.array([[CLS, A, B, C]]), max_order=0, vocab_size=V)
    assert model.discounts["raw"][0] == FALLBACK_DISCOUNT
    d = FALLBACK_DISCOUNT
    close(probs(model, [], A)[0], (1 - d + d * 3 / 8) / 3)


def reference_log2_probs(train, max_order, vocab_size, contexts, targets):
    """Interpolated Kneser-Ney by dictionaries and loops, straight from the formulas."""
    bos = vocab_size
    counts = []  # per order: (raw, continuation) count of each (k+1)-gram tuple
    for k in range(max_order + 1):
        raw, left = defaultdict(int), defaultdict(set)
        for row in train.tolist():
            padded = [bos] * (k + 1) + row
            for t in range(k + 2, len(padded)):
                gram = tuple(padded[t - k : t + 1])
                raw[gram] += 1
                left[gram].add(padded[t - k - 1])
        continuation = {g: raw[g] if k and g[0] == bos else len(left[g]) for g in raw}
        counts.append((raw, continuation))

    def discount(c):
        values = list(c.values())
        n1, n2 = values.count(1), values.count(2)
        return n1 / (n1 + 2 * n2) if n1 and n2 else FALLBACK_DISCOUNT

    out = np.empty((max_order + 1, len(targets)))
    for i, (context, w) in enumerate(zip(contexts.tolist(), targets.tolist())):
        for top in range(max_order + 1):
            p = 1.0 / vocab_size
            for k in range(top + 1):
                c = counts[k][0] if k == top else counts[k][1]
                h = tuple(context[len(context) - k :]) if k else ()
                following = [n for g, n in c.items() if g[:-1] == h]
                if following:
                    d = discount(c)
                    p = (max(c.get(h + (w,), 0) - d, 0) + d * len(following) * p) / sum(following)
            out[top, i] = np.log2(p)
    return out


def random_tokens(rng, rows, length, vocab_size):
    tokens = rng.integers(5, vocab_size, size=(rows, length))
    tokens[:, 0] = CLS
    tokens[rng.random((rows, length)) < 0.05] = SEP
    tokens[:, 0] = CLS
    return tokens


def query_contexts(rng, train, max_order, vocab_size, n):
    """n contexts seen in training (BOS-padded windows) and n random ones (BOS included)."""
    seen, _ = held_out_positions(train, max_order=max_order, vocab_size=vocab_size, n_special=0)
    seen = seen[rng.integers(0, len(seen), n)]
    unseen = rng.integers(0, vocab_size + 1, size=(n, max_order))
    return np.concatenate([seen, unseen])


def test_matches_dictionary_reference():
    rng = np.random.default_rng(1)
    vocab = 9
    train = random_tokens(rng, 6, 25, vocab)
    model = KneserNey(train, max_order=3, vocab_size=vocab)
    contexts = query_contexts(rng, train, 3, vocab, 40)
    targets = rng.integers(0, vocab, len(contexts))
    expected = reference_log2_probs(train, 3, vocab, contexts, targets)
    np.testing.assert_allclose(model.log2_probs(contexts, targets), expected, rtol=0, atol=1e-12)


def test_probabilities_sum_to_one_over_the_vocabulary():
    rng = np.random.default_rng(2)
    vocab, max_order = 20, 4
    train = random_tokens(rng, 30, 40, vocab)
    model = KneserNey(train, max_order=max_order, vocab_size=vocab)
    contexts = query_contexts(rng, train, max_order, vocab, 50)
    every = np.repeat(contexts, vocab, axis=0), np.tile(np.arange(vocab), len(contexts))
    totals = (2.0 ** model.log2_probs(*every)).reshape(max_order + 1, len(contexts), vocab).sum(axis=2)
    np.testing.assert_allclose(totals, 1.0, rtol=0, atol=1e-9)


def sample_chain(rng, transition, stationary, rows, length):
    """Rows [CLS, s_1, ..., s_length] of a stationary first-order chain over ids 5, 6, ..."""
    states = np.empty((rows, length), dtype=np.int64)
    states[:, 0] = rng.choice(len(stationary), size=rows, p=stationary)
    cumulative = transition.cumsum(axis=1)
    for t in range(1, length):
        u = rng.random(rows)[:, None]
        states[:, t] = np.minimum((u > cumulative[states[:, t - 1]]).sum(axis=1), len(stationary) - 1)
    return np.concatenate([np.full((rows, 1), CLS), states + 5], axis=1)


def test_recovers_entropies_of_a_known_markov_chain():
    rng = np.random.default_rng(3)
    n_states = 8
    transition = rng.dirichlet(np.full(n_states, 0.5), size=n_states)
    eigenvalues, eigenvectors = np.linalg.eig(transition.T)
    stationary = np.real(eigenvectors[:, np.argmin(np.abs(eigenvalues - 1))])
    stationary /= stationary.sum()
    stationary_entropy = -(stationary * np.log2(stationary)).sum()
    conditional_entropy = -(stationary[:, None] * transition * np.log2(transition)).sum()

    train = sample_chain(rng, transition, stationary, 100, 2000).astype(np.uint16)  # 200k tokens
    held_out = sample_chain(rng, transition, stationary, 50, 2000).astype(np.uint16)
    frame = markov_cross_entropies(train, held_out, max_order=4, vocab_size=5 + n_states)
    bits = frame["bits_per_token"].to_numpy()

    assert frame["order"].tolist() == [0, 1, 2, 3, 4]
    assert (frame["targets"] == 50 * 2000).all()
    assert frame["distinct_contexts"].tolist()[:2] == [1, n_states + 1]  # + the [CLS] context
    assert stationary_entropy - conditional_entropy > 0.3  # the chain has structure to find
    assert abs(bits[0] - stationary_entropy) < 0.02
    assert abs(bits[1] - conditional_entropy) < 0.02
    assert bits[1] <= bits[0]
    # More context cannot help a first-order chain and costs little: orders 2 and 3 stay within
    # 0.02 bits; at order 4 the 8^4 contexts get ~50 of the 200k tokens each, and discounting
    # these sparser counts costs a few hundredths of a bit (about 0.05 here).
    assert np.all(np.abs(bits[2:4] - bits[1]) < 0.02)
    assert -0.005 < bits[4] - bits[1] < 0.08


def test_contexts_stay_inside_their_row():
    train = np.array([[CLS, A, B], [CLS, C, A]])
    model = KneserNey(train, max_order=2, vocab_size=V)
    # Order-1 contexts: CLS, a, c (b ends row 1 and never precedes row 2's [CLS]); order-2
    # contexts: (BOS,CLS), (CLS,a), (CLS,c). A flattened corpus would add (b,CLS), (a,b), (b,CLS).
    assert model.distinct_contexts.tolist() == [1, 3, 3]
    close(probs(model, [A, B], CLS), probs(model, [A, 0], CLS))  # b: as unseen as [PAD]

    # Held-out positions are scored with BOS-padded contexts from their own row only.
    held_out = np.array([[CLS, C, A, B], [CLS, A, B, C]])
    contexts, targets = held_out_positions(held_out, max_order=2, vocab_size=V)
    assert contexts.tolist() == [[BOS, CLS], [CLS, C], [C, A], [BOS, CLS], [CLS, A], [A, B]]
    assert targets.tolist() == [C, A, B, A, B, C]
    frame = markov_cross_entropies(train, held_out, max_order=2, vocab_size=V)
    np.testing.assert_allclose(frame["bits_per_token"], -model.log2_probs(contexts, targets).mean(axis=1))

    # Reordering rows changes nothing.
    rng = np.random.default_rng(4)
    train, held_out = random_tokens(rng, 40, 30, 15), random_tokens(rng, 10, 30, 15)
    frame = markov_cross_entropies(train, held_out, max_order=3, vocab_size=15)
    shuffled = markov_cross_entropies(
        train[rng.permutation(40)], held_out[rng.permutation(10)], max_order=3, vocab_size=15
    )
    np.testing.assert_allclose(shuffled["bits_per_token"], frame["bits_per_token"], rtol=1e-12)
    assert shuffled["distinct_contexts"].tolist() == frame["distinct_contexts"].tolist()


def test_only_ordinary_tokens_are_scored():
    train = np.array([[CLS, A, SEP, B, C, A]])
    frame = markov_cross_entropies(train, np.array([[CLS, A, SEP, B]]), max_order=1, vocab_size=V)
    assert frame["targets"].tolist() == [2, 2]  # a and b; [CLS] (column 0) and [SEP] are not scored
    empty = markov_cross_entropies(train, np.array([[CLS, SEP]]), max_order=1, vocab_size=V)
    assert empty["targets"].tolist() == [0, 0] and empty["bits_per_token"].isna().all()


def test_bad_input_raises():
    train = np.array([[CLS, A, B, C]])
    with pytest.raises(ValueError, match=r"train holds token ids outside \[0, 8\)"):
        markov_cross_entropies(np.array([[CLS, A, 8]]), train, max_order=1, vocab_size=V)
    with pytest.raises(ValueError, match=r"held_out holds token ids outside \[0, 8\)"):
        markov_cross_entropies(train, np.array([[CLS, 9]]), max_order=1, vocab_size=V)
    with pytest.raises(ValueError, match="outside"):
        markov_cross_entropies(np.array([[CLS, -1]]), train, max_order=1, vocab_size=V)
    with pytest.raises(ValueError, match="max_order must be an integer >= 0"):
        markov_cross_entropies(train, train, max_order=-1, vocab_size=V)
    with pytest.raises(ValueError, match="train must be a 2-d token array"):
        markov_cross_entropies(train[0], train, max_order=1, vocab_size=V)
    with pytest.raises(ValueError, match="held_out must be a 2-d token array"):
        markov_cross_entropies(train, train[None], max_order=1, vocab_size=V)
    with pytest.raises(ValueError, match="integer token ids"):
        markov_cross_entropies(train.astype(float), train, max_order=1, vocab_size=V)
    with pytest.raises(ValueError, match="at least 2 tokens"):
        markov_cross_entropies(train[:, :1], train, max_order=1, vocab_size=V)
    model = KneserNey(train, max_order=1, vocab_size=V)
    with pytest.raises(ValueError, match="targets must be"):
        model.log2_probs(np.array([[A]]), np.array([V]))
    with pytest.raises(ValueError, match="contexts must be"):
        model.log2_probs(np.array([[V + 1]]), np.array([A]))


def test_unigram_log2_probs_are_the_order_zero_model_for_every_id():
    from seqens.markov import unigram_log2_probs

    rng = np.random.default_rng(4)
    train = rng.integers(5, 12, size=(20, 30))
    train[:, 0] = 2
    train[:, 15] = 3  # a [SEP]: counted by the order-0 model, never asked for at evaluation
    log2_p = unigram_log2_probs(train, vocab_size=12)
    assert log2_p.shape == (12,) and np.isclose(np.exp2(log2_p).sum(), 1.0)
    assert np.isneginf(log2_p[:5]).all()
    # The order-0 Kneser-Ney model of every id, renormalised over the ordinary ones.
    order0 = KneserNey(train, max_order=0, vocab_size=12)
    full = order0.log2_probs(np.zeros((12, 0), dtype=np.int64), np.arange(12))[0]
    ordinary = np.exp2(full[5:])
    assert np.allclose(np.exp2(log2_p[5:]), ordinary / ordinary.sum(), rtol=1e-12)
