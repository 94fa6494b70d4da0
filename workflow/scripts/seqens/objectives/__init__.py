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
from .base import Objective, SpecialTokens
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


def make_objective(
    name: str, special: SpecialTokens, params: dict | None = None, architecture: str = "bert"
) -> Objective:
    """The objective called ``name`` with its parameters (defaults for those not given),
    training models of the named architecture (see seqens.architectures)."""
    if name not in REGISTRY:
        raise InputError(f"objective '{name}': unknown (known: {sorted(REGISTRY)})")
    return REGISTRY[name](special, architecture, **(params or {}))


__all__ = ["REGISTRY", "Objective", "SpecialTokens", "make_objective"]
