"""Layer-wise empirical Fisher information.

The diagonal empirical Fisher is the mean over evaluation sequences of the squared
*per-sequence* gradient of the log-likelihood of that sequence's predicted tokens:
F = 1/S sum_s (grad log p(x_s))^2, summed per layer group. Three implementations give the
same numbers:

- ``per_sample_fisher`` (the default, "ghost norms"; Li et al. 2022, Opacus' ghost
  clipping): one ordinary batched forward pass and one backward pass of the per-sequence
  losses' sum per chunk, which never forms a per-sequence gradient of a layer. Hooks record
  each ``nn.Linear``, ``nn.Embedding`` and ``nn.LayerNorm`` call's inputs, and the backward
  pass gives the gradient at its output; a sequence's squared gradient norm of a parameter
  follows from these (see ``_squared_norm``). Weight gradients are never computed.
- ``per_sample_fisher_vmap``: per-sequence gradients from ``torch.func`` (``vmap`` over
  ``grad`` of a ``functional_call``), in chunks.
- ``per_sample_fisher_loop``: one backward pass per sequence (the reference).

``minibatch_fisher`` is the variant in the paper's public code: the square of the
*mini-batch* gradient. Squaring after averaging cancels sign-disagreeing per-sequence
gradients, so it underestimates the Fisher and depends on the batch size; it is kept as an
option so the two can be compared.

Tied weights (BERT's MLM decoder shares the word-embedding matrix) appear once in
``named_parameters()`` and are counted once, in the group of that name (the embeddings).
A sequence's gradient of a tied matrix is the sum of its uses' contributions, so the ghost
norms square that sum, cross terms included.
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


SequenceLosses = Callable[[nn.Module, Example], torch.Tensor]  # a batch -> one loss per sequence


def per_sample_fisher(
    model: nn.Module,
    sequence_losses: SequenceLosses,
    examples: Iterable[Example],
    groups: Mapping[str, list[str]],
    *,
    chunk_size: int = 8,
    device: torch.device | str | None = None,
) -> FisherResult:
    """Empirical Fisher from ghost norms: one batched forward and backward pass per chunk.

    ``sequence_losses(model, chunk)`` gives one loss per sequence of the chunk [B], each
    computed from its own sequence only (eval mode: no dropout, no batch statistics), with
    every hooked module's inputs batched by sequence (leading axis B, or 1 to broadcast)."""
    device = torch.device(device or next(model.parameters()).device)
    model = model.to(device).eval()
    index, counts = _group_index(model, groups)
    ghost = _GhostNorms(model)
    rows = []
    for batch in examples:
        n = len(next(iter(batch.values())))
        for start in range(0, n, chunk_size):
            chunk = {k: v[start : start + chunk_size].to(device) for k, v in batch.items()}
            size = len(next(iter(chunk.values())))
            rows.append(_reduce(ghost.squared_norms(sequence_losses, chunk, size), index, len(groups), size))
    return FisherResult(list(groups), np.concatenate(rows), counts)


_HOOKED = (nn.Linear, nn.Embedding, nn.LayerNorm)  # exactly these types: a subclass may compute otherwise


@dataclass
class _Outer:
    """One use's share of a matrix parameter's gradient, for each sequence b the sum over s
    of the outer product rows[b, s] x cols[b, s]: rows dense [B, S, n_rows], or token ids
    [B, S] standing for one-hot rows (an embedding table); cols [B, S, n_cols]."""

    rows: torch.Tensor
    cols: torch.Tensor

    @property
    def one_hot(self) -> bool:
        return self.rows.dim() == 2


