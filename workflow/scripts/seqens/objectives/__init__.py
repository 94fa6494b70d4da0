"""Pre-training objectives, one module each, found by name through ``REGISTRY``.

Adding an objective is one module plus one registry entry::

    # seqens/objectives/electra.py
    class Electra(Objective):
        name = "electra"
        defaults = {"mask_ratio": 0.15}
        ...  # build_model, training_batch, loss, logits_at, sequence_loss, layer_groups,
             # input_embeddings, save_pretrained, load_pretrained (see base.Objective)

    # here
    REGISTRY["electra"] = Electra

then ``objectives: {electra: {mask_ratio: 0.2}}`` in the config.
"""

from __future__ import annotations

from ..io import InputError
from .base import Objective, SpecialTokens, bert_config, bert_layer_groups
from .clm import CausalLM
from .mae import MaskedAutoencoder
from .mlm import MaskedLM
from .randommask import RandomMask

REGISTRY: dict[str, type[Objective]] = {
    MaskedLM.name: MaskedLM,
    RandomMask.name: RandomMask,
    MaskedAutoencoder.name: MaskedAutoencoder,
    CausalLM.name: CausalLM,
}


def make_objective(name: str, special: SpecialTokens, params: dict | None = None) -> Objective:
    """The objective called ``name`` with its parameters (defaults for those not given)."""
    if name not in REGISTRY:
        raise InputError(f"objective '{name}': unknown (known: {sorted(REGISTRY)})")
    return REGISTRY[name](special, **(params or {}))


__all__ = ["REGISTRY", "Objective", "SpecialTokens", "bert_config", "bert_layer_groups", "make_objective"]
