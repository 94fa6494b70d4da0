"""Causal language modelling with the same size preset as MLM.

The model is the architecture's encoder run as a decoder (``BertLMHeadModel`` or
``RoFormerForCausalLM`` with ``is_decoder=True``; ``AutoModelForCausalLM`` loads it): the
same embeddings, layers, parameter count and tied output layer as the MLM model, only the
attention mask differs. That keeps static embeddings and Fisher layer groups comparable
across objectives, which a GPT-2 with matched dimensions (another layer-norm placement,
other embeddings) would not.

The prediction "at position t" is the next-token distribution computed from the left
context at t - 1: the input is never masked.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

import torch
from torch import Tensor, nn

from .base import Objective, masked_token_nll, predicted_token_nll


class CausalLM(Objective):
    name = "clm"
    auto_class = "AutoModelForCausalLM"  # what loads a saved member
    causal = True

    def build_model(self, preset: dict) -> nn.Module:
        return self.architecture.causal_lm(self.architecture.config(preset, self.special, causal=True))

    def training_batch(self, input_ids: Tensor, generator: torch.Generator, progress: float) -> dict[str, Tensor]:
        # Every ordinary or [SEP]/[UNK] token after the first is a target; [CLS] and [PAD] are not.
        selected = (input_ids != self.special.cls) & (input_ids != self.special.pad)
        selected[:, 0] = False
        return {"input_ids": input_ids, "targets": input_ids, "selected": selected}

    def _next_token_logits(self, model: nn.Module, input_ids: Tensor, positions: Tensor) -> Tensor:
        hidden = self.architecture.backbone(model)(**self.architecture.inputs(input_ids, causal=True), use_cache=False).last_hidden_state
        return self.architecture.head(model, hidden[:, :-1][positions[:, 1:]])

    def loss(self, model: nn.Module, batch: dict[str, Tensor]) -> Tensor:
        logits = self._next_token_logits(model, batch["input_ids"], batch["selected"])
        return nn.functional.cross_entropy(logits.float(), batch["targets"][batch["selected"]])

    def logits_at(self, model: nn.Module, input_ids: Tensor, positions: Tensor) -> Tensor:
        return self._next_token_logits(model, input_ids, positions)

    def sequence_loss(self, model: nn.Module, input_ids: Tensor, positions: Tensor) -> Tensor:
        logits = model(**self.architecture.inputs(input_ids.unsqueeze(0), causal=True), use_cache=False).logits[0]
        return masked_token_nll(logits[:-1], input_ids[1:], positions[1:])

    def sequence_losses(self, model: nn.Module, input_ids: Tensor, positions: Tensor) -> Tensor:
        inputs = self.architecture.inputs(input_ids, causal=True)
        hidden = self.architecture.backbone(model)(**inputs, use_cache=False).last_hidden_state
        head = partial(self.architecture.head, model)
        return predicted_token_nll(head, hidden[:, :-1], input_ids[:, 1:], positions[:, 1:])

    def hidden_states(self, model: nn.Module, input_ids: Tensor, positions: Tensor) -> tuple[tuple[Tensor, ...], Tensor]:
        """On the unmasked sequence (as the predictions are), every token, each state from
        its left context."""
        output = self.architecture.backbone(model)(
            **self.architecture.inputs(input_ids, causal=True), use_cache=False, output_hidden_states=True
        )
        return output.hidden_states, torch.ones_like(input_ids, dtype=torch.bool)

    def save_pretrained(self, model: nn.Module, directory: Path) -> None:
        model.save_pretrained(directory)

    def load_pretrained(self, directory: Path) -> nn.Module:
        return self.architecture.load("causal_lm", directory)
