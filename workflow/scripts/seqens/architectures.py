"""Encoder architectures an objective can train, all from ``transformers``.

An architecture turns a size preset into a model config, and tells the objectives where a
model's backbone, prediction head and layers are, so that training, extraction and the
Fisher computation work the same way for each of them:

- ``bert``: BERT (learned absolute positions, post-LayerNorm): the paper's model.
- ``roformer``: BERT with rotary position embeddings (RoFormer, Su et al. 2021); otherwise
  BERT's layers, head and initialisation.
- ``modernbert``: ModernBERT (Warner et al. 2024): rotary positions, pre-LayerNorm, GLU
  feed-forward, alternating global and local attention, no biases.

At laptop scale the paper's BERT stays on the unigram plateau for thousands of steps,
while the rotary encoders use context at once (config/README.md has the demo's numbers).

Fisher layer groups are ``embeddings`` (input embeddings, tied to the output layer),
``layer.0`` .. ``layer.{n-1}`` (the encoder layers) and ``head`` (everything else: a final
norm, the prediction head), over the trainable parameters only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable

from .errors import InputError

if TYPE_CHECKING:  # torch is imported by the models, not by config checks
    from torch import Tensor, nn


@dataclass(frozen=True)
class Architecture:
    name: str
    config_class: str
    masked_lm_class: str
    causal_lm_class: str | None
    layer_pattern: str  # parameter names of encoder layer i, after the backbone prefix
    attention: str  # attention implementation for training and extraction
    head: Callable[["nn.Module", "Tensor"], "Tensor"]
    config_values: Callable[[dict, object], dict]  # (preset, special tokens) -> config keys
    refusals: dict = field(default_factory=dict)  # objective -> why it cannot be trained
    # Pass a ready attention mask: without one, RoFormer checks the ids for padding, and its
    # mask helper skips an all-ones 2D mask, both with data-dependent control flow, which
    # torch.func.vmap (the Fisher) rejects; a 4D additive mask is used as it is. (BERT's
    # helpers take no such branch when no mask is given.)
    explicit_attention_mask: bool = False
    frozen: str | None = None  # parameters that are fixed tables, not trained (a regex)
    rotary: bool = False  # rotary position embeddings
    no_layers: str | None = None  # why a preset with layers: 0 cannot be built, if it cannot
    trust_remote_code: bool = False  # a published model running its own code (seqens.published_architectures)

    def _class(self, name: str):
        import transformers

        return getattr(transformers, name)

    def config(self, preset: dict, special, *, causal: bool = False, **overrides):
        """A model config from a size preset; ``causal`` makes a decoder (causal attention)."""
        values = self.config_values(preset, special)
        values.update({key: value for key, value in overrides.items() if key != "attn_implementation"})
        if causal:
            values.update(is_decoder=True, use_cache=False)
        config = self._class(self.config_class)(**values)
        config._attn_implementation = overrides.get("attn_implementation", self.attention)
        return config

    def masked_lm(self, config) -> nn.Module:
        return self._class(self.masked_lm_class)(config)

    def causal_lm(self, config) -> nn.Module:
        if self.causal_lm_class is None:
            raise InputError(f"architecture '{self.name}' has no causal LM: {self.refusals['clm']}")
        return self._class(self.causal_lm_class)(config)

    def load(self, kind: str, directory) -> nn.Module:
        """Load a saved model: kind is 'masked_lm' or 'causal_lm'."""
        name = {"masked_lm": self.masked_lm_class, "causal_lm": self.causal_lm_class}[kind]
        remote = {"trust_remote_code": True} if self.trust_remote_code else {}
        model = self._class(name).from_pretrained(directory, attn_implementation=self.attention, **remote)
        if self.frozen:  # loading marks every parameter trainable again
            for parameter_name, parameter in model.named_parameters():
                if re.search(self.frozen, parameter_name):
                    parameter.requires_grad_(False)
        return model

    def inputs(self, input_ids: Tensor, *, causal: bool = False) -> dict:
        """Keyword arguments for a model (or its backbone) given unpadded token ids."""
        if not self.explicit_attention_mask:
            return {"input_ids": input_ids}
        if causal:  # the causal mask is built from a 2D one
            return {"input_ids": input_ids, "attention_mask": input_ids.new_ones(input_ids.shape)}
        batch, length = input_ids.shape
        return {"input_ids": input_ids, "attention_mask": input_ids.new_zeros((batch, 1, 1, 1)).float().expand(-1, 1, length, length)}

    def backbone(self, model: nn.Module) -> nn.Module:
        return model.base_model

    def check_objective(self, objective: str) -> None:
        """Raise InputError when this architecture cannot train ``objective``."""
        if objective in self.refusals:
            raise InputError(
                f"objective '{objective}' cannot be trained with architecture '{self.name}': {self.refusals[objective]}"
            )

    def check_preset(self, preset: dict) -> None:
        """Raise InputError when this architecture cannot take the preset's dimensions."""
        if preset["layers"] == 0 and self.no_layers:
            raise InputError(f"layers: 0 (the no-transformer control) is not possible with architecture '{self.name}': {self.no_layers}")
        head_size, remainder = divmod(preset["hidden"], preset["heads"])
        if remainder:
            raise InputError(f"hidden ({preset['hidden']}) must be a multiple of heads ({preset['heads']})")
        if self.rotary and head_size % 2:
            raise InputError(
                f"architecture '{self.name}' rotates pairs of dimensions, so it needs an even head size; "
                f"hidden {preset['hidden']} / heads {preset['heads']} = {head_size}"
            )

    def layer_groups(self, model: nn.Module, prefix: str | None = None) -> dict[str, list[str]]:
        """Trainable parameters grouped as embeddings, layer.0..n-1, head (see module doc)."""
        prefix = prefix or model.base_model_prefix
        layer = re.compile(re.escape(prefix) + r"\." + self.layer_pattern)
        groups: dict[str, list[str]] = {"embeddings": []}
        groups.update({f"layer.{i}": [] for i in range(model.config.num_hidden_layers)})
        groups["head"] = []
        # Published models may keep their token embeddings elsewhere (e.g. `model.embed_tokens`).
        token_embeddings = {id(p) for p in model.get_input_embeddings().parameters()}
        for name, parameter in model.named_parameters():
            if not parameter.requires_grad:
                continue  # e.g. RoFormer's fixed sinusoidal table
            match = layer.match(name)
            if name.startswith(f"{prefix}.embeddings.") or id(parameter) in token_embeddings:
                groups["embeddings"].append(name)
            elif match:
                groups[f"layer.{int(match.group(1))}"].append(name)
            else:
                groups["head"].append(name)
        return groups


