"""BERT masked language modelling: 15% of ordinary tokens are selected, 80/10/10 replaced
(the random 10% from the ordinary tokens, or with ``random_tokens: vocabulary`` from the
whole vocabulary, as the paper's collator draws them).
The model is the architecture's masked LM (``AutoModelForMaskedLM`` loads it)."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import torch
from torch import Tensor, nn

from .base import Objective, corrupt_selected, masked_token_nll, predicted_token_nll


class MaskedLM(Objective):
    """The model predicts the original token at each selected position.

    The loss is computed from the hidden states at the selected positions only, so the
    vocabulary projection (the largest matrix of a small model) runs on 15% of the tokens."""

    name = "mlm"
    auto_class = "AutoModelForMaskedLM"  # what loads a saved member

    def build_model(self, preset: dict) -> nn.Module:
        return self.architecture.masked_lm(self.architecture.config(preset, self.special))

    def select(self, input_ids: Tensor, generator: torch.Generator, progress: float) -> Tensor:
        """Positions to predict: each ordinary token independently with probability mask_ratio."""
        draw = torch.rand(input_ids.shape, generator=generator)
        return self.special.maskable(input_ids) & (draw < self.params["mask_ratio"])

    def training_batch(self, input_ids: Tensor, generator: torch.Generator, progress: float) -> dict[str, Tensor]:
        selected = self.select(input_ids, generator, progress)
        corrupted = corrupt_selected(input_ids, selected, self.special, generator,
                                     random_tokens=self.params["random_tokens"])
        return {"input_ids": corrupted, "targets": input_ids, "selected": selected}

    def _logits_where(self, model: nn.Module, input_ids: Tensor, where: Tensor) -> Tensor:
        hidden = self.architecture.backbone(model)(**self.architecture.inputs(input_ids)).last_hidden_state
        return self.architecture.head(model, hidden[where])

    def loss(self, model: nn.Module, batch: dict[str, Tensor]) -> Tensor:
        selected = batch["selected"]
        logits = self._logits_where(model, batch["input_ids"], selected)
        return nn.functional.cross_entropy(logits.float(), batch["targets"][selected])

    def logits_at(self, model: nn.Module, input_ids: Tensor, positions: Tensor) -> Tensor:
        masked = torch.where(positions, torch.full_like(input_ids, self.special.mask), input_ids)
        return self._logits_where(model, masked, positions)

    def sequence_loss(self, model: nn.Module, input_ids: Tensor, positions: Tensor) -> Tensor:
        masked = torch.where(positions, torch.full_like(input_ids, self.special.mask), input_ids)
        logits = model(**self.architecture.inputs(masked.unsqueeze(0))).logits[0]
        return masked_token_nll(logits, input_ids, positions)

    def sequence_losses(self, model: nn.Module, input_ids: Tensor, positions: Tensor) -> Tensor:
        masked = torch.where(positions, torch.full_like(input_ids, self.special.mask), input_ids)
        hidden = self.architecture.backbone(model)(**self.architecture.inputs(masked)).last_hidden_state
        return predicted_token_nll(partial(self.architecture.head, model), hidden, input_ids, positions)

    def hidden_states(self, model: nn.Module, input_ids: Tensor, positions: Tensor) -> tuple[tuple[Tensor, ...], Tensor]:
        """On the sequence with the positions replaced by [MASK], every token."""
        masked = torch.where(positions, torch.full_like(input_ids, self.special.mask), input_ids)
        output = self.architecture.backbone(model)(**self.architecture.inputs(masked), output_hidden_states=True)
        return output.hidden_states, torch.ones_like(input_ids, dtype=torch.bool)

    def save_pretrained(self, model: nn.Module, directory: Path) -> None:
        model.save_pretrained(directory)

    def load_pretrained(self, directory: Path) -> nn.Module:
        return self.architecture.load("masked_lm", directory)
