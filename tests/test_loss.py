"""The training loss (paper section 5): the main head's cross-entropy plus 0.3 x each aux head's, checked against
the negative log-likelihood computed here by hand from the logits."""

from __future__ import annotations

import math

import pytest
import torch

from inception_bench.models import GoogLeNetOutputs
from inception_bench.run.engine import loss_fn


def _nll(logits: torch.Tensor, target: torch.Tensor) -> float:
    """Mean over the batch of -log softmax(logits)[target], from exp and log of each row."""
    total = 0.0
    for row, t in zip(logits.tolist(), target.tolist(), strict=True):
        total += math.log(sum(math.exp(v) for v in row)) - row[t]
    return total / len(target)


def test_aux_heads_add_their_weighted_losses():
    torch.manual_seed(0)
    target = torch.tensor([0, 3, 1, 2])
    main, aux1, aux2 = (torch.randn(4, 5) for _ in range(3))
    got = loss_fn(GoogLeNetOutputs(main, (aux1, aux2)), target, aux_weight=0.3)
    want = _nll(main, target) + 0.3 * (_nll(aux1, target) + _nll(aux2, target))
    assert float(got) == pytest.approx(want, rel=1e-5)
    # without aux heads, and torchvision's (logits, aux2, aux1) tuple, weighted alike
    assert float(loss_fn(main, target, aux_weight=0.3)) == pytest.approx(_nll(main, target), rel=1e-5)
    assert float(loss_fn((main, aux2, aux1), target, aux_weight=1.0)) == pytest.approx(
        _nll(main, target) + _nll(aux1, target) + _nll(aux2, target), rel=1e-5
    )
