"""Probing frozen features: each example's mean-pooled hidden states, a cross-validated
logistic regression on them, and the baselines that need no model (the majority class, and
k-mer or token counts). Layers are named as in every table (seqens.layers)."""

from __future__ import annotations

import numpy as np

from ..layers import hidden_state_names
from .examples import Examples


def token_rows(tokenizer, texts: list[str], length: int) -> list[np.ndarray]:
    """Each example as the model reads a training row: [CLS] (if the tokenizer's rows start with
    it) and the example's first tokens, at most ``length`` in all."""
    prefix = [tokenizer.special.cls] if tokenizer.layout.starts_with_cls else []
    return [np.array([*prefix, *ids[: length - len(prefix)]], dtype=np.int64) for ids in tokenizer.encode_texts(texts)]


def mean_pooled_states(objective, model, rows: list[np.ndarray], batch_size: int = 64) -> np.ndarray:
    """[layers + 1, examples, hidden]: each layer's hidden states (the embeddings' output
    first) averaged over an example's tokens. Rows of equal length are batched (no padding)."""
    import torch

    pooled: list = [None] * len(rows)
    by_length: dict[int, list[int]] = {}
    for i, row in enumerate(rows):
        by_length.setdefault(len(row), []).append(i)
    model.eval()
    with torch.inference_mode():
        for indices in by_length.values():
            for start in range(0, len(indices), batch_size):
                chunk = indices[start : start + batch_size]
                ids = torch.from_numpy(np.stack([rows[i] for i in chunk]))
                states = torch.stack(objective.layer_states(model, ids)).float().mean(dim=2)  # [L+1, B, H]
                for j, i in enumerate(chunk):
                    pooled[i] = states[:, j].numpy()
    return np.stack(pooled, axis=1)


def fit_probe(train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray, *, folds: int, cs: int, seed: int):
    """Predictions on the test split of a standardised L2 logistic regression whose inverse
    regularisation C is chosen by stratified cross-validation on the training split only."""
    from sklearn.linear_model import LogisticRegressionCV
    from sklearn.model_selection import StratifiedKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    model = make_pipeline(
        StandardScaler(),
        LogisticRegressionCV(
            Cs=cs, cv=StratifiedKFold(folds, shuffle=True, random_state=seed), l1_ratios=(0.0,), max_iter=2000,
            scoring="accuracy", use_legacy_attributes=False,
        ),
    )
    model.fit(train_x, train_y)
    return model.predict(test_x)


def kmer_counts(texts: list[str], k: int) -> np.ndarray:
    """Overlapping k-mer frequencies of DNA sequences (k-mers with N skipped): [n, 4^k]."""
    code = np.full(256, -1, dtype=np.int64)
    for value, base in enumerate(b"ACGT"):
        code[base] = value
    out = np.zeros((len(texts), 4**k), dtype=np.float64)
    powers = 4 ** np.arange(k - 1, -1, -1)
    for row, text in enumerate(texts):
        digits = code[np.frombuffer(text.encode("ascii"), dtype=np.uint8)]
        if len(digits) < k:
            continue
        windows = np.lib.stride_tricks.sliding_window_view(digits, k)
        valid = (windows >= 0).all(axis=1)
        np.add.at(out[row], windows[valid] @ powers, 1.0)
        out[row] /= max(1, valid.sum())
    return out


def token_counts(rows: list[np.ndarray], vocab_size: int) -> np.ndarray:
    """Bag of tokens: each row's token frequencies (the [CLS] it starts with left out)."""
    out = np.zeros((len(rows), vocab_size), dtype=np.float64)
    for i, row in enumerate(rows):
        out[i] = np.bincount(row[1:], minlength=vocab_size) / max(1, len(row) - 1)
    return out


def majority_predictions(train_y: np.ndarray, n_test: int) -> np.ndarray:
    """The most frequent training class (the smallest index on ties), for every test example."""
    return np.full(n_test, np.bincount(train_y).argmax(), dtype=np.int64)


def probe_predictions(
    examples: Examples, features: dict[str, np.ndarray], *, baseline: str, baseline_features: np.ndarray,
    layers: list[str], folds: int, cs: int, seed: int,
) -> list[dict]:
    """Test-split predictions, as rows, of the probe on each model's features at each layer
    (``features``: model name -> [states, examples, hidden], keyed "member:seed" or
    "random_init:seed"; ``layers``: names of seqens.layers), of the majority class and of
    the count baseline."""
    train, test = ~examples.is_test, examples.is_test
    y_train, y_test = examples.labels[train], examples.labels[test]
    test_index = np.flatnonzero(test)
    rows = []

    def add(model: str, seed_: int, layer: str, predictions: np.ndarray) -> None:
        rows.extend(
            {"layer": layer, "model": model, "seed": seed_, "example": int(i), "label": int(y), "prediction": int(p),
             "n_classes": len(examples.classes)}
            for i, y, p in zip(test_index, y_test, predictions)
        )

    majority = majority_predictions(y_train, len(y_test))
    counts = fit_probe(baseline_features[train], y_train, baseline_features[test], folds=folds, cs=cs, seed=seed)
    for layer in layers:  # the baselines beside every layer, so that each layer's table is whole
        add("majority", -1, layer, majority)
        add(baseline, -1, layer, counts)
        for key, states in features.items():
            model, seed_ = key.split(":")
            x = states[hidden_state_names(len(states)).index(layer)]
            add(model, int(seed_), layer, fit_probe(x[train], y_train, x[test], folds=folds, cs=cs, seed=seed))
    return rows

