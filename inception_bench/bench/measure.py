"""Measuring: a model in a setup (:class:`Case`), warmed up, then timed in interleaved rounds, and the ratios of
two cases' images/s over those rounds."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field, replace
from typing import Any

import torch
from torch import nn

from inception_bench.bench.settings import BenchSettings
from inception_bench.bench.setups import Setup
from inception_bench.bench.steps import Step, decay_batch_step, sync
from inception_bench.errors import FieldError


@dataclass
class Model:
    """A model to measure: its name, how to build it for a setup, its classes, counts and aux loss weight."""

    name: str
    build: Callable[[Setup], nn.Module]
    classes: int
    params: int
    macs: int
    aux_weight: float
    options: bool = True  # whether the execution options (fuse_1x1, s2d_stem) apply; torchvision's model runs as is
    reference: str = ""  # the row name of the torchvision model its vs_torchvision compares with

    def runs(self, setup: Setup) -> Setup:
        """The setup this model actually runs in."""
        return setup if self.options else replace(setup, fuse_1x1=False, s2d_stem=False)


@dataclass
class Case:
    """One model in one setup: its step, the batch that fit, and what its rounds measured (seconds)."""

    model: Model
    setup: Setup
    role: str
    step: Step
    fused_1x1: bool
    s2d_stem: bool
    batch: int = 0
    first_s: float = 0.0
    note: str = ""
    rounds: list[list[float]] = field(default_factory=list)
    phases: dict[str, list[float]] = field(default_factory=dict)
    memory_mb: float | None = None

    def inductor(self) -> AbstractContextManager[Any]:
        """The setup's inductor settings while its steps run (they apply when it compiles or recompiles; an eager
        setup has none)."""
        from torch._inductor import config

        return config.patch(dict(self.setup.inductor))

    def ips(self, round_index: int) -> float:
        """Images/s of one round (its median step)."""
        return self.batch / statistics.median(self.rounds[round_index])

    def times(self) -> list[float]:
        return [t for r in self.rounds for t in r]


def warm_up(case: Case, batch: int, warmup: int, device: torch.device) -> None:
    """The first step (timed: it compiles), then the other warm-up steps, stepping the batch down on
    out-of-memory until it fits."""
    requested = batch
    while True:
        try:
            with case.inductor():
                t0 = time.perf_counter()
                case.step(batch, None)
                sync(device)
                case.first_s = time.perf_counter() - t0
                for _ in range(warmup - 1):
                    case.step(batch, None)
                sync(device)
            case.batch = batch
            return
        except torch.OutOfMemoryError:
            if batch == 1:
                raise FieldError("batch_size", "out of memory even at batch 1", requested) from None
        batch = decay_batch_step(batch)  # outside the except block: its traceback no longer holds the tensors
        case.note = f"out of memory at batch {requested}; stepped down to {batch}"
        if device.type == "cuda":
            torch.cuda.empty_cache()


def run_round(case: Case, steps: int, device: torch.device, detail: bool) -> None:
    """``steps`` timed steps of one case; with ``detail``, the phases of each training step too. On CUDA, the
    most memory its steps allocated beyond what was allocated before them."""
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
        resident = torch.cuda.memory_allocated(device)
    times: list[float] = []
    last = [0.0]

    def mark(phase: str) -> None:
        sync(device)
        now = time.perf_counter()
        case.phases.setdefault(phase, []).append(now - last[0])
        last[0] = now

    try:
        with case.inductor():
            for _ in range(steps):
                t0 = last[0] = time.perf_counter()
                case.step(case.batch, mark if detail else None)
                sync(device)
                times.append(time.perf_counter() - t0)
    except torch.OutOfMemoryError:
        why = f"out of memory in {case.model.name}'s steps at batch {case.batch} once every setup was built"
        raise FieldError("batch_size", why + "; use a smaller one", case.batch) from None
    case.rounds.append(times)
    if device.type == "cuda":
        step_mb = (torch.cuda.max_memory_allocated(device) - resident) / 2**20
        case.memory_mb = max(case.memory_mb or 0.0, step_mb)


def prepare(
    cases: list[Case],
    settings: BenchSettings,
    device: torch.device,
    remake: Callable[[Case], Case],
    done: Callable[[], None] = lambda: None,
) -> None:
    """Warm every case up (calling ``done`` after each), then bring them to one batch (the largest every case
    fits), so that ratios compare equal work. A compile that fails under compile auto (no C++ compiler, say) is
    measured eager instead and says so; under an explicit ``--compile`` it is an error."""
    warmup = max(1, settings.warmup)
    for i, case in enumerate(cases):
        try:
            warm_up(case, settings.batch_size, warmup, device)
        except torch._dynamo.exc.BackendCompilerFailed as e:
            why = " ".join(str(e).split())[:160]
            if settings.compile is not None:
                raise FieldError("compile", f"torch.compile failed ({why}); leave compile off", True) from None
            cases[i] = remake(case)
            warm_up(cases[i], settings.batch_size, warmup, device)
            cases[i].note = join_notes(cases[i].note, f"compile (auto) failed, measured eager: {why}")
        done()
    common = min(case.batch for case in cases)
    for case in cases:
        if case.batch != common:
            warm_up(case, common, warmup, device)
            case.note = join_notes(case.note, f"run at batch {common}, the largest every setup here fits")


def join_notes(*notes: str) -> str:
    return "; ".join(n for n in notes if n)


def interleave(
    cases: list[Case], settings: BenchSettings, device: torch.device, done: Callable[[], None] = lambda: None
) -> None:
    """The rounds: A, B, C, then C, B, A, and so on (cases warmed up first, :func:`prepare`); ``done`` is called
    after each case's round."""
    for r in range(settings.rounds):
        for case in cases if r % 2 == 0 else reversed(cases):
            run_round(case, settings.steps, device, settings.detail)
            done()


def ratio(case: Case, reference: Case | None) -> tuple[float | None, float | None, float | None]:
    """Images/s of ``case`` over ``reference``: the median of the per-round ratios, and their range."""
    if reference is None:
        return None, None, None
    per_round = [case.ips(r) / reference.ips(r) for r in range(len(case.rounds))]
    return statistics.median(per_round), min(per_round), max(per_round)
