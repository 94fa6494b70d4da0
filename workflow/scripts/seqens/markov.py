"""Held-out conditional entropy of k-th order Markov (n-gram) models of a token corpus.

For each order k = 0..K a model predicts a token from the k tokens before it; its mean
held-out cross-entropy ``-log2 P(w_t | w_{t-k} .. w_{t-1})``, in bits per token, says how
much of the corpus is predictable from k tokens of local context, i.e. how much structure
there is for a model to find (k = 0: the unigram model).

Smoothing: interpolated Kneser-Ney (Chen & Goodman 1998), one discount per order. With V
the vocabulary size, h a context of k symbols and h' the same context without its oldest
symbol, the model whose highest order is K is, recursively for k = 0..K,

    P_k(w | h) = [max(c_k(hw) - D_k, 0) + D_k N_k(h) P_{k-1}(w | h')] / c_k(h)   if c_k(h) > 0
    P_k(w | h) = P_{k-1}(w | h')                                                  otherwise
    P_{-1}(w)  = 1 / V

where c_k(h) = sum_w c_k(hw), N_k(h) is the number of distinct w with c_k(hw) > 0 and
D_k = n1 / (n1 + 2 n2), n_r being the number of (k+1)-grams with c_k = r (this lies in (0, 1)
whenever n1, n2 > 0; otherwise FALLBACK_DISCOUNT is used). The counts are
  * at the highest order K: raw counts of the (k+1)-gram hw;
  * at lower orders: continuation counts, the number of distinct symbols seen immediately
    before hw. An n-gram that begins with the beginning-of-row symbol cannot be extended to
    the left, so it keeps its raw count (as KenLM does).
Why Kneser-Ney: absolute discounting leaves frequent events nearly untouched and gives the
backoff distribution mass in proportion to how many distinct tokens follow a context, and
continuation counts make a lower order estimate what it is used for (how likely w is after a
context the higher order has not seen). KN is the best of the classical n-gram smoothers, so
its held-out cross-entropy, an upper bound on the true entropy of a token given k tokens of
context, is about as close to it as counts allow. Every id of the vocabulary keeps mass through
the uniform P_{-1}, so the loss is always finite. The order-k result is the model whose highest
order is k (raw counts at k, continuation counts below); all orders come from one fit.

Conventions for token arrays [rows, L] (each row starts with [CLS]; ids < n_special are the
special tokens):
  * rows are independent: a context never reaches into another row; before a row's first
    column it is padded with a beginning-of-row symbol BOS (id V, not a vocabulary id),
    the standard n-gram <s> padding;
  * training counts every position except column 0 as an outcome, special tokens such as
    [SEP] included, so each P_k is a distribution over all V ids;
  * held-out scoring uses the positions past column 0 whose token is an ordinary token
    (id >= n_special).

Counting is sort based: the (k+1)-gram ending at a position gets the id
unique-inverse(id of its k-gram ending there) * (V + 1) + (symbol k back), so keys stay below
(#positions) * (V + 1) and never overflow int64; held-out n-grams are looked up with
np.searchsorted. Time is a few sorts of the training positions per order; memory is linear.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

# Discount used when an order has no n-grams seen once or none seen twice, where
# n1 / (n1 + 2 n2) degenerates to 0 or 1 (KenLM's --discount_fallback uses 0.5 for D1).
FALLBACK_DISCOUNT = 0.5


def _check_tokens(tokens, vocab_size: int, name: str) -> np.ndarray:
    tokens = np.asarray(tokens)
    if tokens.ndim != 2:
        raise ValueError(f"{name} must be a 2-d token array [rows, length], got shape {tokens.shape}")
    if not np.issubdtype(tokens.dtype, np.integer):
        raise ValueError(f"{name} must hold integer token ids, got dtype {tokens.dtype}")
    if tokens.size and (tokens.min() < 0 or tokens.max() >= vocab_size):
        raise ValueError(f"{name} holds token ids outside [0, {vocab_size}) (vocab_size={vocab_size})")
    return tokens.astype(np.int64, copy=False)


def _discount(counts: np.ndarray) -> float:
    n1, n2 = np.count_nonzero(counts == 1), np.count_nonzero(counts == 2)
    return n1 / (n1 + 2 * n2) if n1 and n2 else FALLBACK_DISCOUNT


@dataclass
class _Counts:
    """One order's counts of one kind (raw or continuation)."""

    grams: np.ndarray  # count of each seen (k+1)-gram
    contexts: np.ndarray  # their sum per context, c_k(h)
    discount: float


