"""The typed settings of a run: :class:`Recipe` (how ``ibench train`` trains; ``ibench bench``'s settings build on
:class:`ExecutionSettings` in :mod:`inception_bench.bench.settings`). They are validated in one place, whoever fills
them in: the CLI's options, an
ablation file's ``recipe:``, or Python code. :func:`parse` turns the first problem into a
:class:`~inception_bench.errors.FieldError` named after the field (``recipe.momentum``), which the CLI rewrites
into its option (``--lr``) and an ablation file keeps.

Nothing here imports torch.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator

from inception_bench.errors import field_error
from inception_bench.run.guard import NotLearning
from inception_bench.run.tracking import TrackerName


# The choices of the settings below, stated once: the fields are typed with them, the CLI's options too (Typer shows
# and checks them), and the settings store their plain values (use_enum_values), so records hold plain strings.
class CompileMode(StrEnum):
    default = "default"
    reduce_overhead = "reduce-overhead"
    max_autotune = "max-autotune"
    max_autotune_no_cudagraphs = "max-autotune-no-cudagraphs"


class Augmentation(StrEnum):  # Recipe.recipe
    auto = "auto"
    paper = "paper"
    plain = "plain"
    none = "none"


class Schedule(StrEnum):
    auto = "auto"
    step = "step"
    cosine = "cosine"


class Averaging(StrEnum):
    ema = "ema"
    none = "none"


class Precision(StrEnum):  # autocast precision; auto is resolved per device (run.engine.resolve_precision)
    auto = "auto"
    fp32 = "fp32"
    bf16 = "bf16"
    fp16 = "fp16"


class ExecutionSettings(BaseModel):
    """What a run and a benchmark share: compilation, the execution options and the device."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, use_enum_values=True)

    compile: bool | None = Field(False, description="torch.compile the model")
    compile_mode: CompileMode = Field(
        CompileMode.default,
        validate_default=True,
        description="torch.compile's mode; reduce-overhead = CUDA graphs (needs compile)",
    )
    fuse_1x1: bool = Field(
        False, description="each Inception module's input 1x1 convolutions as one (same weights and arithmetic)"
    )
    s2d_stem: bool = Field(False, description="conv1 on 2x2 space-to-depth blocks (same weights and function)")
    device: str = Field("auto", description="auto | cpu | cuda | cuda:N")

    @field_validator("compile_mode")
    @classmethod
    def _needs_compile(cls, mode: str, info: ValidationInfo) -> str:
        if mode != "default" and info.data.get("compile") is False:  # None (bench's auto) may compile
            raise ValueError("applies to torch.compile only; turn compile on")
        return mode


