"""Augmentation recipes and the validation transform (torchvision transforms v2), and normalisation.

* Images are float32 ``C x H x W`` tensors; pixel values are scaled to ``[0, 1]`` and then normalised per channel
  as ``(x - mean) / std`` (``mean``/``std`` in those ``[0, 1]`` units).
* Recipes: ``paper`` (GoogLeNet: RandomResizedCrop scale 0.08-1, aspect 3/4-4/3, interpolation picked at random
  per image, colour jitter 0.4, horizontal flip), ``plain`` (zero-pad by ``image_size // 8`` and random crop back,
  plus horizontal flip), ``none``; ``auto`` picks ``plain`` for ``image_size <= 64``, else ``paper``.
* Val transform: ``Resize(int(image_size * 256 / 224))`` + ``CenterCrop(image_size)`` for ``image_size > 64``,
  a plain resize to ``image_size x image_size`` otherwise.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from torchvision.transforms import v2

from inception_bench.errors import FieldError

IMAGENET_MEAN: tuple[float, float, float] = (0.485, 0.456, 0.406)
IMAGENET_STD: tuple[float, float, float] = (0.229, 0.224, 0.225)
RECIPES = ("auto", "paper", "plain", "none")
SMALL_IMAGE_MAX = 64  # images up to this side count as "small": plain recipe, resize-only val transform

Stats = tuple[tuple[float, float, float], tuple[float, float, float]]


def _interpolations(pil: bool) -> list[v2.InterpolationMode]:
    modes = [v2.InterpolationMode.BILINEAR, v2.InterpolationMode.NEAREST, v2.InterpolationMode.BICUBIC]
    if pil:  # box (area) filtering is PIL-only in torchvision's resize
        modes.append(v2.InterpolationMode.BOX)
    return modes


class RandomInterpolationResizedCrop(v2.RandomChoice):
    """RandomResizedCrop whose interpolation is drawn uniformly per image (the GoogLeNet paper's recipe)."""

    def __init__(
        self,
        size: int,
        *,
        scale: tuple[float, float] = (0.08, 1.0),
        ratio: tuple[float, float] = (3 / 4, 4 / 3),
        pil: bool = True,
    ) -> None:
        super().__init__(
            [
                v2.RandomResizedCrop(size, scale=scale, ratio=ratio, interpolation=mode, antialias=True)
                for mode in _interpolations(pil)
            ]
        )


def to_float() -> list[Callable[[Any], Any]]:
    return [v2.ToImage(), v2.ToDtype(torch.float32, scale=True)]


def normalize(mean: Sequence[float], std: Sequence[float]) -> v2.Compose:
    """Normalise and hand back a plain ``torch.Tensor`` (not a ``tv_tensors.Image``)."""
    return v2.Compose([v2.Normalize(list(mean), list(std)), v2.ToPureTensor()])


def resize_transforms(image_size: int) -> list[Callable[[Any], Any]]:
    if image_size > SMALL_IMAGE_MAX:
        return [v2.Resize(int(image_size * 256 / 224), antialias=True), v2.CenterCrop(image_size)]
    return [v2.Resize((image_size, image_size), antialias=True)]


def train_transform(
    recipe: str,
    image_size: int,
    mean: Sequence[float],
    std: Sequence[float],
    *,
    flip: bool = True,
    pil: bool = True,
    resize: bool = True,
) -> v2.Compose:
    """The training transform of ``recipe`` (``paper``/``plain``/``none``): PIL image or tensor in, normalised out.

    ``pil`` says whether inputs are PIL images (the paper recipe then also draws box filtering);
    ``resize=False`` skips the initial resize of the plain/none recipes when inputs already have side ``image_size``.
    """
    steps: list[Callable[[Any], Any]] = []
    if recipe == "paper":
        steps.append(RandomInterpolationResizedCrop(image_size, pil=pil))
        steps.append(v2.ColorJitter(brightness=0.4, contrast=0.4, saturation=0.4))
        if flip:
            steps.append(v2.RandomHorizontalFlip())
        steps += to_float()
    elif recipe == "plain":
        if resize:
            steps.append(v2.Resize((image_size, image_size), antialias=True))
        steps.append(v2.RandomCrop(image_size, padding=image_size // 8))
        if flip:
            steps.append(v2.RandomHorizontalFlip())
        steps += to_float()
    elif recipe == "none":
        if resize:
            steps += resize_transforms(image_size)
        steps += to_float()
    else:
        raise ValueError(f"unknown recipe {recipe!r}")
    steps.append(normalize(mean, std))
    return v2.Compose(steps)


def val_transform(image_size: int, mean: Sequence[float], std: Sequence[float], *, resize: bool = True) -> v2.Compose:
    """Resize (+ center crop for images > 64 px), scale to [0, 1], normalise."""
    steps = (resize_transforms(image_size) if resize else []) + to_float() + [normalize(mean, std)]
    return v2.Compose(steps)


def resolve_recipe(recipe: str, image_size: int) -> str:
    """The recipe to use: ``auto`` resolved by the image size."""
    if recipe not in RECIPES:
        raise FieldError("recipe", f"unknown augmentation recipe; use one of {', '.join(RECIPES)}", recipe)
    if recipe == "auto":
        return "plain" if image_size <= SMALL_IMAGE_MAX else "paper"
    return recipe


def channel_stats(images: torch.Tensor) -> Stats:
    """Per-channel mean and std of ``N x 3 x H x W`` images (std at least 1e-6)."""
    x = images.double()
    mean = x.mean(dim=(0, 2, 3))
    std = x.std(dim=(0, 2, 3)).clamp_min(1e-6)
    return (
        (float(mean[0]), float(mean[1]), float(mean[2])),
        (float(std[0]), float(std[1]), float(std[2])),
    )


def normalise_batch(images: torch.Tensor, mean: Sequence[float], std: Sequence[float]) -> torch.Tensor:
    x = images.float() / 255.0 if images.dtype == torch.uint8 else images.float()
    m = torch.tensor(mean, dtype=x.dtype, device=x.device).view(1, -1, 1, 1)
    s = torch.tensor(std, dtype=x.dtype, device=x.device).view(1, -1, 1, 1)
    return (x - m) / s