def _common(preset: dict, special) -> dict:
    return dict(
        vocab_size=special.vocab_size,
        hidden_size=preset["hidden"],
        num_hidden_layers=preset["layers"],
        num_attention_heads=preset["heads"],
        intermediate_size=preset["ffn"],
        max_position_embeddings=preset["max_positions"],
        pad_token_id=special.pad,
        # Standard deviation of the initial weights: BERT's 0.02 unless the preset says otherwise.
        initializer_range=preset.get("init_std", 0.02),
    )


def _bert_values(preset: dict, special) -> dict:
    dropout = preset.get("dropout", 0.1)
    return dict(
        **_common(preset, special),
        hidden_dropout_prob=dropout,
        attention_probs_dropout_prob=dropout,
        # Every input is token type 0; a preset may keep BERT's second, unused type (the paper's
        # BertConfig default, 2) for its parameter count and initialisation.
        type_vocab_size=preset.get("token_types", 1),
    )


def _modernbert_values(preset: dict, special) -> dict:
    dropout = preset.get("dropout", 0.1)
    return dict(
        **_common(preset, special),
        cls_token_id=special.cls,
        sep_token_id=special.sep,
        bos_token_id=special.cls,
        eos_token_id=special.sep,
        embedding_dropout=dropout,
        attention_dropout=dropout,
        mlp_dropout=dropout,
    )


def _bert_head(model: nn.Module, hidden: Tensor) -> Tensor:
    return model.cls(hidden)


def _modernbert_head(model: nn.Module, hidden: Tensor) -> Tensor:
    return model.decoder(model.head(hidden))


_NO_POSITION_IDS = (
    "the MAE encoder must see the visible tokens at their original positions, and "
    "RoFormerModel takes no position_ids"
)

ARCHITECTURES: dict[str, Architecture] = {
    "bert": Architecture(
        name="bert",
        config_class="BertConfig",
        masked_lm_class="BertForMaskedLM",
        causal_lm_class="BertLMHeadModel",
        layer_pattern=r"encoder\.layer\.(\d+)\.",
        attention="sdpa",
        head=_bert_head,
        config_values=_bert_values,
    ),
    "roformer": Architecture(
        name="roformer",
        config_class="RoFormerConfig",
        masked_lm_class="RoFormerForMaskedLM",
        causal_lm_class="RoFormerForCausalLM",
        layer_pattern=r"encoder\.layer\.(\d+)\.",
        attention="eager",  # the only one transformers implements for RoFormer
        head=_bert_head,
        config_values=_bert_values,
        refusals={"mae": _NO_POSITION_IDS},
        explicit_attention_mask=True,
        frozen=r"\.embed_positions\.",
        rotary=True,
    ),
    "modernbert": Architecture(
        name="modernbert",
        config_class="ModernBertConfig",
        masked_lm_class="ModernBertForMaskedLM",
        causal_lm_class=None,
        layer_pattern=r"layers\.(\d+)\.",
        attention="sdpa",
        head=_modernbert_head,
        config_values=_modernbert_values,
        rotary=True,
        no_layers="ModernBertConfig alternates global and local attention layers and rejects a model without any; "
        "use bert for the control",
        refusals={
            "clm": "ModernBERT's encoder has no causal variant in transformers (its decoder, "
            "ModernBertDecoder, is another model with other layers)",
            "mae": "the MAE's encoder is wired to BERT's input interface (4D attention masks); "
            "ModernBERT builds its own global/local masks",
        },
    ),
}


def get_architecture(name: str | Architecture) -> Architecture:
    if isinstance(name, Architecture):  # a published model's (seqens.published_architectures)
        return name
    if name not in ARCHITECTURES:
        raise InputError(f"architecture '{name}': unknown (known: {sorted(ARCHITECTURES)})")
    return ARCHITECTURES[name]
