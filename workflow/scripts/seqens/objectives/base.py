"""What every pre-training objective provides to training, extraction and Fisher."""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import ClassVar

import torch
from torch import Tensor, nn

from ..architectures import Architecture, get_architecture
from ..special import SpecialTokens
from .parameters import Parameters


def corrupt_selected(
    input_ids: Tensor,
    selected: Tensor,
    special: SpecialTokens,
    generator: torch.Generator,
    mask_fraction: float = 0.8,
    random_fraction: float = 0.1,
    random_tokens: str = "non_special",
) -> Tensor:
    """BERT's corruption of the selected positions: by default 80% [MASK], 10% a random
    token, 10% unchanged. The random token is drawn from the ordinary tokens
    (``non_special``) or from the whole vocabulary, special tokens included (``vocabulary``:
    transformers' DataCollatorForLanguageModeling, ``torch.randint(len(tokenizer), ...)``)."""
    draw = torch.rand(input_ids.shape, generator=generator)
    lowest = {"non_special": len(special.ids), "vocabulary": 0}[random_tokens]
    drawn = torch.randint(lowest, special.vocab_size, input_ids.shape, generator=generator)
    corrupted = input_ids.clone()
    corrupted[selected & (draw < mask_fraction)] = special.mask
    use_random = selected & (draw >= mask_fraction) & (draw < mask_fraction + random_fraction)
    corrupted[use_random] = drawn[use_random]
    return corrupted


class Objective(ABC):
    """A pre-training objective: how inputs are corrupted, what the model is, what it predicts.

    Subclasses set ``name`` and implement the abstract methods; their parameters (defaults
    and checks) are a ``parameters.Parameters`` subclass. ``sequence_loss`` must be
    vmap-compatible (no boolean indexing, no data-dependent shapes): the reference Fisher
    computation maps it over sequences. ``sequence_losses`` is the same loss for a batch of
    sequences at once, one value each, with no interaction between sequences (eval mode):
    the default Fisher computation backpropagates their sum once."""

    name: ClassVar[str]
    auto_class: ClassVar[str]  # the transformers Auto class that loads a saved member
    causal: ClassVar[bool] = False  # attends to earlier positions only

    def __init__(self, special: SpecialTokens, architecture: str, parameters: Parameters):
        self.architecture: Architecture = get_architecture(architecture)
        self.special = special
        self.parameters = parameters
        self.params = parameters.values

    def check_schedule(self, total_steps: int) -> None:
        """Raise InputError if the objective's schedule does not fit ``total_steps``."""
        self.parameters.check_schedule(total_steps)

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
    def sequence_loss(self, model: nn.Module, input_ids: Tensor, positions: Tensor) -> Tensor:
        """-log p of one sequence's tokens at ``positions`` [L] given its ids [L]."""

    @abstractmethod
    def sequence_losses(self, model: nn.Module, input_ids: Tensor, positions: Tensor) -> Tensor:
        """``sequence_loss`` of each sequence of a batch [B, L]: a tensor [B]."""

    @abstractmethod
    def hidden_states(self, model: nn.Module, input_ids: Tensor, positions: Tensor) -> tuple[tuple[Tensor, ...], Tensor]:
        """Every layer's hidden states [B, L, H], the embedding layer's output first, on the
        input the objective predicts ``positions`` from, and the tokens they cover [B, L]
        (bool): what a contextual embedding pools (seqens.contextual)."""

    def layer_groups(self, model: nn.Module) -> dict[str, list[str]]:
        """Fisher groups: embeddings, layer.i, head (see seqens.architectures)."""
        return self.architecture.layer_groups(model)

    def input_embeddings(self, model: nn.Module) -> Tensor:
        return model.get_input_embeddings().weight

    def layer_states(self, model: nn.Module, input_ids: Tensor) -> tuple[Tensor, ...]:
        """The encoder's hidden states [B, L, H] of unmasked input: the embeddings' output,
        then each layer's (what frozen-feature probes read)."""
        inputs = self.architecture.inputs(input_ids, causal=self.causal)
        return self.architecture.backbone(model)(**inputs, output_hidden_states=True).hidden_states

    @abstractmethod
    def save_pretrained(self, model: nn.Module, directory: Path) -> None: ...

    @abstractmethod
    def load_pretrained(self, directory: Path) -> nn.Module: ...


def masked_token_nll(logits: Tensor, targets: Tensor, weights: Tensor) -> Tensor:
    """-sum log p(target) weighted by ``weights`` (0/1); vmap-friendly (no boolean indexing)."""
    log_probs = torch.log_softmax(logits.float(), dim=-1)
    picked = log_probs.gather(-1, targets.unsqueeze(-1)).squeeze(-1)
    return -(picked * weights.to(picked.dtype)).sum()


def predicted_token_nll(head, hidden: Tensor, targets: Tensor, positions: Tensor) -> Tensor:
    """Per sequence -sum log p(target) over its ``positions`` [B, L], the ``head`` applied to
    the hidden states [B, L, H] of those positions only. They are gathered to [B, K] (K: the
    most positions of one sequence; the slots past a sequence's own count weigh 0), so each
    row of the head's inputs stays in its sequence's row of the batch."""
    counts = positions.sum(dim=1)
    most = int(counts.max()) if len(counts) else 0
    order = torch.argsort((~positions).to(torch.int8), dim=1, stable=True)[:, :most]  # predicted first
    weights = torch.arange(most, device=positions.device) < counts.unsqueeze(1)
    gathered = hidden.gather(1, order.unsqueeze(-1).expand(-1, -1, hidden.shape[-1]))
    log_probs = torch.log_softmax(head(gathered).float(), dim=-1)
    picked = log_probs.gather(-1, targets.gather(1, order).unsqueeze(-1)).squeeze(-1)
    return -(picked * weights.to(picked.dtype)).sum(dim=1)
