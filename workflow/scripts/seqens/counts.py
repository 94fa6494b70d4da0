"""Count models at the members' own evaluation positions: how well the k visible tokens on
each side of a position (or, for a causal member, the k before it) predict its token, with
counts from the training split. A member's ``bits_beyond_counts`` is the best count model's
cross-entropy minus its own: what it knows beyond k-mer statistics.

The context. A position's order-k context is up to k tokens on its left and, for members
that see both sides (mlm, randommask, mae), up to k on its right, each side truncated at the
first masked position: the member sees a [MASK] there, not the token, so the count model does
not see it either. A causal member (clm) sees every token before the position: its count
model is the one-sided chain (the right side is empty and nothing is truncated; with
``two_sided=False`` this is seqens.markov's model at the evaluation positions). Beyond a
row's edges a context reads the padding symbols BOS = V (left) and EOS = V + 1 (right),
the n-gram <s> and </s>: a member knows where its sequence starts and ends too.

The model. A context shape (i, j) is i tokens on the left and j on the right. The order-k
model of a position whose visible context is (a, b) uses the shape s_k = (min(k, a),
min(k, b)), and backs off along s_k, s_{k-1}, ..., s_0 = (0, 0): each step drops the
farthest token of each side that still has k tokens (symmetrically; a truncated side stays
as it is until the other reaches it). Smoothing is interpolated Kneser-Ney (Chen & Goodman
1998), as in seqens.markov: with X = raw counts at the top shape and continuation counts
below, T(h) the number of distinct tokens seen after context h and P_{-1} uniform over the
ordinary tokens,

    P_s(w | h) = [max(X(hw) - D, 0) + D T(h) P_lower(w | h')] / X(h)   if X(h) > 0
    P_s(w | h) = P_lower(w | h')                                          otherwise.

The continuation count of a lower shape s whose chain parent p adds the tokens e (one on
each side that p extends) is the number of distinct e seen around hw in training, N1+(e h w):
how many different wider contexts the n-gram occurs in. A context that already ends in a
padding symbol on every side its parent extends cannot be widened, and keeps raw counts (as
KenLM does for n-grams that begin with <s>). Outcomes are the ordinary tokens (ids >=
n_special, what evaluation asks for); contexts may hold any symbol, [CLS] and [SEP] included.

Estimation. Counts come from training rows; the discounts D (one for raw and one for
continuation counts per order max(i, j)) and the order K are chosen on positions of held-out
training rows drawn as the evaluation positions are (seqens.positions.masked_positions),
never on the evaluation positions: order by order, the raw discount of order k and the
continuation discount of order k - 1 minimise the order-k model's held-out cross-entropy
(grid search), and the best order is the one of least held-out cross-entropy.

Counting is restricted to the contexts asked about (evaluation and held-out positions): each
shape's contexts are identified exactly, as a trie, by (the id of the context one token
shorter, the added token), and training positions are matched shape by shape from the
matches of the shorter shape, so a long shape only looks at the few positions whose shorter
context was asked about. Every lookup is one vectorised numpy gather where its key space is
small (a dense table, up to half a byte per training token) and otherwise a hash table read
as (key, position) pairs (_KeyIndex). Per shape, each training n-gram is recorded with its
widening neighbours in a vectorised open-addressing hash set (_KeySet): most positions repeat
an n-gram already held and cost one gather; the distinct sets of each direction and the raw
n-grams are projections of it, found by one sort per shape at the end. Shapes are counted in
passes, each a few subtrees of the trie (_passes), so that only a pass's sets are held and a
pass re-matches few ancestors (benchmarks/bench_counts.py measures the rate and memory).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .special import SPECIAL_TOKENS

# Discounts tried on held-out rows; at most 1, where a seen n-gram keeps no mass of its own.
DISCOUNT_GRID = np.round(np.arange(0.05, 1.0001, 0.05), 2)
CHUNK_TOKENS = 1 << 18  # training tokens matched at a time: bounds the working memory
# A lookup over keys in [0, size) is a dense table (4 bytes a key) where size is at most this or
# 1/8 of the training tokens (half a byte per token), else a hash table.
DENSE_LOOKUP_MIN = 1 << 16


def prediction_context(objective: str) -> str:
    """What a member of ``objective`` sees of a position's neighbours, as the count
    baselines' files name it: two_sided, or one_sided for a causal objective."""
    from .objectives import REGISTRY

    return "two_sided" if REGISTRY[objective].two_sided else "one_sided"


