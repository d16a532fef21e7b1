"""The data sets torchvision reads or downloads (Fashion-MNIST, from Debian's package when installed; CIFAR;
Imagenette), with one clear error when offline."""

from __future__ import annotations

import gzip
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar
from urllib.error import URLError

import numpy as np
import torch
from torchvision import datasets
from torchvision.transforms.v2 import functional as TF

from inception_bench.data.bundle import DataBundle, TransformedDataset, carve_val
from inception_bench.data.loaders import SizedDataset
from inception_bench.data.transforms import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    normalise_batch,
    train_transform,
    val_transform,
)
from inception_bench.errors import FieldError, one_line

T = TypeVar("T")
DEBIAN_FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")  # Debian's dataset-fashion-mnist package
IN_MEMORY_MAX_SIDE = 64  # cifar is offered as tensors only up to this side (50000 x 3 x 64 x 64 uint8 = 614 MB)


def open_or_download(name: str, root: Path, factory: Callable[[bool], T], hint: str = "") -> T:
    """``factory(download)``: try the local copy (no network, no chatter), then download; failures -> FieldError
    (``hint``: another way to get the data, said in the error)."""
    try:
        return factory(False)
    except (RuntimeError, OSError):
        pass
    try:
        return factory(True)
    except (URLError, OSError, RuntimeError) as exc:
        why = (
            f"not found under {root} and the download failed (offline?) ({one_line(exc)}); download it on a "
            f"machine with internet into the data root{hint}, or use digits"
        )
        raise FieldError("data", why, name) from exc


def streaming_bundle(
    *,
    name: str,
    description: str,
    num_classes: int,
    image_size: int,
    recipe: str,
    base_train: SizedDataset,
    base_val: SizedDataset,
    base_test: SizedDataset | None,
) -> DataBundle:
    def evaluated(base: SizedDataset) -> TransformedDataset:
        return TransformedDataset(base, val_transform(image_size, IMAGENET_MEAN, IMAGENET_STD))

    return DataBundle(
        name=name,
        description=description,
        num_classes=num_classes,
        image_size=image_size,
        mean=IMAGENET_MEAN,
        std=IMAGENET_STD,
        train=TransformedDataset(base_train, train_transform(recipe, image_size, IMAGENET_MEAN, IMAGENET_STD)),
        val=evaluated(base_val),
        val_raw=base_val,
        train_tensors=None,
        val_tensors=None,
        flip=recipe != "none",
        recipe=recipe,
        test=None if base_test is None else evaluated(base_test),
        test_raw=base_test,
    )


def carved(
    name: str,
    base_train: Any,
    labels: Any,
    base_test: Any,
    n_val: int,
    native_side: int,
    image_size: int,
    recipe: str,
    mean: tuple[float, float, float],
    std: tuple[float, float, float],
    tensors: Callable[[Any], tuple[torch.Tensor, torch.Tensor]],
    description: str,
    num_classes: int,
) -> DataBundle:
    """A bundle whose val split is carved from ``base_train`` (:func:`carve_val`) and whose test is ``base_test``;
    as tensors too (``tensors(base)``: uint8 images at ``image_size``, labels) when small enough."""
    from torch.utils.data import Subset

    train_idx, val_idx = carve_val(labels, n_val)
    native = image_size == native_side
    train, val = Subset(base_train, train_idx.tolist()), Subset(base_train, val_idx.tolist())
    train_tensors = val_tensors = test_tensors = None
    if image_size <= IN_MEMORY_MAX_SIDE and recipe != "paper":
        x, y = tensors(base_train)
        train_idx_t, val_idx_t = torch.from_numpy(train_idx), torch.from_numpy(val_idx)
        train_tensors = (x[train_idx_t], y[train_idx_t])
        val_tensors = (normalise_batch(x[val_idx_t], mean, std), y[val_idx_t])
        tx, ty = tensors(base_test)
        test_tensors = (normalise_batch(tx, mean, std), ty)

    def evaluated(base: SizedDataset) -> TransformedDataset:
        return TransformedDataset(base, val_transform(image_size, mean, std, resize=not native))

    return DataBundle(
        name=name,
        description=f"{description}, {len(train)} train / {len(val)} val (carved from train) / {len(base_test)} test"
        + ("" if native else f", resized to {image_size}x{image_size}"),
        num_classes=num_classes,
        image_size=image_size,
        mean=mean,
        std=std,
        train=TransformedDataset(train, train_transform(recipe, image_size, mean, std, resize=not native)),
        val=evaluated(val),
        val_raw=val,
        train_tensors=train_tensors,
        val_tensors=val_tensors,
        flip=recipe != "none",
        recipe=recipe,
        test=evaluated(base_test),
        test_raw=base_test,
        test_tensors=test_tensors,
    )


