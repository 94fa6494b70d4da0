"""Layer-wise empirical Fisher information.

The diagonal empirical Fisher is the mean over evaluation sequences of the squared
*per-sequence* gradient of the log-likelihood of that sequence's predicted tokens:
F = 1/S sum_s (grad log p(x_s))^2. Per-sequence gradients come from ``torch.func``
(``vmap`` over ``grad`` of a ``functional_call``) in chunks, and each sequence's squared
gradient is reduced to per-group sums at once, so memory never holds [sequences, params].

``minibatch_fisher`` is the variant in the paper's public code: the square of the
*mini-batch* gradient. Squaring after averaging cancels sign-disagreeing per-sequence
gradients, so it underestimates the Fisher and depends on the batch size; it is kept as an
option so the two can be compared.

Tied weights (BERT's MLM decoder shares the word-embedding matrix) appear once in
``named_parameters()`` and are counted once, in the group of that name (the embeddings).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable, Mapping

import numpy as np
import pandas as pd
import torch
from torch import nn
from torch.func import functional_call, grad, vmap

Example = dict[str, torch.Tensor]


@dataclass
class FisherResult:
    groups: list[str]
    per_sequence: np.ndarray  # [n_rows, n_groups]: per sequence (or per batch for minibatch)
    n_parameters: dict[str, int]

    def totals(self) -> np.ndarray:
        return self.per_sequence.mean(axis=0)

    def fractions(self) -> np.ndarray:
        totals = self.totals()
        return totals / totals.sum()

    def per_parameter(self) -> np.ndarray:
        return self.totals() / np.array([self.n_parameters[g] for g in self.groups])

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "group": self.groups,
                "order": np.arange(len(self.groups)),
                "n_parameters": [self.n_parameters[g] for g in self.groups],
                "fisher_total": self.totals(),
                "fisher_fraction": self.fractions(),
                "fisher_per_parameter": self.per_parameter(),
            }
        )


def _group_index(model: nn.Module, groups: Mapping[str, list[str]]) -> tuple[dict[str, int], dict[str, int]]:
    """Parameter name -> group index, checking that groups partition the trainable parameters."""
    names = [n for n, p in model.named_parameters() if p.requires_grad]
    index: dict[str, int] = {}
    for g, members in enumerate(groups.values()):
        for name in members:
            if name in index:
                raise ValueError(f"parameter {name} is in more than one Fisher group")
            index[name] = g
    missing = sorted(set(names) - set(index))
    unknown = sorted(set(index) - set(names))
    if missing or unknown:
        raise ValueError(f"Fisher groups do not match the model: missing {missing[:5]}, unknown {unknown[:5]}")
    parameters = dict(model.named_parameters())
    counts = {g: sum(parameters[n].numel() for n in members) for g, members in groups.items()}
    return index, counts


def _reduce(squared: Mapping[str, torch.Tensor], index: dict[str, int], n_groups: int, batch: int) -> np.ndarray:
    """Sum squared gradients [batch, *shape] of each parameter into [batch, n_groups]."""
    out = torch.zeros(batch, n_groups, dtype=torch.float64)
    for name, value in squared.items():
        out[:, index[name]] += value.reshape(batch, -1).sum(dim=1).double().cpu()
    return out.numpy()


def per_sample_fisher(
    model: nn.Module,
    sequence_loss: Callable[[nn.Module, Example], torch.Tensor],
    examples: Iterable[Example],
    groups: Mapping[str, list[str]],
    *,
    chunk_size: int = 8,
    device: torch.device | str | None = None,
) -> FisherResult:
    """Empirical Fisher from per-sequence gradients (vectorised with torch.func)."""
    device = torch.device(device or next(model.parameters()).device)
    model = model.to(device).eval()
    # SDPA attention has no vmap batching rule on CPU (a slow per-example fallback) and its
    # mask helper skips all-ones masks with data-dependent control flow, which vmap rejects;
    # eager attention batches, and gives the same numbers.
    for module in model.modules():
        if hasattr(module, "set_attn_implementation"):
            module.set_attn_implementation("eager")
    index, counts = _group_index(model, groups)
    params = {n: p.detach() for n, p in model.named_parameters() if p.requires_grad}
    buffers = {n: b.detach() for n, b in model.named_buffers()}

    def loss_of(params, example):
        return sequence_loss(_Functional(model, params, buffers), example)

    per_example_grad = vmap(grad(loss_of), in_dims=(None, 0))
    rows = []
    for batch in examples:
        n = len(next(iter(batch.values())))
        for start in range(0, n, chunk_size):
            chunk = {k: v[start : start + chunk_size].to(device) for k, v in batch.items()}
            grads = per_example_grad(params, chunk)
            rows.append(_reduce({k: g.square() for k, g in grads.items()}, index, len(groups), len(next(iter(chunk.values())))))
    return FisherResult(list(groups), np.concatenate(rows), counts)


def per_sample_fisher_loop(
    model: nn.Module,
    sequence_loss: Callable[[nn.Module, Example], torch.Tensor],
    examples: Iterable[Example],
    groups: Mapping[str, list[str]],
    *,
    chunk_size: int = 8,
    device: torch.device | str | None = None,
) -> FisherResult:
    """The same quantity the obvious way, one backward pass per sequence (the reference)."""
    del chunk_size  # same signature as per_sample_fisher
    device = torch.device(device or next(model.parameters()).device)
    model = model.to(device).eval()
    index, counts = _group_index(model, groups)
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    rows = []
    for batch in examples:
        for i in range(len(next(iter(batch.values())))):
            example = {k: v[i].to(device) for k, v in batch.items()}
            model.zero_grad(set_to_none=True)
            sequence_loss(model, example).backward()
            rows.append(_reduce(_squared_grads(named), index, len(groups), 1))
    model.zero_grad(set_to_none=True)
    return FisherResult(list(groups), np.concatenate(rows), counts)


def _squared_grads(named: list[tuple[str, nn.Parameter]]) -> dict[str, torch.Tensor]:
    """Squared .grad of each parameter with a leading batch axis of 1; unused ones count 0."""
    return {n: (p.grad.square() if p.grad is not None else torch.zeros_like(p)).unsqueeze(0) for n, p in named}


def minibatch_fisher(
    model: nn.Module,
    batch_loss: Callable[[nn.Module, Example], torch.Tensor],
    batches: Iterable[Example],
    groups: Mapping[str, list[str]],
    *,
    device: torch.device | str | None = None,
) -> FisherResult:
    """Squared mini-batch gradient, per group, one row per batch (the paper code's variant)."""
    device = torch.device(device or next(model.parameters()).device)
    model = model.to(device).eval()
    index, counts = _group_index(model, groups)
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    rows = []
    for batch in batches:
        model.zero_grad(set_to_none=True)
        batch_loss(model, {k: v.to(device) for k, v in batch.items()}).backward()
        rows.append(_reduce(_squared_grads(named), index, len(groups), 1))
    model.zero_grad(set_to_none=True)
    return FisherResult(list(groups), np.concatenate(rows), counts)


class _Functional:
    """Calls ``model`` with substituted parameters, so that an objective's ``sequence_loss``
    (written against a module: ``model(...)``, ``model.config``) runs under torch.func.
    Weight tying is kept (``functional_call``'s default), so BERT's tied decoder is the
    substituted embedding matrix. Sub-modules are not exposed: ``sequence_loss`` must call
    the model as a whole, which is what makes the tying visible."""

    def __init__(self, model: nn.Module, params: dict, buffers: dict):
        self._model = model
        self._state = {**params, **buffers}

    def __call__(self, *args, **kwargs):
        return functional_call(self._model, self._state, args, kwargs)

    def __getattr__(self, name):
        value = getattr(self._model, name)
        if isinstance(value, nn.Module):
            raise AttributeError(f"sequence_loss must call the model as a whole, not its sub-module '{name}'")
        return value
