"""What every pre-training objective provides to training, extraction and Fisher."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import torch
from torch import Tensor, nn
from transformers import BertConfig

from ..io import InputError


@dataclass(frozen=True)
class SpecialTokens:
    pad: int
    unk: int
    cls: int
    sep: int
    mask: int
    vocab_size: int

    @property
    def ids(self) -> tuple[int, ...]:
        return (self.pad, self.unk, self.cls, self.sep, self.mask)

    def maskable(self, input_ids: Tensor) -> Tensor:
        """True where a token is an ordinary token (none of the five specials)."""
        special = torch.tensor(self.ids, device=input_ids.device)
        return ~torch.isin(input_ids, special)


def bert_config(preset: dict, special: SpecialTokens, **overrides) -> BertConfig:
    """A BertConfig from a size preset, with SDPA attention (the Fisher computation switches
    a model to eager attention, which torch.func.vmap can batch)."""
    values = dict(
        vocab_size=special.vocab_size,
        hidden_size=preset["hidden"],
        num_hidden_layers=preset["layers"],
        num_attention_heads=preset["heads"],
        intermediate_size=preset["ffn"],
        max_position_embeddings=preset["max_positions"],
        hidden_dropout_prob=preset.get("dropout", 0.1),
        attention_probs_dropout_prob=preset.get("dropout", 0.1),
        pad_token_id=special.pad,
        type_vocab_size=1,
    )
    values.update(overrides)
    config = BertConfig(**values)
    config._attn_implementation = overrides.get("attn_implementation", "sdpa")
    return config


def corrupt_selected(
    input_ids: Tensor,
    selected: Tensor,
    special: SpecialTokens,
    generator: torch.Generator,
    mask_fraction: float = 0.8,
    random_fraction: float = 0.1,
) -> Tensor:
    """BERT's corruption of the selected positions: by default 80% [MASK], 10% a random
    ordinary token, 10% unchanged."""
    draw = torch.rand(input_ids.shape, generator=generator)
    random_tokens = torch.randint(len(special.ids), special.vocab_size, input_ids.shape, generator=generator)
    corrupted = input_ids.clone()
    corrupted[selected & (draw < mask_fraction)] = special.mask
    use_random = selected & (draw >= mask_fraction) & (draw < mask_fraction + random_fraction)
    corrupted[use_random] = random_tokens[use_random]
    return corrupted


class Objective(ABC):
    """A pre-training objective: how inputs are corrupted, what the model is, what it predicts.

    Subclasses set ``name`` and ``defaults`` (every accepted parameter with its default) and
    implement the abstract methods. ``sequence_loss`` must be vmap-compatible (no boolean
    indexing, no data-dependent shapes): the Fisher computation maps it over sequences."""

    name: ClassVar[str]
    defaults: ClassVar[dict] = {}

    def __init__(self, special: SpecialTokens, **params):
        unknown = sorted(set(params) - set(self.defaults))
        if unknown:
            raise InputError(
                f"objective '{self.name}': unknown parameter(s) {unknown} (accepted: {sorted(self.defaults)})"
            )
        self.special = special
        self.params = {**self.defaults, **params}
        self.validate_params()

    def validate_params(self) -> None:
        """Raise InputError for parameter values that make no sense."""

    def check_schedule(self, total_steps: int) -> None:
        """Raise InputError if the objective's schedule does not fit ``total_steps``."""

    @abstractmethod
    def build_model(self, preset: dict) -> nn.Module: ...

    @abstractmethod
    def training_batch(self, input_ids: Tensor, generator: torch.Generator, progress: float) -> dict[str, Tensor]:
        """The corrupted batch; its boolean "selected" entry marks the positions the loss covers."""

    @abstractmethod
    def loss(self, model: nn.Module, batch: dict[str, Tensor]) -> Tensor:
        """Mean cross-entropy (nats) over the batch's selected positions."""

    @abstractmethod
    def logits_at(self, model: nn.Module, input_ids: Tensor, positions: Tensor) -> Tensor: ...

    @abstractmethod
    def sequence_loss(self, model: nn.Module, input_ids: Tensor, positions: Tensor) -> Tensor: ...

    @abstractmethod
    def layer_groups(self, model: nn.Module) -> dict[str, list[str]]: ...

    @abstractmethod
    def input_embeddings(self, model: nn.Module) -> Tensor: ...

    @abstractmethod
    def save_pretrained(self, model: nn.Module, directory: Path) -> None: ...

    @abstractmethod
    def load_pretrained(self, directory: Path) -> nn.Module: ...


def bert_layer_groups(model: nn.Module, prefix: str = "bert") -> dict[str, list[str]]:
    """Parameters of a Hugging Face BERT grouped as embeddings, layer.0..n-1, head.

    Tied weights (the MLM decoder shares the word embeddings) appear once in
    ``named_parameters()``, under the embeddings."""
    groups: dict[str, list[str]] = {"embeddings": []}
    n_layers = model.config.num_hidden_layers
    for i in range(n_layers):
        groups[f"layer.{i}"] = []
    groups["head"] = []
    for name, _ in model.named_parameters():
        if name.startswith(f"{prefix}.embeddings."):
            groups["embeddings"].append(name)
        elif name.startswith(f"{prefix}.encoder.layer."):
            groups[f"layer.{int(name.split('.')[3])}"].append(name)
        else:
            groups["head"].append(name)
    return groups


def masked_token_nll(logits: Tensor, targets: Tensor, weights: Tensor) -> Tensor:
    """-sum log p(target) weighted by ``weights`` (0/1); vmap-friendly (no boolean indexing)."""
    log_probs = torch.log_softmax(logits.float(), dim=-1)
    picked = log_probs.gather(-1, targets.unsqueeze(-1)).squeeze(-1)
    return -(picked * weights.to(picked.dtype)).sum()
