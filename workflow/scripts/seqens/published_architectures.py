"""How to load, run and group the layers of a published model (seqens.published): the
architectures of models released elsewhere, by their ``model_type``.

Layer groups of the Fisher (seqens.architectures) for published models: BERT and ModernBERT
as trained here, RoBERTa and ESM (the Nucleotide Transformer, AgroNT) by their layouts, and any
other model type by one rule (``GENERIC_LAYERS``): encoder layer i is every trainable parameter
under ``{backbone}.[encoder.]layer.i.``, ``layers.i.``, ``h.i.`` or ``blocks.i.``; the
embeddings are the input-embedding module's parameters and those under
``{backbone}.embeddings.``; the head is the rest. A model where the rule does not find every
layer is refused with one line.

A model whose entry sets ``trust_remote_code`` runs its repository's own code (its config's
``auto_map``), whatever its model type says (DNABERT-2 calls itself ``bert``): it is loaded
through the Auto classes with that code, and its layers are grouped by the generic rule.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import TYPE_CHECKING

from .architectures import ARCHITECTURES, Architecture
from .errors import InputError

if TYPE_CHECKING:
    from torch import Tensor, nn

GENERIC_LAYERS = r"(?:encoder\.)?(?:layer|layers|h|blocks)\.(\d+)\."


def _lm_head(model: nn.Module, hidden: Tensor) -> Tensor:
    return model.lm_head(hidden)


def _modules_after_backbone(model: nn.Module, hidden: Tensor) -> Tensor:
    """The generic head: the model's child modules other than its backbone, in order."""
    for name, module in model.named_children():
        if name != model.base_model_prefix:
            hidden = module(hidden)
    return hidden


def _output_embeddings(model: nn.Module, hidden: Tensor) -> Tensor:
    return model.get_output_embeddings()(hidden)


def _published(name: str, masked: str | None, causal: str | None, layer_pattern: str, head) -> Architecture:
    return Architecture(
        name=name,
        config_class="AutoConfig",
        masked_lm_class=masked,
        causal_lm_class=causal,
        layer_pattern=layer_pattern,
        attention="eager",  # every transformers model implements it; results do not depend on it
        head=head,
        config_values=lambda preset, special: {},
        refusals={"clm": f"{name} has no causal LM"} if causal is None else {},
    )


PUBLISHED_ARCHITECTURES: dict[str, Architecture] = {
    "bert": ARCHITECTURES["bert"],
    "modernbert": ARCHITECTURES["modernbert"],
    "roberta": _published("roberta", "RobertaForMaskedLM", "RobertaForCausalLM", r"encoder\.layer\.(\d+)\.", _lm_head),
    "esm": _published("esm", "EsmForMaskedLM", None, r"encoder\.layer\.(\d+)\.", _lm_head),
}


def published_architecture(model_type: str, objective: str, trust_remote_code: bool = False) -> Architecture:
    """How to load, run and group the layers of a published model of ``model_type`` (module doc)."""
    if model_type in PUBLISHED_ARCHITECTURES and not trust_remote_code:
        return PUBLISHED_ARCHITECTURES[model_type]
    head = _output_embeddings if objective == "clm" else _modules_after_backbone
    generic = _published(model_type, "AutoModelForMaskedLM", "AutoModelForCausalLM", GENERIC_LAYERS, head)
    return dataclasses.replace(generic, trust_remote_code=trust_remote_code)


def check_layer_groups(architecture: Architecture, model: nn.Module, what: str) -> None:
    """Every encoder layer must own parameters under the architecture's rule (module doc)."""
    groups = architecture.layer_groups(model)
    empty = [name for name, members in groups.items() if not members and name != "head"]
    if empty:
        raise InputError(
            f"{what}: model type {model.config.model_type} has no parameters where the layer rule looks for "
            f"{empty[0]} (seqens.published_architectures, GENERIC_LAYERS); its Fisher cannot be grouped by layer"
        )


def check_remote_code(directory, trusted: bool, subject: str, key: str) -> None:
    """A model whose config maps Auto classes to its repository's code (``auto_map``) runs only
    with its entry's trust_remote_code, also where its model type names a transformers one
    (transformers would then load its own class in silence, without the model's code)."""
    config = Path(directory) / "config.json"
    if not trusted and config.is_file() and json.loads(config.read_text()).get("auto_map"):
        raise remote_code_refusal(subject, key)


def needs_remote_code(error: Exception) -> bool:
    """Whether transformers refused to load a model or tokenizer because it runs code from its
    repository and trust_remote_code was not given."""
    return isinstance(error, ValueError) and ("trust_remote_code" in str(error) or "custom code" in str(error))


def remote_code_refusal(subject: str, key: str) -> InputError:
    """The one line for a model (or tokenizer) that needs trust_remote_code: ``subject`` names
    it (e.g. "published.x, member of seed 1 (...): the model"), ``key`` the config entry."""
    return InputError(f"{subject} runs custom code from its repository; set {key}.trust_remote_code: true if you trust it")
