"""Pre-training objectives, found by name through ``REGISTRY``.

Each objective is a parameters class (``parameters.py``: defaults and checks, free of
torch, so that checking a config imports no model code) and an implementation module
(corruption, model, predictions), imported only when an objective is made. Adding one::

    # seqens/objectives/parameters.py
    class ElectraParameters(Parameters):
        objective = "electra"
        implementation = "electra:Electra"
        defaults = {"mask_ratio": 0.15}

    # seqens/objectives/electra.py
    class Electra(Objective):
        name = "electra"
        ...  # build_model, training_batch, loss, logits_at, sequence_loss, sequence_losses,
             # hidden_states, save_pretrained, load_pretrained (see base.Objective)

    # here: add ElectraParameters to REGISTRY

then ``objectives: {electra: {mask_ratio: 0.2}}`` in the config.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from ..architectures import get_architecture
from ..errors import InputError
from ..special import SpecialTokens
from .parameters import (
    CausalLMParameters,
    MaskedAutoencoderParameters,
    MaskedLMParameters,
    Parameters,
    RandomMaskParameters,
)

if TYPE_CHECKING:
    from .base import Objective

REGISTRY: dict[str, type[Parameters]] = {
    p.objective: p
    for p in (MaskedLMParameters, RandomMaskParameters, MaskedAutoencoderParameters, CausalLMParameters)
}


def objective_parameters(name: str, params: dict | None = None, architecture: str = "bert") -> Parameters:
    """The checked parameters of objective ``name`` for models of ``architecture``, without
    importing the objective's model code."""
    if name not in REGISTRY:
        raise InputError(f"unknown objective '{name}' (known: {sorted(REGISTRY)})")
    get_architecture(architecture).check_objective(name)
    return REGISTRY[name](params)


def make_objective(
    name: str, special: SpecialTokens, params: dict | None = None, architecture: str = "bert"
) -> Objective:
    """The objective called ``name`` with its parameters (defaults for those not given),
    training models of the named architecture (see seqens.architectures)."""
    parameters = objective_parameters(name, params, architecture)
    module, cls = parameters.implementation.split(":")
    implementation = getattr(importlib.import_module(f".{module}", __name__), cls)
    return implementation(special, architecture, parameters)


__all__ = ["REGISTRY", "Parameters", "SpecialTokens", "make_objective", "objective_parameters"]