class Recipe(ExecutionSettings):
    """How to train (see :mod:`inception_bench.run.train`): SGD with momentum 0.9 (Nesterov's; the paper's is plain)
    and the paper's weight decay, a per-step schedule chosen for the run's length (:meth:`schedule_for`), the
    learning rate scaled with the batch, gradient clipping, a weight average whose horizon follows the run
    (:meth:`ema_decay_for`), and batch norm's statistics recomputed before each evaluation. ``--recipe paper`` gives
    the paper's augmentation and step decay."""

    compile: bool = Field(False, description="torch.compile the model (on the CPU too, with inductor)")
    data: str = Field(
        "digits", description="digits | synthetic | fashion-mnist | cifar10 | cifar100 | imagenette | imagefolder:PATH"
    )
    data_root: str = Field("data", description="where downloadable data sets live")
    recipe: Augmentation = Field(
        Augmentation.auto,
        validate_default=True,
        description="augmentation: paper | plain | none | auto (plain <= 64 px, else paper)",
    )
    image_size: int | None = Field(None, ge=8, description="training image side; default: the spec's input_size")
    epochs: int = Field(30, ge=1)
    batch_size: int = Field(64, ge=1, description="images per step and process")
    lr: float = Field(
        0.6,
        gt=0,
        allow_inf_nan=False,
        description="learning rate (SGD) for lr_batch images per step; the step uses lr x effective batch / lr_batch",
    )
    lr_batch: int = Field(256, ge=1, description="the batch --lr is given for (linear scaling; Goyal et al. 2017)")
    momentum: float = Field(0.9, ge=0, lt=1)
    nesterov: bool = Field(True, description="Nesterov momentum (the paper: plain momentum; records before it: off)")
    weight_decay: float = Field(2e-4, ge=0)
    schedule: Schedule = Field(
        Schedule.auto,
        validate_default=True,
        description="per step: cosine (linear warm-up, then cosine to 0) | step (the paper: x0.96 every 8 epochs) | "
        "auto (step with --recipe paper, else cosine)",
    )
    warmup_epochs: float = Field(1.0, ge=0, description="linear warm-up (cosine; at most half the run)")
    clip_grad_norm: float = Field(2.0, ge=0, description="clip the gradients' global L2 norm to this (0: off)")
    label_smoothing: float = Field(0.0, ge=0, lt=1, description="label smoothing of the training loss")
    averaging: Averaging = Field(
        Averaging.ema,
        validate_default=True,
        description="ema (also evaluate a moving average of the weights; the better on val is the headline) | none",
    )
    ema_decay: float | None = Field(
        None, gt=0, lt=1, description="decay of the weight average per step; default: horizon 1/20 of the run's steps"
    )
    bn_images: int = Field(
        1024,
        ge=0,
        description="training images that batch norm's statistics are recomputed on before each "
        "evaluation (precise BN; 0: off)",
    )
    not_learning: NotLearning = Field(
        NotLearning.stop,
        validate_default=True,  # stored as its plain value (use_enum_values): checkpoints hold no enum objects
        description="when the training loss is still at chance (ln K plus the aux heads' shares, within 10%) and val "
        "top-1 below 2/K, from --not-learning-after of the run on (and 300 steps): stop (status not-learning) | warn "
        "(go on, say so) | off",
    )
    not_learning_after: float = Field(
        0.5, gt=0, le=1, description="the share of the epochs after which the not-learning guard reads the loss"
    )
    seed: int = 0
    precision: Precision = Field(
        Precision.auto,
        validate_default=True,
        description="auto (bf16 on CUDA and on CPUs with native bf16: AMX or AVX-512 BF16; else fp32) | fp32 | bf16 "
        "| fp16 (CUDA)",
    )
    channels_last: bool = Field(True, description="channels_last memory format (faster on CUDA and the CPU)")
    workers: int = Field(4, ge=0, description="DataLoader workers (streamed data sets)")
    log: list[TrackerName] = Field(
        default_factory=list,
        description="trackers the metrics also go to: tensorboard (event files in the run folder), wandb (offline "
        "in the run folder unless WANDB_MODE is set), mlflow (MLFLOW_TRACKING_URI, else a local mlflow.db)",
    )

    # Where and how fast a run computes, where it reports, or how it is watched, not what it computes: a run may be
    # resumed with these changed (the guard ends a run that is not learning; it changes nothing of one that is).
    MACHINE_FIELDS: ClassVar[tuple[str, ...]] = (
        "device",
        "workers",
        "compile",
        "compile_mode",
        "fuse_1x1",
        "s2d_stem",
        "data_root",
        "log",
        "not_learning",
        "not_learning_after",
    )

    # What a recorded recipe (config.json, request.json) that predates a field trained with.
    LEGACY: ClassVar[dict[str, Any]] = {"nesterov": False}

    def schedule_for(self) -> str:
        """``schedule``, with auto resolved: the paper's step decay under ``--recipe paper``, else cosine."""
        if self.schedule != "auto":
            return self.schedule
        return "step" if self.recipe == "paper" else "cosine"

    def lr_for(self, effective_batch: int) -> float:
        """The learning rate a step uses: ``lr`` scaled linearly from ``lr_batch`` to the effective batch."""
        return self.lr * effective_batch / self.lr_batch

    def lr_option(self, step_lr: float, effective_batch: int) -> float:
        """The ``--lr`` that gives a step learning rate of ``step_lr`` at this batch (:meth:`lr_for` inverted)."""
        return step_lr * self.lr_batch / effective_batch

    def ema_decay_for(self, total_steps: int) -> float:
        """``ema_decay``, or by default 1 - 1/h for a horizon of h = 5% of the run's steps (at least 10): a weight
        average over the last few percent of training, however long it is."""
        if self.ema_decay is not None:
            return self.ema_decay
        return 1.0 - 1.0 / max(10.0, 0.05 * total_steps)


def portable_recipe(recipe: dict[str, Any] | None) -> dict[str, Any]:
    """A recorded recipe (config.json, request.json) without its machine fields; an older record's missing fields
    are what it trained with (:attr:`Recipe.LEGACY`)."""
    full = {**Recipe.LEGACY, **recipe} if recipe else {}
    return {k: v for k, v in full.items() if k not in Recipe.MACHINE_FIELDS}


S = TypeVar("S", bound=BaseModel)


def parse(cls: type[S], values: dict[str, Any], prefix: str) -> S:
    """``cls`` validated from ``values``; the first problem as a FieldError named ``prefix.field``."""
    try:
        return cls.model_validate(values)
    except ValidationError as e:
        raise field_error(prefix, e) from None