def visible_context(positions: np.ndarray, max_order: int, two_sided: bool) -> tuple[np.ndarray, np.ndarray]:
    """The visible context (left, right) of each evaluation position [rows, L] (row-major
    order, as the members' distributions): tokens up to ``max_order`` on each side before the
    first masked one (positions beyond the row are padding, visible). One-sided: every left
    token is visible (a causal member's input is never masked), none on the right."""
    rows, cols = np.nonzero(positions)
    if not two_sided:
        return np.full(len(rows), max_order), np.zeros(len(rows), dtype=np.int64)
    length = positions.shape[1]
    left = np.full(len(rows), max_order)
    right = np.full(len(rows), max_order)
    for distance in range(max_order, 0, -1):  # the nearest masked neighbour wins
        before, after = cols - distance, cols + distance
        masked_before = (before >= 0) & positions[rows, np.clip(before, 0, length - 1)]
        masked_after = (after < length) & positions[rows, np.clip(after, 0, length - 1)]
        left = np.where(masked_before, distance - 1, left)
        right = np.where(masked_after, distance - 1, right)
    return left, right


def padded(tokens: np.ndarray, left: int, right: int, vocab_size: int) -> np.ndarray:
    """Rows [R, L] as int64 with ``left`` BOS (= V) before and ``right`` EOS (= V + 1) after."""
    out = np.empty((len(tokens), left + tokens.shape[1] + right), dtype=np.int64)
    out[:, :left], out[:, left + tokens.shape[1] :] = vocab_size, vocab_size + 1
    out[:, left : left + tokens.shape[1]] = tokens
    return out


@dataclass(frozen=True)
class Queries:
    """Positions a count model is asked about: the symbols around each [N, K + 1 + J]
    (offsets -K..J, the target at column K; J = K two-sided, 0 one-sided) and its visible
    context (left, right)."""

    windows: np.ndarray
    left: np.ndarray
    right: np.ndarray
    max_order: int
    right_order: int

    @classmethod
    def at(cls, tokens: np.ndarray, positions: np.ndarray, *, max_order: int, two_sided: bool, vocab_size: int):
        """The queries at the True entries of ``positions`` [R, L] (row-major) of rows ``tokens``."""
        right_order = max_order if two_sided else 0
        left, right = visible_context(positions, max_order, two_sided)
        rows, cols = np.nonzero(positions)
        rows_padded = padded(np.asarray(tokens), max_order, right_order, vocab_size)
        offsets = np.arange(max_order + 1 + right_order)
        windows = rows_padded[rows[:, None], cols[:, None] + offsets]
        return cls(windows, left, right, max_order, right_order)

    def __len__(self) -> int:
        return len(self.left)

    @property
    def targets(self) -> np.ndarray:
        return self.windows[:, self.max_order]

    def symbol(self, offset: int) -> np.ndarray:
        return self.windows[:, self.max_order + offset]

    def __add__(self, other: "Queries") -> "Queries":
        return Queries(
            np.concatenate([self.windows, other.windows]),
            np.concatenate([self.left, other.left]),
            np.concatenate([self.right, other.right]),
            self.max_order,
            self.right_order,
        )


def _shapes(max_order: int, right_order: int) -> list[tuple[int, int]]:
    """Every context shape (i, j), each after the shorter one it is matched from."""
    return sorted(((i, j) for i in range(max_order + 1) for j in range(right_order + 1)), key=lambda s: (sum(s), s))


