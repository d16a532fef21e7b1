"""The not-learning guard: a run whose training loss is still at chance after a set share of its epochs says so,
instead of spending the rest of its time and reporting chance-level figures as a result.

Conventions:

* Chance is the loss of a network that predicts every class with probability 1/K: ln K for the main head, plus
  ``loss_weight x ln K`` for each enabled aux head, whose losses the training loss adds (paper section 5). Label
  smoothing leaves it unchanged (the cross-entropy of uniform predictions is ln K against any target).
* A run is not learning when its training loss (the mean over an epoch, aux heads included) is above
  ``(1 - TOLERANCE) x`` chance and its validation top-1 is below twice chance's 1/K (at most halfway from 1/K to
  1): a run whose loss is still high but whose predictions have begun to mean something is left to go on.
  Early epochs of a network that is learning sit above chance too (they start there),
  so the first epoch checked is ``ceil(share x epochs)``, never the first epoch, and none before the run has taken
  :data:`MIN_STEPS` optimizer steps (a network that learns can sit at chance for its first few hundred steps).

Nothing here imports torch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

TOLERANCE = 0.1  # a loss more than 10% below chance is learning
# steps a run takes before the guard reads its loss: the small spec's defaults on colour folders of either polarity
# sit at chance for their first 250-330 steps before they learn (docs/training.md, section 7)
MIN_STEPS = 300
HINT = "try `ibench lr-find` for a rate that learns, a lower --lr, or --no-aux"


class NotLearning(StrEnum):
    """What a run does when the guard finds it at chance: ``stop`` (its record says ``not-learning``), ``warn`` (it
    goes on; its record keeps the warning) or ``off``."""

    stop = "stop"
    warn = "warn"
    off = "off"


@dataclass(frozen=True)
class Chance:
    """The chance-level training loss of a run with ``num_classes`` classes and ``aux_heads`` aux heads weighted
    ``aux_weight`` each (:data:`TOLERANCE` below it still counts as chance)."""

    num_classes: int
    aux_heads: int
    aux_weight: float

    @property
    def loss(self) -> float:
        return math.log(self.num_classes) * (1.0 + self.aux_heads * self.aux_weight)

    @property
    def threshold(self) -> float:
        return (1.0 - TOLERANCE) * self.loss

    @property
    def top1_threshold(self) -> float:
        """Validation top-1 at or above which predictions mean something: 2/K, at most halfway from 1/K to 1."""
        return min(2.0 / self.num_classes, (1.0 + 1.0 / self.num_classes) / 2)

    def formula(self) -> str:
        aux = f" x (1 + {self.aux_heads} x {self.aux_weight:g})" if self.aux_heads and self.aux_weight else ""
        return f"ln {self.num_classes}{aux} = {self.loss:.3f}"


def first_checked_epoch(share: float, epochs: int, steps_per_epoch: int) -> int:
    """The first epoch (1-based) whose training loss the guard reads: ``ceil(share x epochs)``, at least 2, and
    not before :data:`MIN_STEPS` steps."""
    return max(2, math.ceil(share * epochs - 1e-9), math.ceil(MIN_STEPS / max(1, steps_per_epoch)))


def verdict(
    chance: Chance, epoch: int, epochs: int, steps_per_epoch: int, share: float, train_loss: float, val_top1: float
) -> str | None:
    """Why the run is not learning after ``epoch`` (1-based) of ``epochs``, or None: its training loss or its
    validation top-1 shows it learning, or the epoch comes before the part of the run the guard waits for
    (:func:`first_checked_epoch`)."""
    if epoch < first_checked_epoch(share, epochs, steps_per_epoch):
        return None
    if train_loss < chance.threshold or val_top1 >= chance.top1_threshold:
        return None
    return (
        f"not learning: after epoch {epoch} of {epochs} the training loss {train_loss:.3f} is at or above chance "
        f"({chance.formula()}; learning is below {chance.threshold:.3f}) and validation top-1 is {val_top1:.1%} "
        f"(chance {1 / chance.num_classes:.1%})"
    )
