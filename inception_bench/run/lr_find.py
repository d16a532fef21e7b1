"""``ibench lr-find``: the learning-rate range test (Smith, "Cyclical learning rates for training neural networks",
2017) for any variant and data set.

Conventions
-----------
- The learning rate grows geometrically from ``start_lr`` to ``end_lr`` over ``steps`` training steps:
  ``lr_i = start_lr * (end_lr / start_lr) ** (i / (steps - 1))``. Each step is ``ibench train``'s step
  (:func:`~inception_bench.run.engine.train_step`: the aux heads weighted, the recipe's precision, SGD with its momentum
  and weight decay) on the next batch of the training split, from the network's initial weights.
- The loss curve is smoothed with an exponential moving average (factor ``beta``, bias-corrected, as Smith and
  fastai do); the test stops early once the smoothed loss exceeds ``diverge`` x its minimum, or is not finite.
- The suggested learning rate is where the smoothed loss falls fastest per decade of learning rate (the most
  negative slope of smoothed loss over log10 lr, across windows of a tenth of the sweep), before the loss minimum;
  the learning rate of the minimum divided by 10 is reported beside it (the older rule of thumb).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from inception_bench.errors import FieldError, fields_of
from inception_bench.progress import ProgressMode, step_progress
from inception_bench.run.engine import (
    autocast_for,
    prepare_device,
    resolve_device,
    resolve_precision,
    train_step,
)
from inception_bench.run.settings import Recipe
from inception_bench.run.setup import model_and_optimizer
from inception_bench.spec import LoadedSpec
from inception_bench.store import LrFindFolder


@dataclass
class LrFind:
    """The range test's curve (one entry per step taken) and its suggestions."""

    lrs: list[float]
    losses: list[float]
    smoothed: list[float]
    suggested_lr: float
    min_loss_lr: float
    stopped_early: bool
    data: str

    @property
    def caveat(self) -> str | None:
        """Why the suggestions are not to be trusted, or None: the smoothed loss was lowest within the sweep's first
        tenth (where the moving average is still settling), so the curve shows no descent to suggest from."""
        finite = [i for i, s in enumerate(self.smoothed) if math.isfinite(s)]
        if not finite:
            return "the loss was never finite: no suggestion; start lower (--start-lr) or check the data"
        best = min(finite, key=lambda i: self.smoothed[i])
        if best >= max(1, len(self.lrs) // 10):
            return None
        return (
            f"the loss was lowest at the start of the sweep (lr {self.lrs[best]:.3g}, step {best + 1} of "
            f"{len(self.lrs)}): the curve shows no descent, so the suggestion is a guess; start lower (--start-lr)"
            " or take more steps (--steps)"
        )

    def rows(self) -> list[dict[str, float]]:
        return [
            {"step": i, "lr": lr, "loss": loss, "smoothed_loss": sm}
            for i, (lr, loss, sm) in enumerate(zip(self.lrs, self.losses, self.smoothed, strict=True))
        ]


def lr_schedule(start_lr: float, end_lr: float, steps: int) -> list[float]:
    """The geometric sweep from ``start_lr`` to ``end_lr`` in ``steps`` values."""
    if steps < 2:
        return [start_lr]
    return [start_lr * (end_lr / start_lr) ** (i / (steps - 1)) for i in range(steps)]


class Smoother:
    """Bias-corrected exponential moving average: ``avg_i = beta avg_{i-1} + (1 - beta) loss_i``, divided by
    ``1 - beta ** (i + 1)``; :meth:`add` returns the smoothed value after each loss."""

    def __init__(self, beta: float) -> None:
        self.beta, self.avg, self.count = beta, 0.0, 0

    def add(self, loss: float) -> float:
        self.avg = self.beta * self.avg + (1 - self.beta) * loss
        self.count += 1
        return self.avg / (1 - self.beta**self.count)


def smooth(losses: list[float], beta: float) -> list[float]:
    """The :class:`Smoother` curve of a whole list of losses."""
    smoother = Smoother(beta)
    return [smoother.add(loss) for loss in losses]


def suggest(lrs: list[float], smoothed: list[float]) -> tuple[float, float]:
    """(steepest-descent learning rate before the loss minimum, learning rate of the minimum / 10). The slope is
    taken over windows of a tenth of the sweep (the noise of single steps would otherwise decide), leaving out the
    first tenth, where the moving average has not settled; the suggestion is the middle of the steepest window."""
    best = min(range(len(smoothed)), key=lambda i: smoothed[i])
    min_lr = lrs[best] / 10
    w = max(2, len(lrs) // 10)
    starts = range(max(1, len(lrs) // 10), best - w + 1)
    if not starts:
        return min_lr, min_lr
    slopes = {i: (smoothed[i + w] - smoothed[i]) / (math.log10(lrs[i + w]) - math.log10(lrs[i])) for i in starts}
    steepest = min(slopes, key=lambda i: slopes[i])
    return lrs[steepest + w // 2], min_lr


def lr_find(
    loaded: LoadedSpec,
    recipe: Recipe,
    *,
    start_lr: float = 1e-5,
    end_lr: float = 10.0,
    steps: int = 100,
    beta: float = 0.98,
    diverge: float = 4.0,
    progress: str = ProgressMode.auto,
) -> LrFind:
    """Run the range test for ``loaded.spec`` on ``recipe``'s data, device and precision (its learning rate and
    schedule are what the test replaces). ``progress``: a :class:`~inception_bench.progress.ProgressMode`."""
    if not 0 < start_lr < end_lr:
        raise FieldError("start_lr", f"must be positive and below --end-lr ({end_lr})", start_lr)
    if steps < 5:
        raise FieldError("steps", "too few for a curve; use at least 5 (100 is usual)", steps)
    from inception_bench.run.data import recipe_loaders

    spec = loaded.spec
    with fields_of("recipe"):
        device = resolve_device(recipe.device)
        precision = resolve_precision(recipe.precision, device)
        torch.manual_seed(recipe.seed)
        prepare_device(device, tf32=True)
        loaders = recipe_loaders(recipe, spec, device)
        train_loader, description = loaders.train, loaders.description
    model, optimizer = model_and_optimizer(spec, recipe, device, start_lr)
    model.train()
    scaler = torch.amp.GradScaler("cuda", enabled=precision == "fp16")
    autocast = autocast_for(device, precision)
    lrs: list[float] = []
    losses: list[float] = []
    smoothed: list[float] = []
    smoother = Smoother(beta)
    stopped = False
    batches = _cycle(train_loader)
    with step_progress("lr range test", steps, progress) as advance:
        for lr in lr_schedule(start_lr, end_lr, steps):
            for group in optimizer.param_groups:
                group["lr"] = lr
            images, target = next(batches)
            images, target = images.to(device), target.to(device)
            if recipe.channels_last:
                images = images.contiguous(memory_format=torch.channels_last)
            step_loss, _ = train_step(  # not clipped: the test looks for where the loss diverges
                model,
                images,
                target,
                optimizer,
                scaler,
                autocast,
                spec.aux.loss_weight,
                label_smoothing=recipe.label_smoothing,
            )
            loss = float(step_loss.detach())
            lrs.append(lr)
            losses.append(loss)
            smoothed.append(smoother.add(loss))
            advance(len(target))
            if not math.isfinite(loss) or smoothed[-1] > diverge * min(smoothed):
                stopped = True
                break
    finite = [i for i, s in enumerate(smoothed) if math.isfinite(s)]
    suggested, min_lr = suggest([lrs[i] for i in finite], [smoothed[i] for i in finite])
    return LrFind(lrs, losses, smoothed, suggested, min_lr, stopped, description)


def _cycle(loader: Any) -> Any:
    """The loader's batches, epoch after epoch."""
    epoch = 0
    while True:
        loader.set_epoch(epoch)
        yield from loader
        epoch += 1


def save(result: LrFind, loaded: LoadedSpec, recipe: Recipe, out: Path) -> LrFindFolder:
    """Write the curve (CSV), its plot (PNG) and the suggestions with the settings (JSON) into ``out``."""
    import pandas as pd

    spec = loaded.spec
    title = f"{spec.name}: {spec.module} modules, aux {'on' if spec.aux.enabled else 'off'}, width x"
    title += f"{spec.width_mult:g}; {result.data.split(':')[0]}, batch {recipe.batch_size}"
    summary = {
        "suggested_lr": result.suggested_lr,
        "suggested_lr_option": recipe.lr_option(result.suggested_lr, recipe.batch_size),  # --lr, per lr_batch
        "min_loss_lr_over_10": result.min_loss_lr,
        "stopped_early": result.stopped_early,
        "caveat": result.caveat,
        "steps": len(result.lrs),
        "spec": spec.to_raw(),
        "recipe": recipe.model_dump(),
        "data": result.data,
    }
    folder = LrFindFolder(out)
    folder.write(pd.DataFrame(result.rows()).to_csv(index=False), plot_png(result, title), summary)
    return folder


def plot_png(result: LrFind, title: str) -> bytes:
    """The loss curve against the learning rate (log scale), the suggestion marked, as PNG bytes."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=120)
    ax.plot(result.lrs, result.losses, color="0.75", linewidth=1, label="loss")
    ax.plot(result.lrs, result.smoothed, color="C0", linewidth=2, label="smoothed loss")
    ax.axvline(result.suggested_lr, color="C3", linestyle="--", label=f"suggested {result.suggested_lr:.3g}")
    ax.set_xscale("log")
    ax.set_xlabel("learning rate")
    ax.set_ylabel("training loss")
    ax.set_title(title, fontsize=10)
    finite = [s for s in result.smoothed if math.isfinite(s)]
    if finite:
        ax.set_ylim(min(finite) * 0.9, min(max(finite), 4 * min(finite)) * 1.1)
    ax.legend(fontsize=8)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()
