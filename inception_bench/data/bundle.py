"""A loaded data set (:class:`DataBundle`: its splits, statistics and, for in-memory sets, tensors), the datasets
it is made of, and the stratified validation split carved from training data. Conventions:
:mod:`inception_bench.data.datasets`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset
from torchvision.transforms import v2

from inception_bench.data.loaders import SizedDataset
from inception_bench.data.transforms import (
    channel_stats,
    normalise_batch,
    normalize,
    train_transform,
)
from inception_bench.errors import FieldError


@dataclass
class DataBundle:
    """Everything a trainer/evaluator needs about one data set (see the module docstring for conventions)."""

    name: str
    description: str
    num_classes: int
    image_size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    train: SizedDataset
    val: SizedDataset
    val_raw: SizedDataset | None
    train_tensors: tuple[torch.Tensor, torch.Tensor] | None
    val_tensors: tuple[torch.Tensor, torch.Tensor] | None
    flip: bool = True
    recipe: str = "plain"
    test: SizedDataset | None = None  # None: the data set has no test split (an image folder without test/)
    test_raw: SizedDataset | None = None
    test_tensors: tuple[torch.Tensor, torch.Tensor] | None = None

    def split(self, name: str) -> tuple[SizedDataset, SizedDataset | None, tuple[torch.Tensor, torch.Tensor] | None]:
        """(transformed, raw, tensors) of the ``val`` or ``test`` split."""
        if name == "val":
            return self.val, self.val_raw, self.val_tensors
        if self.test is None:
            raise FieldError("split", f"{self.name} has no test split (an image folder needs PATH/test/)", name)
        return self.test, self.test_raw, self.test_tensors


def carve_val(labels: Any, n_val: int) -> tuple[np.ndarray, np.ndarray]:
    """(train, val) indices: a stratified ``n_val`` of ``labels`` (at most a tenth of them), fixed (random_state 0);
    not stratified when too few images per class allow it (tiny test fixtures)."""
    from sklearn.model_selection import train_test_split

    labels = np.asarray(labels)
    n = min(n_val, max(1, len(labels) // 10))
    counts = np.unique(labels, return_counts=True)[1]
    stratify = labels if n >= len(counts) and counts.min() >= 2 else None
    train, val = train_test_split(np.arange(len(labels)), test_size=n, stratify=stratify, random_state=0)
    return np.sort(train), np.sort(val)


class TensorImageDataset(Dataset):
    """``(images[i], labels[i])`` with an optional per-item transform; images are ``N x C x H x W`` tensors."""

    def __init__(
        self, images: torch.Tensor, labels: torch.Tensor, transform: Callable[[torch.Tensor], Any] | None = None
    ) -> None:
        if len(images) != len(labels):
            raise ValueError(f"{len(images)} images but {len(labels)} labels")
        self.images = images
        self.labels = labels
        self.transform = transform

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> tuple[Any, int]:
        image = self.images[index]
        if self.transform is not None:
            image = self.transform(image)
        return image, int(self.labels[index])


class TransformedDataset(Dataset):
    """Applies ``transform`` to the image of each ``(image, label)`` item of ``base`` (shares one scanned base)."""

    def __init__(self, base: SizedDataset, transform: Callable[[Any], Any] | None) -> None:
        self.base = base
        self.transform = transform

    def __len__(self) -> int:
        return len(self.base)

    def __getitem__(self, index: int) -> tuple[Any, int]:
        image, label = self.base[index]
        if self.transform is not None:
            image = self.transform(image)
        return image, int(label)


def in_memory_bundle(
    *,
    name: str,
    description: str,
    num_classes: int,
    image_size: int,
    recipe: str,
    flip: bool,
    train_x: torch.Tensor,
    train_y: torch.Tensor,
    val_x: torch.Tensor,
    val_y: torch.Tensor,
    test_x: torch.Tensor,
    test_y: torch.Tensor,
) -> DataBundle:
    """Bundle float ``[0, 1]`` images already at ``image_size``, normalised with the train set's statistics."""
    mean, std = channel_stats(train_x)
    val_norm = normalise_batch(val_x, mean, std)
    test_norm = normalise_batch(test_x, mean, std)
    if recipe == "paper":
        train = TensorImageDataset(
            train_x, train_y, train_transform("paper", image_size, mean, std, flip=flip, pil=False)
        )
        train_tensors = None  # DeviceLoader only implements the plain recipe: stream through the Dataset instead
    elif recipe == "plain":
        pad = image_size // 8
        steps: list[Callable[[Any], Any]] = [v2.RandomCrop(image_size, padding=pad)]
        if flip:
            steps.append(v2.RandomHorizontalFlip())
        train = TensorImageDataset(train_x, train_y, v2.Compose(steps + [normalize(mean, std)]))
        train_tensors = (train_x, train_y)
    else:
        train = TensorImageDataset(normalise_batch(train_x, mean, std), train_y)
        train_tensors = (train_x, train_y)
    return DataBundle(
        name=name,
        description=description,
        num_classes=num_classes,
        image_size=image_size,
        mean=mean,
        std=std,
        train=train,
        val=TensorImageDataset(val_norm, val_y),
        val_raw=TensorImageDataset(val_x, val_y),  # float 0..1 at image_size: 1 crop = the val transform
        train_tensors=train_tensors,
        val_tensors=(val_norm, val_y),
        flip=flip,
        recipe=recipe,
        test=TensorImageDataset(test_norm, test_y),
        test_raw=TensorImageDataset(test_x, test_y),
        test_tensors=(test_norm, test_y),
    )