class _GhostNorms:
    """Per-sequence squared gradient norms of every trainable parameter of ``model``.

    Parameters of ``nn.Linear``, ``nn.Embedding`` and ``nn.LayerNorm`` modules follow from
    the module's inputs and output gradients. A vector parameter used elsewhere (the MAE's
    mask embedding) must broadcast over [batch, position]: it is replaced during the forward
    pass by one copy per sequence, shaped [B, 1, n], whose gradients are the per-sequence
    ones. Any other parameter is refused at construction."""

    def __init__(self, model: nn.Module):
        self.model = model
        self.names = {id(p): name for name, p in model.named_parameters() if p.requires_grad}
        self.modules = []
        covered: set[int] = set()
        for module in model.modules():
            own = [p for p in module.parameters(recurse=False) if p.requires_grad]
            if own and type(module) in _HOOKED:
                _check_hookable(module)
                self.modules.append(module)
                covered.update(id(p) for p in own)
        self.vectors: dict[str, nn.Parameter] = {}
        for name, parameter in model.named_parameters():
            if not parameter.requires_grad or id(parameter) in covered:
                continue
            if parameter.dim() != 1:
                owner = model.get_submodule(name.rpartition(".")[0])
                raise ValueError(
                    f"per-sample Fisher (ghost norms): no rule for parameter {name} of a {type(owner).__name__} "
                    "(rules: nn.Linear, nn.Embedding, nn.LayerNorm and vectors broadcast over [batch, position]); "
                    "per_sample_fisher_vmap computes it"
                )
            self.vectors[name] = parameter

    def squared_norms(self, sequence_losses: SequenceLosses, chunk: Example, size: int) -> dict[str, torch.Tensor]:
        """Parameter name -> [size] squared norms of each sequence's loss gradient."""
        calls: list[tuple[nn.Module, torch.Tensor, torch.Tensor, int]] = []

        def record(module, args, output):
            output = _batched(output, size, module)
            calls.append((module, _batched(args[0], size, module), output, output._version))
            return output

        handles = [module.register_forward_hook(record) for module in self.modules]
        copies = {name: p.detach().expand(size, 1, -1).clone().requires_grad_() for name, p in self.vectors.items()}
        try:
            with torch.enable_grad():
                if copies:
                    substituted = {f"model.{name}": copy for name, copy in copies.items()}
                    losses = functional_call(_LossModule(self.model, sequence_losses), substituted, (chunk,))
                else:
                    losses = sequence_losses(self.model, chunk)
        finally:
            for handle in handles:
                handle.remove()
        if losses.shape != (size,):
            raise ValueError(f"sequence_losses gave shape {tuple(losses.shape)} for {size} sequences, not ({size},)")
        for module, _, output, version in calls:
            if output._version != version:  # its gradient would be that of the modified tensor
                raise ValueError(
                    f"per-sample Fisher (ghost norms): the output of a {type(module).__name__} is modified in place"
                )
        wanted = [output for _, _, output, _ in calls] + list(copies.values())
        grads = torch.autograd.grad(losses.sum(), wanted, allow_unused=True)
        with torch.no_grad():
            return self._from_grads(calls, grads, size)

    def _from_grads(self, calls, grads, size: int) -> dict[str, torch.Tensor]:
        uses: dict[int, list] = {}
        for (module, inputs, _, _), grad_output in zip(calls, grads):
            if grad_output is not None:
                for parameter, use in _module_uses(module, inputs, grad_output, size):
                    uses.setdefault(id(parameter), []).append(use)
        for parameter, grad_copy in zip(self.vectors.values(), grads[len(calls) :]):
            if grad_copy is not None:
                uses.setdefault(id(parameter), []).append(grad_copy.reshape(size, -1).float())
        parameters = {id(p): p for p in self.model.parameters()}
        return {self.names[key]: _squared_norm(parameters[key], found) for key, found in uses.items()}


class _LossModule(nn.Module):
    """``sequence_losses`` as a module, so that ``functional_call`` substitutes parameters
    wherever the loss reaches into the model (sub-modules included)."""

    def __init__(self, model: nn.Module, sequence_losses: SequenceLosses):
        super().__init__()
        self.model = model
        self.sequence_losses = sequence_losses

    def forward(self, chunk: Example) -> torch.Tensor:
        return self.sequence_losses(self.model, chunk)


def _check_hookable(module: nn.Module) -> None:
    if isinstance(module, nn.Embedding) and (module.max_norm is not None or module.scale_grad_by_freq):
        raise ValueError(
            "per-sample Fisher (ghost norms): no rule for an nn.Embedding with max_norm or scale_grad_by_freq"
        )
    if isinstance(module, nn.LayerNorm) and len(module.normalized_shape) != 1:
        raise ValueError("per-sample Fisher (ghost norms): nn.LayerNorm over more than the last axis has no rule")


def _batched(tensor: torch.Tensor, size: int, module: nn.Module) -> torch.Tensor:
    """``tensor`` with its leading axis the chunk's sequences; a shared one (position
    embeddings of shape [1, L, H]) is expanded, so that its gradient stays per sequence."""
    if tensor.dim() >= 2 and tensor.shape[0] == size:
        return tensor
    if tensor.dim() >= 2 and tensor.shape[0] == 1:
        return tensor.expand(size, *tensor.shape[1:])
    raise ValueError(
        f"per-sample Fisher (ghost norms): a {type(module).__name__} got a tensor of shape {tuple(tensor.shape)}, "
        f"not one batched by the chunk's {size} sequences"
    )


