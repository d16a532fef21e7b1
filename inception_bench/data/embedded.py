"""The data sets that need no download: scikit-learn's digits and generated, learnable synthetic images."""

from __future__ import annotations

import numpy as np
import torch
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as TF

from inception_bench.data.bundle import DataBundle, in_memory_bundle
from inception_bench.data.loaders import seeded_generator
from inception_bench.errors import FieldError


def digits_bundle(image_size: int, recipe: str) -> DataBundle:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x = torch.from_numpy(digits.data.astype(np.float32)).view(-1, 1, 8, 8) / 16.0
    y = torch.from_numpy(digits.target.astype(np.int64))
    idx = np.arange(len(y))
    rest, test_idx = train_test_split(idx, test_size=360, stratify=digits.target, random_state=0)
    train_idx, val_idx = train_test_split(rest, test_size=270, stratify=digits.target[rest], random_state=0)
    x = TF.resize(x, [image_size, image_size], interpolation=v2.InterpolationMode.BILINEAR, antialias=True)
    x = x.clamp(0.0, 1.0).expand(-1, 3, -1, -1).contiguous()
    train_t, val_t, test_t = (torch.from_numpy(np.sort(i)) for i in (train_idx, val_idx, test_idx))
    return in_memory_bundle(
        name="digits",
        description=(
            f"digits: scikit-learn's 1797 real 8x8 greyscale handwritten digits, 10 classes, fixed stratified split "
            f"{len(train_t)} train / {len(val_t)} val / {len(test_t)} test, upsampled to {image_size}x{image_size}"
        ),
        num_classes=10,
        image_size=image_size,
        recipe=recipe,
        flip=False,
        train_x=x[train_t],
        train_y=y[train_t],
        val_x=x[val_t],
        val_y=y[val_t],
        test_x=x[test_t],
        test_y=y[test_t],
    )


def _synthetic_split(
    patterns: torch.Tensor, n: int, num_classes: int, gen: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    labels = (torch.arange(n) % num_classes)[torch.randperm(n, generator=gen)]
    noise = torch.randn((n, *patterns.shape[1:]), generator=gen) * 0.3
    images = (patterns[labels] + noise).clamp_(0.0, 1.0)
    return images, labels


def synthetic_bundle(image_size: int, recipe: str, seed: int, n_train: int, n_val: int, k: int) -> DataBundle:
    if k < 2:
        raise FieldError("num_classes", "synthetic data needs at least 2 classes", k)
    for field, n in (("synthetic_train", n_train), ("synthetic_val", n_val)):
        if n < 1:
            raise FieldError(field, "must be at least 1 image", n)
    # Each class is a fixed smooth random colour pattern (4x4 upsampled): learnable, and robust to pad-and-crop.
    coarse = torch.rand((k, 3, 4, 4), generator=seeded_generator(seed, 0))
    patterns = TF.resize(coarse, [image_size, image_size], interpolation=v2.InterpolationMode.BILINEAR, antialias=True)
    train_x, train_y = _synthetic_split(patterns, n_train, k, seeded_generator(seed, 1))
    val_x, val_y = _synthetic_split(patterns, n_val, k, seeded_generator(seed, 2))
    test_x, test_y = _synthetic_split(patterns, n_val, k, seeded_generator(seed, 3))
    return in_memory_bundle(
        name="synthetic",
        description=(
            f"synthetic: {n_train} train / {n_val} val / {n_val} test generated {image_size}x{image_size} RGB images, "
            f"{k} classes (per-class random pattern + Gaussian noise, seed {seed})"
        ),
        num_classes=k,
        image_size=image_size,
        recipe=recipe,
        flip=True,
        train_x=train_x,
        train_y=train_y,
        val_x=val_x,
        val_y=val_y,
        test_x=test_x,
        test_y=test_y,
    )
