"""One set of layer names in every table (contextual states, Fisher groups, probes):
``embeddings`` (the embedding layer: its output, or its parameters), ``layer.i`` (encoder
layer i, from 0: its output, or its parameters) and ``head`` (the output head's parameters;
Fisher only); ``encoder`` is every layer's parameters (the paper's Fisher during training)."""

from __future__ import annotations

import math
from typing import Iterable

EMBEDDINGS = "embeddings"
HEAD = "head"
# Every encoder layer's parameters together: the paper's Fisher during training groups them so.
ENCODER = "encoder"


def hidden_state_names(n_states: int) -> list[str]:
    """Names of a member's hidden states from input to output: the embedding layer's output,
    then encoder layer i's output as ``layer.i``."""
    return [EMBEDDINGS, *(f"layer.{i}" for i in range(n_states - 1))]


def depth(name: str) -> float:
    """A layer's place from input to output: the embeddings first, the head last."""
    if name == EMBEDDINGS:
        return -1
    if name == HEAD:
        return math.inf
    return int(name.removeprefix("layer."))


def last_layer(names: Iterable[str]) -> str:
    """The deepest hidden state among ``names`` (the head, which has none, left out)."""
    return max((name for name in names if name != HEAD), key=depth)
