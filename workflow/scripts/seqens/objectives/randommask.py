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

import torch
from torch import Tensor

from .mlm import MaskedLM


class RandomMask(MaskedLM):
    name = "randommask"

    def select(self, input_ids: Tensor, generator: torch.Generator, progress: float) -> Tensor:
        m = self.parameters.span_at(progress)
        maskable = self.special.maskable(input_ids)
        centre_probability = 1.0 - (1.0 - self.params["mask_ratio"]) ** (1.0 / m)
        centres = maskable & (torch.rand(input_ids.shape, generator=generator) < centre_probability)
        # A token is covered by a centre c when c - m//2 <= t <= c + (m - 1)//2.
        kernel = torch.ones(1, 1, m)
        covered = torch.nn.functional.conv1d(
            centres.float().unsqueeze(1), kernel, padding=m - 1
        ).squeeze(1)[:, m // 2 : m // 2 + input_ids.shape[1]]
        return maskable & (covered > 0)
