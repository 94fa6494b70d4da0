"""Each objective's parameters: their defaults, what values make sense, and whether a
schedule fits the training steps. Free of torch and transformers, so that checking a
config (at workflow parse, in the Snakemake process) imports no model code."""

from __future__ import annotations

import math
from itertools import accumulate
from typing import ClassVar

from ..errors import InputError


class Parameters:
    """One objective's parameters, defaults filled in, checked on construction.

    Subclasses set ``objective`` (its config name), ``defaults`` (every accepted parameter
    with its default) and ``implementation`` ("module:Class" in seqens.objectives)."""

    objective: ClassVar[str]
    implementation: ClassVar[str]
    defaults: ClassVar[dict] = {}
    # What a prediction sees: the tokens on both sides of the position (masked ones unknown),
    # or, for a causal objective, those before it (seqens.counts models the same context).
    two_sided: ClassVar[bool] = True

    def __init__(self, params: dict | None = None):
        params = dict(params or {})
        unknown = sorted(set(params) - set(self.defaults))
        if unknown:
            raise InputError(
                f"objective '{self.objective}': unknown parameter(s) {unknown} (accepted: {sorted(self.defaults)})"
            )
        self.values = {**self.defaults, **params}
        self.validate()

    def __getitem__(self, key: str):
        return self.values[key]

    def fail(self, problem: str) -> None:
        raise InputError(f"objective '{self.objective}': {problem}")

    def validate(self) -> None:
        """Refuse values that make no sense (one line naming the parameter)."""

    def check_schedule(self, total_steps: int) -> None:
        """Refuse a schedule that does not fit ``total_steps``."""

    def check_preset(self, preset: dict) -> None:
        """Refuse a size preset this objective cannot train (one line naming the problem)."""

    def _check_ratio(self, key: str) -> None:
        if not 0 < self.values[key] < 1:
            self.fail(f"{key} must be in (0, 1), got {self.values[key]}")


# Where the 10% random replacements of the 80/10/10 rule are drawn from: the ordinary tokens,
# or every id of the vocabulary, special tokens included (the paper's collator).
RANDOM_TOKEN_POOLS = ("non_special", "vocabulary")


class MaskedLMParameters(Parameters):
    objective = "mlm"
    implementation = "mlm:MaskedLM"
    defaults = {"mask_ratio": 0.15, "random_tokens": "non_special"}

    def validate(self) -> None:
        self._check_ratio("mask_ratio")
        if self.values["random_tokens"] not in RANDOM_TOKEN_POOLS:
            self.fail(f"random_tokens must be one of {list(RANDOM_TOKEN_POOLS)}, got {self.values['random_tokens']!r}")


class RandomMaskParameters(MaskedLMParameters):
    """Span lengths by curriculum stage; stages of equal length unless ``stage_fractions``."""

    objective = "randommask"
    implementation = "randommask:RandomMask"
    defaults = {**MaskedLMParameters.defaults, "spans": [1, 2, 3, 4, 5], "stage_fractions": None}

    def validate(self) -> None:
        super().validate()
        spans, fractions = self.values["spans"], self.values["stage_fractions"]
        if not spans or any(not isinstance(m, int) or m < 1 for m in spans):
            self.fail("spans must be a non-empty list of positive integers")
        if fractions is not None:
            if len(fractions) != len(spans) or any(f <= 0 for f in fractions) or not math.isclose(sum(fractions), 1.0):
                self.fail(f"stage_fractions must be {len(spans)} positive numbers summing to 1")

    @property
    def stage_ends(self) -> list[float]:
        spans = self.values["spans"]
        fractions = self.values["stage_fractions"] or [1.0 / len(spans)] * len(spans)
        return list(accumulate(fractions))

    def check_schedule(self, total_steps: int) -> None:
        shortest = min(b - a for a, b in zip([0.0, *self.stage_ends], self.stage_ends)) * total_steps
        if shortest < 1:
            self.fail(f"{len(self.values['spans'])} stages do not fit in {total_steps} training steps")

    def span_at(self, progress: float) -> int:
        """The span length of the curriculum stage that ``progress`` (0..1) falls in."""
        for span, end in zip(self.values["spans"], self.stage_ends):
            if progress < end:
                return span
        return self.values["spans"][-1]


class MaskedAutoencoderParameters(Parameters):
    objective = "mae"
    implementation = "mae:MaskedAutoencoder"
    defaults = {
        "mask_ratio": 0.5,
        "hide_fraction": 0.8,
        "random_fraction": 0.1,
        "encoder_layers": None,
        "decoder_layers": None,
    }

    def validate(self) -> None:
        self._check_ratio("mask_ratio")
        hide, random = self.values["hide_fraction"], self.values["random_fraction"]
        if not (0 < hide <= 1 and 0 <= random and hide + random <= 1):
            self.fail(
                "hide_fraction must be in (0, 1] and random_fraction >= 0 with "
                f"hide_fraction + random_fraction <= 1, got {hide} and {random}"
            )

    def check_preset(self, preset: dict) -> None:
        if preset["layers"] == 0:
            self.fail(
                "needs encoder layers: with layers: 0 (the no-transformer control) its decoder's layers would do "
                "all the work, so it would not be a model without transformer layers"
            )


class CausalLMParameters(Parameters):
    objective = "clm"
    implementation = "clm:CausalLM"
    defaults = {}
    two_sided = False

