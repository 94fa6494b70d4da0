"""RandomMask: curriculum masking for DNA (Liang et al., "Toward Understanding BERT-Like
Pre-Training for DNA Foundation Models").

Centre positions are drawn among the ordinary tokens and each masks a contiguous span of m
tokens around it; m grows in stages over training (default m = 1, 2, 3, 4, 5 over equal
fifths). The centre probability q = 1 - (1 - r)^(1/m) keeps the expected mask ratio at the
target r for every m (a token is masked when any of the m centres that would cover it is
drawn). Spans never cover special tokens; masked tokens get BERT's 80/10/10 replacement.
The model, predictions at fixed positions and the Fisher are those of MLM.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from ..io import InputError
from .mlm import MaskedLM


class RandomMask(MaskedLM):
    name = "randommask"
    defaults = {"mask_ratio": 0.15, "spans": [1, 2, 3, 4, 5], "stage_fractions": None}

    def validate_params(self) -> None:
        super().validate_params()
        spans, fractions = self.params["spans"], self.params["stage_fractions"]
        if not spans or any(not isinstance(m, int) or m < 1 for m in spans):
            raise InputError(f"objective '{self.name}': spans must be a non-empty list of positive integers")
        if fractions is not None:
            if len(fractions) != len(spans) or any(f <= 0 for f in fractions) or not math.isclose(sum(fractions), 1.0):
                raise InputError(
                    f"objective '{self.name}': stage_fractions must be {len(spans)} positive numbers summing to 1"
                )

    @property
    def stage_ends(self) -> list[float]:
        fractions = self.params["stage_fractions"] or [1.0 / len(self.params["spans"])] * len(self.params["spans"])
        ends, total = [], 0.0
        for fraction in fractions:
            total += fraction
            ends.append(total)
        return ends

    def check_schedule(self, total_steps: int) -> None:
        shortest = min(b - a for a, b in zip([0.0, *self.stage_ends], self.stage_ends)) * total_steps
        if shortest < 1:
            raise InputError(
                f"objective '{self.name}': {len(self.params['spans'])} stages do not fit in {total_steps} training steps"
            )

    def span_at(self, progress: float) -> int:
        """The span length of the curriculum stage that `progress` (0..1) falls in."""
        for span, end in zip(self.params["spans"], self.stage_ends):
            if progress < end:
                return span
        return self.params["spans"][-1]

    def select(self, input_ids: Tensor, generator: torch.Generator, progress: float) -> Tensor:
        m = self.span_at(progress)
        maskable = self.special.maskable(input_ids)
        centre_probability = 1.0 - (1.0 - self.params["mask_ratio"]) ** (1.0 / m)
        centres = maskable & (torch.rand(input_ids.shape, generator=generator) < centre_probability)
        # A token is covered by a centre c when c - m//2 <= t <= c + (m - 1)//2.
        kernel = torch.ones(1, 1, m)
        covered = torch.nn.functional.conv1d(
            centres.float().unsqueeze(1), kernel, padding=m - 1
        ).squeeze(1)[:, m // 2 : m // 2 + input_ids.shape[1]]
        return maskable & (covered > 0)