def _passes(shapes: list[tuple[int, int]]) -> list[list[tuple[int, int]]]:
    """The shapes in passes over the training rows, each a few subtrees of the trie they are
    matched along, so that a pass re-matches only its subtrees' few ancestors and holds only
    its own shapes' distinct n-grams: the one-sided shapes of each side ((0, 0) with the
    left's), the shapes whose shorter side is one token, and the rest (rarer contexts, fewer
    n-grams)."""

    def band(shape: tuple[int, int]) -> tuple[int, bool]:
        nearer = min(shape)
        return (0, shape[0] < shape[1]) if nearer == 0 else (min(nearer, 2), False)

    return [[s for s in shapes if band(s) == b] for b in sorted({band(s) for s in shapes})]


def _shorter(shape: tuple[int, int]) -> tuple[tuple[int, int], int]:
    """The shape one token shorter that ``shape`` is matched from, and the offset of the token
    it adds: the farther side loses its farthest token (the right one on a tie)."""
    i, j = shape
    return ((i - 1, j), -i) if i > j else ((i, j - 1), j)


def _home_slots(keys: np.ndarray, mask: int) -> np.ndarray:
    """Each key's home slot in a table of ``mask`` + 1 (a power of 2) slots: Fibonacci hashing,
    the top bits of key x 2^64 / golden ratio, which mix every bit of the key."""
    slot = keys * np.int64(0x9E3779B97F4A7C15 - (1 << 64))  # wraps modulo 2^64
    slot >>= 64 - int(mask).bit_length()  # arithmetic: the mask keeps the top bits
    slot &= mask
    return slot


class _KeySet:
    """A set of distinct int64 keys >= 0 by open addressing (linear probing, load at most
    1/2, doubling as it fills): vectorised, so that adding or finding N keys costs O(N) numpy
    work, most keys in one gather at their home slot."""

    EMPTY = -1

    def __init__(self, capacity: int = 16):
        self._allocate(max(4, int(capacity - 1).bit_length()))

    def _allocate(self, bits: int) -> None:
        self.size = 0  # at least the number of keys held (exact after a recount)
        self.mask = (1 << bits) - 1
        self.table = np.full(1 << bits, self.EMPTY, dtype=np.int64)

    def _home(self, keys: np.ndarray) -> np.ndarray:
        return _home_slots(keys, self.mask)

    def add(self, keys: np.ndarray) -> None:
        """Add ``keys`` (repeats allowed)."""
        at = self._home(keys)
        found = self.table[at]
        absent = np.flatnonzero(found != keys)
        keys, at, found = keys[absent], at[absent], found[absent]
        while len(keys):
            claims = np.flatnonzero(found == self.EMPTY)
            if 2 * (self.size + len(claims)) > len(self.table):
                self.size = int(np.count_nonzero(self.table >= 0))  # exact again (repeats claimed twice)
                if 2 * (self.size + len(claims)) > len(self.table) or 8 * self.size > 3 * len(self.table):
                    self._grow(self.size + len(claims))  # early enough that recounting costs O(1) a key
                    at = self._home(keys)
                    found = self.table[at]
                    continue
            # Of the keys claiming one empty slot the last written wins, and its repeats are in.
            onward = found != keys
            slots, claimed = at[claims], keys[claims]
            self.table[slots] = claimed
            onward[claims] = self.table[slots] != claimed
            self.size += len(claims)  # at least the keys held
            keys, at = keys[onward], (at[onward] + 1) & self.mask
            found = self.table[at]

    def _grow(self, size: int) -> None:
        """Double (or more) the table for ``size`` keys. The held keys are distinct: in order
        of their new home slots, each goes to the first slot free at or after its home."""
        keys = self.table[self.table >= 0]
        bits = int(self.mask).bit_length() + 1
        while 2 * size > 1 << bits:
            bits += 1
        self._allocate(bits)
        home = self._home(keys)
        order = np.argsort(home, kind="stable")  # near-sorted already (the old slot order): fast
        keys, at = keys[order], home[order]
        del home, order
        steps = np.arange(len(keys))
        at -= steps
        np.maximum.accumulate(at, out=at)
        at += steps
        self.size = int(np.searchsorted(at, self.mask, side="right"))  # increasing: those that fit come first
        self.table[at[: self.size]] = keys[: self.size]
        self.add(keys[self.size :])  # the few that run past the end wrap round

    def pop(self) -> np.ndarray:
        """The keys (in slot order), emptying the set."""
        keys = self.table[self.table >= 0]
        self._allocate(4)
        return keys