def cifar_bundle(name: str, root: Path, image_size: int, recipe: str) -> DataBundle:
    cls = datasets.CIFAR10 if name == "cifar10" else datasets.CIFAR100
    base_train = open_or_download(name, root, lambda dl: cls(str(root), train=True, download=dl))
    base_test = open_or_download(name, root, lambda dl: cls(str(root), train=False, download=dl))
    k = len(base_train.classes)

    def tensors(base: Any) -> tuple[torch.Tensor, torch.Tensor]:
        x = torch.from_numpy(np.ascontiguousarray(base.data)).permute(0, 3, 1, 2).contiguous()
        if image_size != 32:
            x = TF.resize(x, [image_size, image_size], antialias=True)
        return x, torch.as_tensor(base.targets, dtype=torch.int64)

    return carved(
        name,
        base_train,
        base_train.targets,
        base_test,
        5000,
        32,
        image_size,
        recipe,
        IMAGENET_MEAN,
        IMAGENET_STD,
        tensors,
        f"{name}: CIFAR-{k} real 32x32 RGB photos, {k} classes",
        k,
    )


def _fashion_mnist_split(root: Path, train: bool) -> datasets.FashionMNIST:
    """torchvision's ``FashionMNIST`` from ``root``. When Debian's package is installed, its files are first unpacked
    into ``root/FashionMNIST/raw`` (once, atomically), where torchvision reads them; otherwise torchvision's own copy
    there, or its download."""
    raw = root / "FashionMNIST" / "raw"
    try:
        for packed in sorted(DEBIAN_FASHION_MNIST.glob("*-ubyte.gz")):
            target = raw / packed.name.removesuffix(".gz")
            if not target.exists():
                raw.mkdir(parents=True, exist_ok=True)
                partial = target.with_name(target.name + ".partial")
                with gzip.open(packed) as src, open(partial, "wb") as dst:
                    shutil.copyfileobj(src, dst)
                partial.replace(target)
    except OSError as e:
        raise FieldError(
            "data_root", f"cannot unpack Fashion-MNIST there ({one_line(e)}); choose a writable one", root
        ) from None
    hint = " (or, on Debian and Ubuntu, apt-get install dataset-fashion-mnist)"
    return open_or_download(
        "fashion-mnist", root, lambda dl: datasets.FashionMNIST(str(root), train=train, download=dl), hint
    )


def fashion_mnist_bundle(root: Path, image_size: int, recipe: str) -> DataBundle:
    base_train, base_test = _fashion_mnist_split(root, True), _fashion_mnist_split(root, False)
    source = "Debian's dataset-fashion-mnist" if any(DEBIAN_FASHION_MNIST.glob("*-ubyte.gz")) else str(root)
    grey = base_train.data.double() / 255
    mean, std = (float(grey.mean()),) * 3, (float(grey.std()),) * 3  # grey shown as RGB: one value per channel

    def tensors(base: Any) -> tuple[torch.Tensor, torch.Tensor]:
        x = base.data[:, None].expand(-1, 3, -1, -1).contiguous()
        if image_size != 28:
            x = TF.resize(x, [image_size, image_size], antialias=True)
        return x, base.targets.to(torch.int64)

    rgb: Callable[[Any], Any] = lambda image: image.convert("RGB")  # noqa: E731
    bundle = carved(
        "fashion-mnist",
        TransformedDataset(base_train, rgb),
        base_train.targets.numpy(),
        TransformedDataset(base_test, rgb),
        5000,
        28,
        image_size,
        recipe,
        mean,
        std,
        lambda base: tensors(base.base),
        f"fashion-mnist: Fashion-MNIST real 28x28 grey photos of clothing as RGB (from {source}), 10 classes",
        10,
    )
    return bundle


def imagenette_bundle(root: Path, image_size: int, recipe: str) -> DataBundle:
    from torch.utils.data import Subset

    base_train = open_or_download(
        "imagenette", root, lambda dl: datasets.Imagenette(str(root), split="train", size="320px", download=dl)
    )
    base_test = open_or_download(
        "imagenette", root, lambda dl: datasets.Imagenette(str(root), split="val", size="320px", download=dl)
    )
    k = len(base_train.classes)
    train_idx, val_idx = carve_val([label for _, label in base_train._samples], len(base_train) // 10)
    train, val = Subset(base_train, train_idx.tolist()), Subset(base_train, val_idx.tolist())
    return streaming_bundle(
        name="imagenette",
        description=(
            f"imagenette: 10-class ImageNet subset, real photos (320 px short side), {len(train)} train / "
            f"{len(val)} val (10% of its train) / {len(base_test)} test (its val), trained at {image_size}x{image_size}"
        ),
        num_classes=k,
        image_size=image_size,
        recipe=recipe,
        base_train=train,
        base_val=val,
        base_test=base_test,
    )
