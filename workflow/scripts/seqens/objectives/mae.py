"""Masked autoencoder in the style of BarcodeMAE (Safari et al. 2025).

Per sequence exactly round(mask_ratio x ordinary tokens) tokens are selected, and the loss
covers exactly those. As in BERT (and BarcodeMAE's ``mask_token_ratio``/``random_token_ratio``
options), a selected token is hidden with probability ``hide_fraction`` (0.8), replaced by a
random ordinary token with probability ``random_fraction`` (0.1), and otherwise kept.

Hidden tokens are removed: the encoder (a ``BertModel`` with ``encoder_layers`` layers) sees
only the other tokens, compacted to the front with their original position ids (padding and
an attention mask fill the tail), so no [MASK] token ever enters it. A decoder (BERT layers,
``decoder_layers`` of them) receives the encoder outputs, linearly projected and scattered
back to their positions, a learned mask embedding at hidden positions, and full position
embeddings; an MLM head (tied to the encoder's word embeddings, as in BERT) predicts the
selected tokens. By default the preset's layers are split evenly, so the total depth
matches the preset. At extraction and for the Fisher every predicted position is hidden.

BarcodeMAE's default hides every selected token (``hide_fraction: 1.0, random_fraction:
0.0``). Measured here, a tiny model trained that way never leaves the unigram solution, and
neither does MLM with 100% [MASK] replacement, while both learn with BERT's split.

BERT only (``seqens.architectures`` says why the others are refused). Saved so that
``AutoModel.from_pretrained(member_dir)`` loads the encoder as a BertModel;
the decoder, mask embedding and head sit beside it in ``mae_decoder.safetensors``.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from torch import Tensor, nn
from transformers import BertConfig, BertModel
from transformers.models.bert.modeling_bert import BertOnlyMLMHead

from ..errors import InputError
from .base import Objective, corrupt_selected, masked_token_nll, predicted_token_nll

DECODER_FILE = "mae_decoder.safetensors"
DECODER_CONFIG = "mae_decoder_config.json"
TIED = {"head.predictions.decoder.weight", "head.predictions.decoder.bias"}  # restored by tying


class MaskedAutoencoderModel(nn.Module):
    def __init__(self, encoder_config: BertConfig, decoder_config: BertConfig):
        super().__init__()
        self.config = encoder_config
        self.encoder = BertModel(encoder_config, add_pooling_layer=False)
        # The decoder takes embeddings, never token ids: drop its unused word embeddings.
        self.decoder = BertModel(decoder_config, add_pooling_layer=False)
        del self.decoder.embeddings.word_embeddings
        # As in MAE (He et al.): encoder outputs enter the decoder through a linear map.
        self.decoder_embed = nn.Linear(encoder_config.hidden_size, decoder_config.hidden_size)
        self.mask_embedding = nn.Parameter(torch.randn(decoder_config.hidden_size) * encoder_config.initializer_range)
        self.head = BertOnlyMLMHead(encoder_config)
        # BERT's initialisation and tying for the parts outside the two BertModels: with
        # PyTorch's default initialisation of the head, training stalls at the unigram.
        for module in (self.decoder_embed, *self.head.modules()):
            self.encoder._init_weights(module)
        self.head.predictions.decoder.weight = self.encoder.embeddings.word_embeddings.weight
        self.head.predictions.decoder.bias = self.head.predictions.bias

    def encode(self, input_ids: Tensor, visible: Tensor, pad_id: int, **options):
        """The encoder on the visible tokens, compacted to the front: (its output, the
        original position of each compacted slot [B, L], which slots hold a token [B, L])."""
        order = torch.argsort((~visible).to(torch.int8), dim=1, stable=True)  # visible first
        kept = torch.gather(visible, 1, order)
        compact = torch.where(kept, torch.gather(input_ids, 1, order), torch.full_like(input_ids, pad_id))
        # A ready 4D additive mask: transformers passes it through untouched, whereas building
        # one from a 2D mask branches on its values, which torch.func.vmap (Fisher) rejects.
        length = input_ids.shape[1]
        dtype = self.encoder.embeddings.word_embeddings.weight.dtype
        additive = torch.where(kept, 0.0, -1e9).to(dtype)[:, None, None, :].expand(-1, 1, length, length)
        encoded = self.encoder(input_ids=compact, position_ids=order, attention_mask=additive, **options)
        return encoded, order, kept

    def hidden(self, input_ids: Tensor, visible: Tensor, pad_id: int) -> Tensor:
        """Decoder output [B, L, H] for tokens where ``visible`` is False hidden from the encoder."""
        encoded, order, _ = self.encode(input_ids, visible, pad_id)
        projected = self.decoder_embed(encoded.last_hidden_state)
        index = order.unsqueeze(-1).expand_as(projected)
        scattered = torch.zeros_like(projected).scatter(1, index, projected)
        decoder_input = torch.where(visible.unsqueeze(-1), scattered, self.mask_embedding.to(projected.dtype))
        return self.decoder(inputs_embeds=decoder_input).last_hidden_state

    def forward(self, input_ids: Tensor, visible: Tensor, pad_id: int) -> Tensor:
        return self.head(self.hidden(input_ids, visible, pad_id))


class MaskedAutoencoder(Objective):
    name = "mae"
    auto_class = "AutoModel"  # what loads a saved member

    def _depths(self, preset: dict) -> tuple[int, int]:
        encoder = self.params["encoder_layers"] or max(1, preset["layers"] // 2)
        decoder = self.params["decoder_layers"] or max(1, preset["layers"] - encoder)
        return encoder, decoder

    def _configs(self, preset: dict) -> tuple[BertConfig, BertConfig]:
        encoder_layers, decoder_layers = self._depths(preset)
        return (
            self.architecture.config(preset, self.special, num_hidden_layers=encoder_layers),
            self.architecture.config(preset, self.special, num_hidden_layers=decoder_layers, vocab_size=1, pad_token_id=0),
        )

    def build_model(self, preset: dict) -> nn.Module:
        return MaskedAutoencoderModel(*self._configs(preset))

    def training_batch(self, input_ids: Tensor, generator: torch.Generator, progress: float) -> dict[str, Tensor]:
        maskable = self.special.maskable(input_ids)
        # Exactly round(ratio x ordinary tokens) per sequence: the smallest random keys win.
        keys = torch.where(maskable, torch.rand(input_ids.shape, generator=generator), torch.full(input_ids.shape, 2.0))
        rank = torch.argsort(torch.argsort(keys, dim=1), dim=1)
        counts = torch.round(self.params["mask_ratio"] * maskable.sum(dim=1, keepdim=True))
        selected = maskable & (rank < counts)
        corrupted = corrupt_selected(
            input_ids, selected, self.special, generator, self.params["hide_fraction"], self.params["random_fraction"]
        )
        hidden = corrupted == self.special.mask
        # Hidden tokens never reach the encoder; their ids are kept only so that nothing in
        # the batch is a [MASK].
        encoder_ids = torch.where(hidden, input_ids, corrupted)
        return {"input_ids": encoder_ids, "targets": input_ids, "selected": selected, "hidden": hidden}

    def loss(self, model: nn.Module, batch: dict[str, Tensor]) -> Tensor:
        hidden = model.hidden(batch["input_ids"], ~batch["hidden"], self.special.pad)
        logits = model.head(hidden[batch["selected"]])
        return nn.functional.cross_entropy(logits.float(), batch["targets"][batch["selected"]])

    def logits_at(self, model: nn.Module, input_ids: Tensor, positions: Tensor) -> Tensor:
        return model.head(model.hidden(input_ids, ~positions, self.special.pad)[positions])

    def sequence_loss(self, model: nn.Module, input_ids: Tensor, positions: Tensor) -> Tensor:
        logits = model(input_ids.unsqueeze(0), (~positions).unsqueeze(0), self.special.pad)[0]
        return masked_token_nll(logits, input_ids, positions)

    def sequence_losses(self, model: nn.Module, input_ids: Tensor, positions: Tensor) -> Tensor:
        hidden = model.hidden(input_ids, ~positions, self.special.pad)
        return predicted_token_nll(model.head, hidden, input_ids, positions)

    def hidden_states(self, model: nn.Module, input_ids: Tensor, positions: Tensor) -> tuple[tuple[Tensor, ...], Tensor]:
        """The encoder's (the representation the MAE learns): its states on the tokens left
        visible when the evaluation positions are hidden, in compacted slots."""
        encoded, _, kept = model.encode(input_ids, ~positions, self.special.pad, output_hidden_states=True)
        return encoded.hidden_states, kept

    def layer_groups(self, model: nn.Module) -> dict[str, list[str]]:
        """embeddings (encoder input embeddings, tied to the output layer), the encoder's
        layer.i, the decoder's decoder.layer.i, and head (decoder position embeddings and
        norm, mask embedding, prediction head)."""
        groups: dict[str, list[str]] = {"embeddings": []}
        groups.update({f"layer.{i}": [] for i in range(model.encoder.config.num_hidden_layers)})
        groups.update({f"decoder.layer.{i}": [] for i in range(model.decoder.config.num_hidden_layers)})
        groups["head"] = []
        for name, _ in model.named_parameters():
            parts = name.split(".")
            if name.startswith("encoder.embeddings."):
                groups["embeddings"].append(name)
            elif name.startswith("encoder.encoder.layer."):
                groups[f"layer.{parts[3]}"].append(name)
            elif name.startswith("decoder.encoder.layer."):
                groups[f"decoder.layer.{parts[3]}"].append(name)
            else:
                groups["head"].append(name)
        return groups

    def layer_states(self, model: nn.Module, input_ids: Tensor) -> tuple[Tensor, ...]:
        # The encoder with every token visible: the decoder only reconstructs hidden ones.
        return model.encoder(input_ids=input_ids, output_hidden_states=True).hidden_states

    def input_embeddings(self, model: nn.Module) -> Tensor:
        return model.encoder.embeddings.word_embeddings.weight

    def save_pretrained(self, model: nn.Module, directory: Path) -> None:
        directory = Path(directory)
        model.encoder.save_pretrained(directory)
        rest = {k: v.contiguous() for k, v in model.state_dict().items()
                if not k.startswith("encoder.") and k not in TIED}
        save_file(rest, str(directory / DECODER_FILE))
        (directory / DECODER_CONFIG).write_text(json.dumps(model.decoder.config.to_dict(), indent=2, sort_keys=True))

    def load_pretrained(self, directory: Path) -> nn.Module:
        directory = Path(directory)
        encoder = BertModel.from_pretrained(directory, add_pooling_layer=False)
        decoder_config = BertConfig.from_dict(json.loads((directory / DECODER_CONFIG).read_text()))
        model = MaskedAutoencoderModel(encoder.config, decoder_config)
        model.encoder.load_state_dict(encoder.state_dict())
        missing, unexpected = model.load_state_dict(load_file(str(directory / DECODER_FILE)), strict=False)
        if unexpected or any(not k.startswith("encoder.") and k not in TIED for k in missing):
            raise InputError(f"{directory}: {DECODER_FILE} does not match the model ({missing[:3]}, {unexpected[:3]})")
        return model