def _module_uses(module: nn.Module, inputs: torch.Tensor, grad_output: torch.Tensor, size: int):
    """(parameter, its gradient share from this call) for the module's trainable parameters:
    a per-sequence vector [B, n] or an ``_Outer``."""
    grad_output = grad_output.reshape(size, -1, grad_output.shape[-1]).float()
    weight, bias = module.weight, getattr(module, "bias", None)
    if isinstance(module, nn.Linear):
        if weight.requires_grad:
            yield weight, _Outer(grad_output, inputs.reshape(size, -1, inputs.shape[-1]).float())
    elif isinstance(module, nn.Embedding):
        ids = inputs.reshape(size, -1)
        if module.padding_idx is not None:  # the padding row receives no gradient
            grad_output = grad_output * (ids != module.padding_idx).unsqueeze(-1)
        if weight.requires_grad:
            yield weight, _Outer(ids, grad_output)
    elif isinstance(module, nn.LayerNorm):
        inputs = inputs.reshape(size, -1, inputs.shape[-1]).float()
        if weight is not None and weight.requires_grad:
            normalized = nn.functional.layer_norm(inputs, module.normalized_shape, eps=module.eps)
            yield weight, (normalized * grad_output).sum(dim=1)
    if bias is not None and bias.requires_grad:
        yield bias, grad_output.sum(dim=1)


def _squared_norm(parameter: nn.Parameter, uses: list) -> torch.Tensor:
    """Squared norm [B] of each sequence's gradient of ``parameter``: the sum of its uses'
    shares (a tied matrix has two), squared. Vectors are summed directly; a matrix's shares
    take the cheaper of ``_materialised_norm`` and ``_gram_norm``."""
    if all(isinstance(use, torch.Tensor) for use in uses):
        return sum(uses).square().sum(dim=1)
    n_rows, n_cols = parameter.shape
    materialised = n_rows * n_cols + sum(u.rows.shape[1] * (n_cols if u.one_hot else n_rows * n_cols) for u in uses)
    gram = sum(
        u.rows.shape[1] * v.rows.shape[1] * (n_cols + (1 if u.one_hot or v.one_hot else n_rows))
        for i, u in enumerate(uses)
        for v in uses[i:]
    )
    return _materialised_norm(uses, n_rows) if materialised <= gram else _gram_norm(uses)


def _materialised_norm(uses: list[_Outer], n_rows: int) -> torch.Tensor:
    """Squared norm [B] of the summed shares, formed as per-sequence matrices [B, n_rows, n_cols]."""
    return sum(_materialise(use, n_rows) for use in uses).square().sum(dim=(1, 2))


def _gram_norm(uses: list[_Outer]) -> torch.Tensor:
    """Squared norm [B] of the summed shares without forming them (the ghost norm):
    ||sum_u sum_s r_us c_us^T||^2 = sum_{u,v} sum_{s,t} (r_us . r_vt)(c_us . c_vt), from the
    [S_u, S_v] dot products of rows and of columns of each pair of shares."""
    total = 0.0
    for i, u in enumerate(uses):
        for j, v in enumerate(uses[i:]):
            term = (_row_products(u, v) * (u.cols @ v.cols.transpose(1, 2))).sum(dim=(1, 2))
            total = total + (term if j == 0 else 2 * term)
    return total


def _materialise(use: _Outer, n_rows: int) -> torch.Tensor:
    """The share as per-sequence matrices [B, n_rows, n_cols]."""
    if not use.one_hot:
        return use.rows.transpose(1, 2) @ use.cols
    batch, _, n_cols = use.cols.shape
    flat = (use.rows + n_rows * torch.arange(batch, device=use.rows.device).unsqueeze(1)).reshape(-1)
    out = use.cols.new_zeros(batch * n_rows, n_cols).index_add_(0, flat, use.cols.reshape(-1, n_cols))
    return out.view(batch, n_rows, n_cols)


def _row_products(u: _Outer, v: _Outer) -> torch.Tensor:
    """[B, S_u, S_v] dot products of the two shares' rows (one-hot rows: token equality, or
    the dense row's entry at the token)."""
    if u.one_hot and v.one_hot:
        return (u.rows.unsqueeze(2) == v.rows.unsqueeze(1)).to(u.cols.dtype)
    if u.one_hot:
        return v.rows.gather(2, u.rows.unsqueeze(1).expand(-1, v.rows.shape[1], -1)).transpose(1, 2)
    if v.one_hot:
        return u.rows.gather(2, v.rows.unsqueeze(1).expand(-1, u.rows.shape[1], -1))
    return u.rows @ v.rows.transpose(1, 2)


def per_sample_fisher_vmap(
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
    del chunk_size  # same signature as per_sample_fisher_vmap
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