def _distinct_sorted(keys: np.ndarray) -> np.ndarray:
    """The distinct keys of sorted ``keys``."""
    return keys[np.concatenate(([True], keys[1:] != keys[:-1]))] if len(keys) else keys


class _KeyIndex:
    """Position of each of sorted distinct int64 keys in [0, ``size``): a dense table of
    positions where ``size`` is at most ``dense_limit`` (one gather per lookup), else a
    _KeySet with each slot's position beside its key, read in one gather: packed in one int64
    (load <= 1/8) where keys and positions fit 32 bits, else as (key, position) rows (load <= 1/4)."""

    def __init__(self, keys: np.ndarray, size: int, dense_limit: int):
        self.keys = keys
        self.dense = self.packed = self.rows = None
        if size <= dense_limit:
            self.dense = np.full(size, -1, dtype=np.int32)
            self.dense[keys] = np.arange(len(keys))
            return
        packs = size < 2**31  # and so are the positions (fewer keys than the key space)
        table = _KeySet((8 if packs else 4) * len(keys))
        table.add(keys)
        self.mask = table.mask
        held = table.table >= 0
        positions = np.full(len(table.table), -1, dtype=np.int64)
        positions[held] = np.searchsorted(keys, table.table[held])
        if packs:
            self.packed = (table.table << 32) | (positions & 0xFFFFFFFF)
        else:
            self.rows = np.stack([table.table, positions], axis=1)

    def _read(self, at: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The key and the position held at slots ``at``."""
        if self.packed is not None:
            row = self.packed.take(at)
            return row >> 32, row & 0xFFFFFFFF
        row = np.take(self.rows, at, axis=0)
        return row[:, 0], row[:, 1]

    def find(self, keys: np.ndarray) -> np.ndarray:
        """The index of each key in the set, -1 where it is not there."""
        if self.dense is not None:
            return self.dense[keys].astype(np.int64)
        at = _home_slots(keys, self.mask)
        found, out = self._read(at)
        pending = np.flatnonzero(found != keys)
        out[pending] = -1
        pending = pending[found[pending] != _KeySet.EMPTY]  # another key there: probe on
        at = at[pending]
        while len(pending):
            at = (at + 1) & self.mask
            found, position = self._read(at)
            hit = found == keys[pending]
            out[pending[hit]] = position[hit]
            onward = ~hit & (found != _KeySet.EMPTY)
            pending, at = pending[onward], at[onward]
        return out


def _counts_of(sorted_keys: np.ndarray, counts: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """The count of each of ``keys`` (0 where unseen)."""
    if not len(sorted_keys):
        return np.zeros(len(keys))
    index = np.minimum(np.searchsorted(sorted_keys, keys), len(sorted_keys) - 1)
    return np.where(sorted_keys[index] == keys, counts[index], 0).astype(np.float64)


@dataclass
class _Level:
    """What one back-off level of every query reads: its shape's order max(i, j), its raw
    counts (X(h), X(hw), T(h)), and the continuation counts towards its chain parent
    (``continues``: False at the top level K and where the parent has the same shape)."""

    order: np.ndarray
    raw_context: np.ndarray
    raw_gram: np.ndarray
    types: np.ndarray
    continues: np.ndarray
    continuation_context: np.ndarray
    continuation_gram: np.ndarray


class ContextCounts:
    """Training counts of every context the ``queries`` ask about, each shape's raw counts and
    the continuation counts towards each chain parent, and the Kneser-Ney log-probabilities of
    the queries' targets from them for any discounts (see the module's docstring).

    ``train`` [R, L] are training rows; outcomes are the tokens with ids >= ``n_special`` past
    column 0, counted in chunks of about ``chunk_tokens``."""

    def __init__(
        self,
        train: np.ndarray,
        queries: Queries,
        *,
        vocab_size: int,
        n_special: int = len(SPECIAL_TOKENS),
        chunk_tokens: int = CHUNK_TOKENS,
    ):
        self.queries, self.vocab_size, self.n_special = queries, int(vocab_size), int(n_special)
        self.max_order, self.right_order = queries.max_order, queries.right_order
        K, J, V = self.max_order, self.right_order, self.vocab_size
        self.base = base = V + 2
        self._dense_limit = dense_limit = max(DENSE_LOOKUP_MIN, int(np.prod(np.shape(train))) // 8)
        n = len(queries)
        levels = np.arange(K + 1)
        # The chain: the shape every query reads at every level, and its parent's direction.
        left = np.minimum(levels[:, None], queries.left[None, :])  # [K + 1, N]
        right = np.minimum(levels[:, None], queries.right[None, :])
        grow_left = np.zeros_like(left, dtype=bool)
        grow_right = np.zeros_like(right, dtype=bool)
        grow_left[:-1], grow_right[:-1] = left[1:] > left[:-1], right[1:] > right[:-1]
        self._chain = (left, right, grow_left, grow_right)
        shapes = _shapes(K, J)
        # Which contexts each shape must know: its chain's, and those one token shorter.
        needed = {s: np.zeros(n, dtype=bool) for s in shapes}
        for level in levels:
            for s in set(zip(left[level].tolist(), right[level].tolist())):
                needed[s] |= (left[level] == s[0]) & (right[level] == s[1])
        for s in reversed(shapes[1:]):
            needed[_shorter(s)[0]] |= needed[s]
        # Each shape's contexts, by exact trie keys (shorter context's id, added symbol).
        self.context_ids: dict[tuple[int, int], np.ndarray] = {}
        self._index: dict[tuple[int, int], _KeyIndex] = {}
        self._n_contexts: dict[tuple[int, int], int] = {}
        for s in shapes:
            ids = np.full(n, -1, dtype=np.int64)
            if s == (0, 0):
                ids[needed[s]] = 0
                self._n_contexts[s] = 1
            elif needed[s].any():
                shorter, offset = _shorter(s)
                asked = needed[s]
                keys = self.context_ids[shorter][asked] * base + queries.symbol(offset)[asked]
                unique, ids[asked] = np.unique(keys, return_inverse=True)
                self._index[s] = _KeyIndex(unique, self._n_contexts[shorter] * base, dense_limit)
                self._n_contexts[s] = len(unique)
            else:
                self._n_contexts[s] = 0
            self.context_ids[s] = ids
        # Continuation directions each shape is asked for.
        self._directions: dict[tuple[int, int], set] = {s: set() for s in shapes}
        for level in levels[:-1]:
            grows = grow_left[level] | grow_right[level]
            for s, d in set(
                zip(
                    zip(left[level][grows].tolist(), right[level][grows].tolist()),
                    zip(grow_left[level][grows].astype(int).tolist(), grow_right[level][grows].astype(int).tolist()),
                )
            ):
                self._directions[s].add(d)
        self._count(np.asarray(train), chunk_tokens)

    def _count(self, train: np.ndarray, chunk_tokens: int) -> None:
        """Count in passes of a few shapes (only their distinct n-grams are held at a time),
        each chunk's positions matched along the trie from (0, 0)."""
        K, J, V, base = self.max_order, self.right_order, self.vocab_size, self.base
        active = [s for s in self.context_ids if self._n_contexts[s]]
        # Each shape records its n-grams with the neighbours on every side a parent widens it by
        # (one hash set); each direction's, and the raw n-grams, are projections of those.
        sides = {s: (any(d[0] for d in self._directions[s]), any(d[1] for d in self._directions[s])) for s in active}
        for s in active:
            if self._n_contexts[s] * V * base ** sum(sides[s]) >= 2**63:
                raise ValueError(
                    f"count model: {self._n_contexts[s]} contexts of shape {s} x {V} tokens overflow 64-bit n-gram keys"
                )
        rows_per_chunk = max(1, chunk_tokens // max(1, train.shape[1]))
        raw, continuation = {}, {}
        for group in _passes(active):
            context_totals = {s: np.zeros(self._n_contexts[s], dtype=np.int64) for s in group}
            widened = {s: _KeySet() for s in group}
            # The raw count of each n-gram asked about (a query's context and target).
            asked_keys, asked_index, gram_counts = {}, {}, {}
            for s in group:
                ids = self.context_ids[s]
                asked_keys[s] = np.unique(ids[ids >= 0] * V + self.queries.targets[ids >= 0])
                asked_index[s] = _KeyIndex(asked_keys[s], self._n_contexts[s] * V, self._dense_limit)
                gram_counts[s] = np.zeros(len(asked_keys[s]), dtype=np.int64)
            for start in range(0, len(train), rows_per_chunk):
                chunk = padded(np.asarray(train[start : start + rows_per_chunk]), K, J, V)
                flat = chunk.ravel()
                outcome = np.zeros(chunk.shape, dtype=bool)
                outcome[:, K + 1 : K + train.shape[1]] = chunk[:, K + 1 : K + train.shape[1]] >= self.n_special
                where = np.flatnonzero(outcome)
                matches = {(0, 0): (where, np.zeros(len(where), dtype=np.int64))}
                for s in group:
                    where, ids = self._match(s, matches, flat)
                    context_totals[s] += np.bincount(ids, minlength=len(context_totals[s]))
                    gram = ids * V + flat[where]
                    asked = asked_index[s].find(gram)
                    gram_counts[s] += np.bincount(asked + 1, minlength=len(gram_counts[s]) + 1)[1:]  # 0: not asked
                    if sides[s][0]:
                        gram = gram * base + flat[where - s[0] - 1]
                    if sides[s][1]:
                        gram = gram * base + flat[where + s[1] + 1]
                    widened[s].add(gram)
            for s in group:
                self._finish(s, sides[s], context_totals[s], widened[s], asked_index[s], gram_counts[s], raw, continuation)
        self._stats(raw, continuation)

    def _match(self, shape, matches: dict, flat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The chunk's positions whose ``shape`` context is asked about, and its ids there,
        matched from the shorter shape's (kept in ``matches`` for the chunk's other shapes)."""
        if shape not in matches:
            shorter, offset = _shorter(shape)
            where, ids = self._match(shorter, matches, flat)
            found = self._index[shape].find(ids * self.base + flat[where + offset])
            hit = np.flatnonzero(found >= 0)
            matches[shape] = (where.take(hit), found.take(hit))
        return matches[shape]

    def _finish(self, s, sides, context_totals, widened, asked_index, gram_counts, raw, continuation) -> None:
        """A shape's counts, reduced to what the queries read, from its distinct n-grams with
        their neighbours on ``sides`` (left, right) recorded."""
        V, base = self.vocab_size, self.base
        n_contexts = self._n_contexts[s]
        widened = widened.pop()
        if any(sides):  # by (context, token, left, right): each projection that drops trailing digits stays sorted
            widened.sort()
        grams = _distinct_sorted(widened // base ** sum(sides)) if any(sides) else widened
        types = np.bincount(grams // V, minlength=n_contexts)
        asked_keys = asked_index.keys
        raw[s] = (context_totals, types, asked_keys, gram_counts)
        for d in self._directions[s]:
            keys = widened
            if sides[1] and not d[1]:  # drop the right neighbour
                keys = _distinct_sorted(keys // base)
            if sides[0] and not d[0]:  # drop the left neighbour (the lower digit once the right is gone)
                keys = (keys // base ** (1 + d[1])) * base ** d[1] + keys % base ** d[1]
                keys.sort()
                keys = _distinct_sorted(keys)
            grams = keys // base ** sum(d)  # one per distinct e h w
            totals = np.bincount(grams // V, minlength=n_contexts).astype(np.float64)
            asked = asked_index.find(grams)
            per_asked = np.bincount(asked + 1, minlength=len(asked_keys) + 1)[1:].astype(np.float64)
            continuation[(s, d)] = (totals, per_asked, self._keeps_raw(s, d))

    def _keeps_raw(self, s: tuple[int, int], d: tuple[int, int]) -> np.ndarray:
        """Per context of shape ``s``: whether it ends in padding on every side its parent
        (direction ``d``) extends, and so keeps raw counts."""
        q, V = self.queries, self.vocab_size
        ids = self.context_ids[s]
        edge_padded = ids >= 0
        if d[0]:
            edge_padded &= (q.symbol(-s[0]) >= V) if s[0] else False
        if d[1]:
            edge_padded &= (q.symbol(s[1]) >= V) if s[1] else False
        keep_raw = np.zeros(self._n_contexts[s], dtype=bool)
        keep_raw[ids[edge_padded]] = True
        return keep_raw

    def _stats(self, raw, continuation) -> None:
        """Each level's counts for every query (the arrays log2_probs reads)."""
        K, V = self.max_order, self.vocab_size
        q = self.queries
        left, right, grow_left, grow_right = self._chain
        targets = q.targets
        self.levels = []
        for level in range(K + 1):
            names = ("raw_context", "raw_gram", "types", "continuation_context", "continuation_gram")
            fields = {name: np.zeros(len(q)) for name in names}
            order = np.maximum(left[level], right[level])
            continues = grow_left[level] | grow_right[level]
            for s in set(zip(left[level].tolist(), right[level].tolist())):
                at = (left[level] == s[0]) & (right[level] == s[1])
                ids = self.context_ids[s][at]
                totals, types, keys, counts = raw[s]
                fields["raw_context"][at] = totals[ids]
                fields["types"][at] = types[ids]
                fields["raw_gram"][at] = _counts_of(keys, counts, ids * V + targets[at])
                for d in self._directions[s]:
                    there = at & continues & (grow_left[level] == d[0]) & (grow_right[level] == d[1])
                    ids = self.context_ids[s][there]
                    c_totals, c_counts, keep_raw = continuation[(s, d)]
                    gram = ids * V + targets[there]
                    fields["continuation_context"][there] = np.where(keep_raw[ids], totals[ids], c_totals[ids])
                    fields["continuation_gram"][there] = np.where(
                        keep_raw[ids], _counts_of(keys, counts, gram), _counts_of(keys, c_counts, gram)
                    )
            self.levels.append(_Level(order=order, continues=continues, **fields))

    def log2_probs(self, raw_discounts, continuation_discounts, orders=None, select=None) -> np.ndarray:
        """log2 P_k(target) of every query (or those ``select``ed) for each order k (default
        0..K): [len(orders), N]. ``raw_discounts[m]`` and ``continuation_discounts[m]`` are
        the discounts of shapes of order m."""
        orders = range(self.max_order + 1) if orders is None else orders
        raw_d, cont_d = np.asarray(raw_discounts, float), np.asarray(continuation_discounts, float)
        pick = slice(None) if select is None else select
        uniform = 1.0 / (self.vocab_size - self.n_special)
        out = []
        for k in orders:
            prob = np.full(len(self.levels[0].order[pick]), uniform)
            for level in range(k + 1):
                lv = self.levels[level]
                if level == k:
                    context, gram, discount, applies = lv.raw_context[pick], lv.raw_gram[pick], raw_d[lv.order[pick]], True
                else:
                    context, gram = lv.continuation_context[pick], lv.continuation_gram[pick]
                    discount, applies = cont_d[lv.order[pick]], lv.continues[pick]
                types = lv.types[pick]
                with np.errstate(divide="ignore", invalid="ignore"):
                    smoothed = (np.maximum(gram - discount, 0.0) + discount * types * prob) / context
                prob = np.where(applies & (context > 0), smoothed, prob)
            out.append(np.log2(prob))
        return np.array(out)


def choose_discounts(counts: ContextCounts, select: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Discounts that minimise the held-out cross-entropy of the queries ``select``ed,
    order by order (the raw discount of order k with the continuation discount of order
    k - 1, on a grid), and each order's held-out bits per token: (raw, continuation, bits)."""
    K = counts.max_order
    raw, continuation = np.full(K + 1, 0.5), np.full(K + 1, np.nan)
    bits = np.zeros(K + 1)
    for k in range(K + 1):
        best = (np.inf, None, None)
        for d_raw in DISCOUNT_GRID:
            for d_cont in DISCOUNT_GRID if k else [np.nan]:
                raw[k] = d_raw
                if k:
                    continuation[k - 1] = d_cont
                loss = -counts.log2_probs(raw, continuation, orders=[k], select=select)[0].mean()
                if loss < best[0]:
                    best = (loss, d_raw, d_cont)
        bits[k], raw[k] = best[0], best[1]
        if k:
            continuation[k - 1] = best[2]
    return raw, continuation, bits


@dataclass(frozen=True)
class CountBaselines:
    """Count models at evaluation positions: ``log2_probs`` [K + 1, N] of each position's
    token (row-major order of the positions, as the members' distributions) under each order
    k = 0..K; ``selection``, per order, the held-out cross-entropy on the training split's
    held-out rows and the discounts chosen there; ``best_order``, the order of least held-out
    cross-entropy."""

    log2_probs: np.ndarray
    selection: pd.DataFrame
    best_order: int


def held_out_rows(n_rows: int, held_out: int) -> np.ndarray:
    """The training rows held out for choosing orders and discounts: evenly spaced (not the
    head of the split, which is one stretch of one genome or a few documents)."""
    if not 0 < held_out < n_rows:
        raise ValueError(f"held-out rows must be between 1 and {n_rows - 1}, got {held_out}")
    return np.unique(np.linspace(0, n_rows - 1, held_out).round().astype(np.int64))


def count_baselines(
    train: np.ndarray,
    eval_tokens: np.ndarray,
    eval_positions: np.ndarray,
    *,
    max_order: int,
    two_sided: bool,
    vocab_size: int,
    held_out_sequences: int,
    train_sequences: int | None,
    mask_fraction: float,
    seed: int,
    n_special: int = len(SPECIAL_TOKENS),
) -> CountBaselines:
    """The count models of orders 0..``max_order`` at ``eval_positions`` [S, L] of
    ``eval_tokens``, counted on ``train`` [R, L] less ``held_out_sequences`` rows held out to
    choose the discounts and the best order on (positions drawn on them as evaluation
    positions are, with ``mask_fraction`` and ``seed``); at most ``train_sequences`` rows are
    counted (evenly spaced; None: all)."""
    from .positions import masked_positions

    held_out = held_out_rows(len(train), held_out_sequences)
    fitted = np.setdiff1d(np.arange(len(train)), held_out)
    if train_sequences and train_sequences < len(fitted):
        fitted = fitted[np.unique(np.linspace(0, len(fitted) - 1, train_sequences).round().astype(np.int64))]
    held_out_tokens = np.asarray(train[held_out], dtype=np.int64)
    rng = np.random.default_rng([seed, 7])  # a stream of its own: held-out count positions
    held_out_positions = masked_positions(held_out_tokens, mask_fraction, rng, n_special=n_special)
    options = dict(max_order=max_order, two_sided=two_sided, vocab_size=vocab_size)
    evaluation = Queries.at(np.asarray(eval_tokens, dtype=np.int64), eval_positions, **options)
    tuning = Queries.at(held_out_tokens, held_out_positions, **options)
    counts = ContextCounts(train[fitted], evaluation + tuning, vocab_size=vocab_size, n_special=n_special)
    on_held_out = np.arange(len(evaluation), len(evaluation) + len(tuning))
    raw, continuation, bits = choose_discounts(counts, on_held_out)
    best = int(np.argmin(bits))
    selection = pd.DataFrame(
        {
            "order": np.arange(max_order + 1),
            "held_out_bits": bits,
            "discount_raw": raw,
            "discount_continuation": continuation,
            "best": np.arange(max_order + 1) == best,
            "held_out_positions": len(tuning),
            "counted_tokens": int(fitted.size * train.shape[1]),
        }
    )
    log2_probs = counts.log2_probs(raw, continuation, select=np.arange(len(evaluation)))
    return CountBaselines(log2_probs, selection, best)