@dataclass
class _Order:
    gram_keys: np.ndarray  # sorted keys of the seen (k+1)-grams (order 0: every token id)
    context_keys: np.ndarray  # sorted keys of the seen k-token contexts
    types: np.ndarray  # N_k(h): distinct tokens seen after each context
    raw: _Counts
    continuation: _Counts | None  # None at the highest order, which is never a lower order


class KneserNey:
    """Interpolated Kneser-Ney models of every order 0..max_order, fitted once on ``train``
    [rows, L]; ``bos`` (= vocab_size) is the beginning-of-row symbol of contexts."""

    def __init__(self, train: np.ndarray, *, max_order: int, vocab_size: int):
        if int(max_order) != max_order or max_order < 0:
            raise ValueError(f"max_order must be an integer >= 0, got {max_order}")
        if vocab_size < 1:
            raise ValueError(f"vocab_size must be >= 1, got {vocab_size}")
        tokens = _check_tokens(train, vocab_size, "train")
        if tokens.shape[0] == 0 or tokens.shape[1] < 2:
            raise ValueError(f"train needs a row of at least 2 tokens to count, got shape {tokens.shape}")
        self.max_order, self.vocab_size, self.bos = int(max_order), int(vocab_size), int(vocab_size)
        base, order_k = self.vocab_size + 1, self.max_order
        rows, length = tokens.shape
        padded = np.full((rows, order_k + length), self.bos, dtype=np.int64)
        padded[:, order_k:] = tokens

        gram_keys, contexts, raw_counts, ids = [], [], [], None  # per order
        for k in range(order_k + 1):
            # The symbol k positions before each outcome (columns 1..L-1), BOS before the row.
            symbol = padded[:, order_k + 1 - k : order_k + length - k].ravel()
            if k == 0:  # every token is a unigram key (unseen ones with count 0): no sort needed
                keys, ids, counts = np.arange(vocab_size), symbol, np.bincount(symbol, minlength=vocab_size)
            elif k < order_k:
                keys, ids, counts = np.unique(ids * base + symbol, return_inverse=True, return_counts=True)
            else:
                keys, counts = np.unique(ids * base + symbol, return_counts=True)
            # A gram's context is its (k-1)-gram's context extended by the gram's oldest symbol.
            if k == 0:
                context_keys = np.zeros(len(keys), np.int64)
            else:
                context_keys = contexts[-1][1][keys // base] * base + keys % base
            gram_keys.append(keys)
            contexts.append(np.unique(context_keys, return_inverse=True))  # (sorted keys, context id of each gram)
            raw_counts.append(counts)
        self._orders = []
        for k in range(order_k + 1):
            (context_keys, context_of_gram), keys = contexts[k], gram_keys[k]
            continuation = None
            if k < order_k:
                counts = np.bincount(gram_keys[k + 1] // base, minlength=len(keys))
                if k > 0:
                    counts = np.where(keys % base == self.bos, raw_counts[k], counts)
                continuation = self._counts(counts, context_of_gram, len(context_keys))
            self._orders.append(
                _Order(
                    gram_keys=keys,
                    context_keys=context_keys,
                    types=np.bincount(context_of_gram, weights=raw_counts[k] > 0, minlength=len(context_keys)),
                    raw=self._counts(raw_counts[k], context_of_gram, len(context_keys)),
                    continuation=continuation,
                )
            )
        self.distinct_contexts = np.array([len(o.context_keys) for o in self._orders])
        self.discounts = pd.DataFrame(
            {
                "order": np.arange(order_k + 1),
                "raw": [o.raw.discount for o in self._orders],
                "continuation": [o.continuation.discount if o.continuation else np.nan for o in self._orders],
            }
        )

    @staticmethod
    def _counts(gram_counts: np.ndarray, context_of_gram: np.ndarray, n_contexts: int) -> _Counts:
        return _Counts(
            grams=gram_counts,
            contexts=np.bincount(context_of_gram, weights=gram_counts, minlength=n_contexts),
            discount=_discount(gram_counts),
        )

    def log2_probs(self, contexts: np.ndarray, targets: np.ndarray) -> np.ndarray:
        """log2 P_k(target | context) for every order k: [max_order + 1, N]. ``contexts`` is
        [N, max_order], oldest symbol first (the order-k model reads the last k columns);
        entries are token ids or ``bos``; ``targets`` [N] are token ids."""
        order_k, base = self.max_order, self.vocab_size + 1
        targets = np.asarray(targets, dtype=np.int64)
        if targets.ndim != 1 or ((targets < 0) | (targets >= self.vocab_size)).any():
            raise ValueError(f"targets must be a 1-d array of token ids in [0, {self.vocab_size})")
        contexts = np.asarray(contexts, dtype=np.int64)
        if contexts.shape != (len(targets), order_k) or ((contexts < 0) | (contexts > self.bos)).any():
            raise ValueError(f"contexts must be [{len(targets)}, {order_k}] token ids or bos={self.bos}")
        out = np.empty((order_k + 1, len(targets)))
        lower = np.full(len(targets), 1.0 / self.vocab_size)
        gram = context = np.zeros(len(targets), np.int64)
        gram_seen = context_seen = np.ones(len(targets), bool)
        for k, order in enumerate(self._orders):
            symbol = targets if k == 0 else contexts[:, order_k - k]
            gram, gram_seen = _lookup(order.gram_keys, symbol if k == 0 else gram * base + symbol, gram_seen)
            if k > 0:
                context, context_seen = _lookup(order.context_keys, context * base + symbol, context_seen)
            step = (order, gram, gram_seen, context, context_seen, lower)
            out[k] = _interpolate(order.raw, *step)
            if order.continuation is not None:  # the next order's lower-order distribution
                lower = _interpolate(order.continuation, *step)
        return np.log2(out)


def _lookup(sorted_keys: np.ndarray, keys: np.ndarray, seen: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Index of each key in ``sorted_keys`` (clipped into range) and whether it is there; a key
    whose shorter n-gram was unseen (``seen`` False) is unseen too."""
    # Sorted needles make searchsorted walk the table in order: several times faster.
    order = np.argsort(keys)
    index = np.empty_like(order)
    index[order] = np.minimum(np.searchsorted(sorted_keys, keys[order]), len(sorted_keys) - 1)
    return index, seen & (sorted_keys[index] == keys)


def _interpolate(counts: _Counts, order: _Order, gram, gram_seen, context, context_seen, lower) -> np.ndarray:
    discount = counts.discount
    seen_mass = np.where(gram_seen, np.maximum(counts.grams[gram] - discount, 0.0), 0.0)
    smoothed = (seen_mass + discount * order.types[context] * lower) / counts.contexts[context]
    return np.where(context_seen, smoothed, lower)


def held_out_positions(tokens: np.ndarray, *, max_order: int, vocab_size: int, n_special: int = 5):
    """The scored positions of a token array: (contexts [N, max_order] padded with BOS = vocab_size,
    targets [N]) for every position past column 0 whose token is an ordinary id (>= n_special)."""
    tokens = _check_tokens(tokens, vocab_size, "held_out")
    padded = np.full((tokens.shape[0], max_order + tokens.shape[1]), vocab_size, dtype=np.int64)
    padded[:, max_order:] = tokens
    windows = np.lib.stride_tricks.sliding_window_view(padded, max_order + 1, axis=1)[:, 1:]
    scored = windows[tokens[:, 1:] >= n_special]
    return scored[:, :max_order], scored[:, max_order]


def markov_cross_entropies(
    train: np.ndarray, held_out: np.ndarray, *, max_order: int, vocab_size: int, n_special: int = 5
) -> pd.DataFrame:
    """Held-out bits per token of the Kneser-Ney Markov model of each order 0..max_order fitted
    on ``train``: columns order, bits_per_token, targets (held-out positions scored),
    distinct_contexts (distinct k-token contexts seen in training). NaN bits with no targets."""
    model = KneserNey(train, max_order=max_order, vocab_size=vocab_size)
    contexts, targets = held_out_positions(held_out, max_order=max_order, vocab_size=vocab_size, n_special=n_special)
    log2p = model.log2_probs(contexts, targets)
    bits = -log2p.mean(axis=1) if len(targets) else np.full(max_order + 1, np.nan)
    return pd.DataFrame(
        {
            "order": np.arange(max_order + 1),
            "bits_per_token": bits,
            "targets": len(targets),
            "distinct_contexts": model.distinct_contexts,
        }
    )


def unigram_log2_probs(train: np.ndarray, *, vocab_size: int, n_special: int = 5) -> np.ndarray:
    """log2 P(w) for every id w < vocab_size of the order-0 model (the training tokens'
    smoothed frequencies) restricted to the ordinary tokens (ids >= n_special; the special
    ids get -inf): the best context-free predictor a model could learn from ``train`` of the
    tokens evaluation asks for, which are always ordinary."""
    model = KneserNey(train, max_order=0, vocab_size=vocab_size)
    probs = np.exp2(model.log2_probs(np.zeros((vocab_size, 0), dtype=np.int64), np.arange(vocab_size))[0])
    probs[:n_special] = 0.0
    with np.errstate(divide="ignore"):
        return np.log2(probs / probs.sum())


# --- The entropy rate of a symbol stream: a mixture of orders up to 16 and beyond ------------
#
# Kneser-Ney above keeps every order's tables (memory ~ orders x training tokens), fine for
# a few orders of a large token vocabulary. The entropy rate of DNA needs orders of 16 and
# more over 4 letters, the way DNA compressors mix them (XM: Cao et al. 2007; GeCo: Pratas
# et al. 2016; cmix/paq context mixing); that is done here with one sorted table for all
# orders.
#
# A *symbol stream* is a 1-d integer array: 0..A-1 are the alphabet's symbols (A =
# alphabet_size), A is a break (a row boundary, an N, ...) that no context reaches across
# and that is never predicted. Every position t with a symbol gets a key of K + 1 base-(A+1)
# digits, *nearest first*: s_t, s_{t-1}, ..., s_{t-K} (a break for anything before the stream
# or behind a break's position). Then the positions whose order-k context and symbol equal a
# held-out position's are one contiguous range of the sorted keys, for every k <= K, and one
# sorted array answers every order with two binary searches (a second one, of the contexts
# alone, counts the contexts).
#
# Order-k model: the counts n(c, x) of the training stream under a Dirichlet prior of strength
# b (``prior_strength``) centred on the next lower listed order's prediction (MacKay & Peto
# 1995's hierarchical Dirichlet model; PPM's blending): P_k(x | c) = (n(c, x) + b P_j(x | c'))
# / (n(c) + b), with j the next lower listed order and c' the context's last j symbols, and
# 1/A below the lowest. An order whose context was seen often follows its counts; one seen
# rarely or never falls back on the shorter context (GeCo's finite-context models add a
# constant instead, and leave that fallback to the mixing; on the demo's text, a constant
# 1/16 costs 0.3 bits per character more, on its DNA the same). Where the held-out context
# is shorter than k (after a break), model k predicts as the highest listed order that fits.
# Mixing, two levels: for each forgetting factor g, GeCo's mixture sum_k w_k(t) P_k with
# w_k(t+1) proportional to w_k(t)^g P_k(x_t) (g = 1: the Bayesian mixture; g < 1 follows the
# order that predicts well *locally*, e.g. in a repeat); these mixtures are combined by a
# Bayesian mixture (g = 1), which costs at most log2(number of factors) / n bits per symbol
# over the best of them. The result is a sequential prediction of the held-out stream from the
# training stream, so its mean -log2 P is a code length: an upper bound on the held-out
# stream's entropy rate given the training stream.


def stream_keys(stream: np.ndarray, *, alphabet_size: int, max_order: int) -> np.ndarray:
    """The nearest-first key of every position of a symbol stream (see above): uint64."""
    radix = alphabet_size + 1
    if radix ** (max_order + 1) >= 2**64:
        raise ValueError(f"{max_order + 1} digits of base {radix} do not fit 64 bits: lower the highest order")
    stream = np.asarray(stream)
    keys = np.zeros(len(stream), np.uint64)
    digit = np.empty(len(stream), np.uint64)
    for back in range(max_order + 1):
        digit[:back] = alphabet_size  # before the stream: a break
        digit[back:] = stream[: len(stream) - back]
        keys = keys * np.uint64(radix) + digit
    return keys


def context_lengths(stream: np.ndarray, *, alphabet_size: int) -> np.ndarray:
    """Per position, the symbols before it since the last break (or the stream's start)."""
    index = np.arange(len(stream))
    last_break = np.maximum.accumulate(np.where(np.asarray(stream) >= alphabet_size, index, -1))
    return index - last_break - 1


class MixedOrderCounts:
    """The counts of every order 0..max_order of a training symbol stream, in two sorted arrays
    (8 bytes per training symbol each)."""

    def __init__(self, train: np.ndarray, *, alphabet_size: int, max_order: int):
        train = np.asarray(train)
        if train.ndim != 1 or (train.size and (train.min() < 0 or train.max() > alphabet_size)):
            raise ValueError(f"train must be a 1-d symbol stream of values 0..{alphabet_size}")
        self.alphabet_size, self.max_order = alphabet_size, max_order
        keys = stream_keys(train, alphabet_size=alphabet_size, max_order=max_order)[train < alphabet_size]
        self.contexts = np.sort(keys % self._scale(max_order))  # K digits: the context alone
        keys.sort()
        self.grams = keys
        self.symbols = len(keys)

    def _scale(self, digits_dropped: int) -> np.uint64:
        return np.uint64(self.alphabet_size + 1) ** np.uint64(digits_dropped)

    def log_probs(self, held_out: np.ndarray, *, orders, prior_strength: float) -> np.ndarray:
        """ln P_k(x_t | context) [len(orders), scored positions] of every held-out position with
        a symbol, in stream order; ``orders`` ascending, at most max_order."""
        held_out = np.asarray(held_out)
        alphabet, top = self.alphabet_size, self.max_order
        orders = list(orders)
        if orders != sorted(set(orders)) or not orders or orders[0] < 0 or orders[-1] > top:
            raise ValueError(f"orders must be distinct, ascending and within 0..{top}, got {orders}")
        scored = held_out < alphabet
        keys = stream_keys(held_out, alphabet_size=alphabet, max_order=top)[scored]
        available = context_lengths(held_out, alphabet_size=alphabet)[scored]
        # Sorted needles make the binary searches walk each table in order.
        by_gram = np.argsort(keys, kind="stable")
        contexts = keys % self._scale(top)
        by_context = np.argsort(contexts, kind="stable")
        out = np.empty((len(orders), len(keys)))
        lower = np.full(len(keys), 1.0 / alphabet)
        for row, order in enumerate(orders):
            scale = self._scale(top - order)
            grams = np.empty(len(keys))
            grams[by_gram] = _range_counts(self.grams, keys[by_gram] // scale, scale)
            totals = np.empty(len(keys))
            totals[by_context] = _range_counts(self.contexts, contexts[by_context] // scale, scale)
            probs = (grams + prior_strength * lower) / (totals + prior_strength)
            lower = np.where(available >= order, probs, lower)
            out[row] = np.log(lower)
        return out


def _range_counts(sorted_keys: np.ndarray, prefixes: np.ndarray, scale: np.uint64) -> np.ndarray:
    """How many sorted keys lie in [prefix x scale, (prefix + 1) x scale) for each of the sorted
    ``prefixes``; each distinct prefix searched once (at low orders they are few)."""
    if not len(prefixes):
        return np.zeros(0, np.int64)
    first = np.ones(len(prefixes), bool)
    first[1:] = prefixes[1:] != prefixes[:-1]
    distinct = prefixes[first]
    low = np.searchsorted(sorted_keys, distinct * scale)
    counts = np.searchsorted(sorted_keys, (distinct + np.uint64(1)) * scale) - low
    return counts[np.cumsum(first) - 1]


def forgetting_mixture(log_probs: np.ndarray, forgetting: float) -> np.ndarray:
    """ln P of GeCo's mixture of the rows of ``log_probs`` [models, n] (natural logs): weights
    start equal and w_k(t+1) is proportional to w_k(t)^forgetting P_k(x_t). In logs the
    weights are a softmax of an exponentially weighted running sum of each model's ln P (the
    normalisation of each step scales every weight alike)."""
    log_probs = np.atleast_2d(log_probs)
    log_weights = np.zeros_like(log_probs)
    log_weights[:, 1:] = discounted_sums(log_probs[:, :-1], forgetting)
    log_weights -= _logsumexp(log_weights)
    return _logsumexp(log_weights + log_probs)


def discounted_sums(values: np.ndarray, factor: float) -> np.ndarray:
    """u[:, t] = sum over s <= t of factor^(t - s) values[:, s], along the last axis. In blocks
    short enough that factor^-(block length) stays below 1e50 (a vectorised cumulative sum
    within a block, the running total carried across)."""
    if factor == 1.0:
        return np.cumsum(values, axis=-1)
    out = np.empty_like(values, dtype=np.float64)
    block = max(1, int(50 / -np.log10(factor)))
    carry = np.zeros(values.shape[:-1])
    for start in range(0, values.shape[-1], block):
        part = values[..., start : start + block]
        powers = factor ** np.arange(part.shape[-1])
        sums = powers * (factor * carry[..., None] + np.cumsum(part / powers, axis=-1))
        out[..., start : start + block] = sums
        carry = sums[..., -1]
    return out


def _logsumexp(values: np.ndarray) -> np.ndarray:
    """ln sum exp over the first axis, without overflow."""
    top = values.max(axis=0)
    return top + np.log(np.exp(values - top).sum(axis=0))


def mixed_order_bits(
    train: np.ndarray,
    held_out: np.ndarray,
    *,
    alphabet_size: int,
    orders,
    prior_strength: float,
    forgetting,
) -> np.ndarray:
    """-log2 P of each held-out symbol (stream order) under the two-level mixture of the order-k
    models counted on ``train`` (see above): one forgetting mixture per factor in
    ``forgetting``, combined by a Bayesian mixture."""
    counts = MixedOrderCounts(train, alphabet_size=alphabet_size, max_order=max(orders))
    log_probs = counts.log_probs(held_out, orders=orders, prior_strength=prior_strength)
    mixtures = np.vstack([forgetting_mixture(log_probs, factor) for factor in forgetting])
    return -forgetting_mixture(mixtures, 1.0) / np.log(2)
