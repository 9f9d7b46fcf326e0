"""Sampling tokens from large vocabularies, fast.

``torch.multinomial`` on a [B, V] softmax (V = 5,000, SeqGAN's oracle) takes ~240 ms for 2,000 rows on
one core, as long as Gumbel-max; the inverse CDF below takes ~33 ms for the same draw (measured on this
project's 2-core machine): a cumulative sum, one uniform number per row and a binary search. The
cumulative sum runs in float32; its rounding (~1e-7 relative) is far below any probability that matters.
"""
from __future__ import annotations

import torch


def sample_tokens(logits: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """One token per row of ``logits`` [B, V], drawn from softmax(logits): int64 [B]."""
    cdf = torch.softmax(logits.float(), dim=1).cumsum_(dim=1)
    u = torch.rand(cdf.shape[0], 1, generator=generator, device=cdf.device) * cdf[:, -1:]
    return torch.searchsorted(cdf, u).squeeze(1).clamp_(max=cdf.shape[1] - 1)
