"""The data sets: each one loaded into a :class:`DataBundle` at the image size the network needs.

* Names: ``digits`` (scikit-learn's 1,797 real 8x8 digits), ``synthetic`` (learnable generated images),
  ``fashion-mnist`` (70,000 real 28x28 grey photos of clothing, shown to the network as RGB; read from Debian's
  ``dataset-fashion-mnist`` package when installed, else torchvision's download), ``cifar10``/``cifar100`` and
  ``imagenette`` (torchvision; downloaded into ``root`` when online, one clear error offline),
  ``imagefolder:PATH`` (``PATH/train/<class>/*``, ``PATH/val/<class>/*``).
* Normalisation statistics: ImageNet's for ``cifar10``, ``cifar100``, ``imagenette`` and ``imagefolder:PATH``; for
  ``digits``, ``synthetic`` and ``fashion-mnist`` the per-channel mean/std of the (un-augmented) training images,
  so the normalised train set has mean ~0 and std ~1.
* Splits: train (what the network learns from), val (what runs are compared and tuned on, carved from the training
  data) and test (held out: scored once at the end of a run, never used to choose). Fixed, whatever the seed:
  ``digits``: stratified 1,167 train / 270 val / 360 test (``train_test_split(..., stratify=y,
  random_state=0)``, test first); ``synthetic``: train, val and test drawn from the same class patterns with
  independent noise (test as large as val); ``fashion-mnist`` and ``cifar*``: a stratified 5,000-image val split
  carved from the official training files (55,000 / 45,000 remain for training; at most a tenth of smaller files),
  the official test files as test; ``imagenette``: a stratified tenth of its train split as val, its official val
  split as test;
  ``imagefolder:PATH``: the folders ``PATH/train``, ``PATH/val`` and, when present, ``PATH/test`` (else no test).
* ``image_size`` is the side in pixels of the square images the network sees (default 32 for digits, synthetic and
  cifar; 224 for imagenette and image folders). Labels are ``int`` class indices ``0 .. num_classes - 1``.
  Digits are never flipped (a mirrored 2 is not a 2): ``DataBundle.flip`` says whether the recipe flips.
* In-memory sets (digits, synthetic, cifar at <= 64 px with the plain/none recipe) also come as tensors
  (``train_tensors``: un-augmented, un-normalised, uint8 or float in ``[0, 1]``; ``val_tensors`` and
  ``test_tensors``: normalised float)
  for :class:`~inception_bench.data.loaders.DeviceLoader`, which keeps them on the GPU and augments there.

Errors name the setting they come from (``data``, ``image_size``, ``recipe``) or the unreadable file.
"""

from __future__ import annotations

import gzip
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.error import URLError

import numpy as np
import torch
from torch.utils.data import Dataset
from torchvision import datasets
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as TF

from inception_bench.data.loaders import SizedDataset, seeded_generator
from inception_bench.data.transforms import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    channel_stats,
    normalise_batch,
    normalize,
    resolve_recipe,
    train_transform,
    val_transform,
)
from inception_bench.errors import FieldError, IbenchError

T = TypeVar("T")
DATA_NAMES = "digits, synthetic, fashion-mnist, cifar10, cifar100, imagenette, imagefolder:PATH"
DEBIAN_FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")  # Debian's dataset-fashion-mnist package
IN_MEMORY_MAX_SIDE = 64  # cifar is offered as tensors only up to this side (50000 x 3 x 64 x 64 uint8 = 614 MB)


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


def _in_memory_bundle(
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


def _load_digits(image_size: int, recipe: str) -> DataBundle:
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
    return _in_memory_bundle(
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


def _load_synthetic(image_size: int, recipe: str, seed: int, n_train: int, n_val: int, k: int) -> DataBundle:
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
    return _in_memory_bundle(
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


# ----------------------------------------------------------------------------------------------------------------
# Downloadable / on-disk data sets


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".rstrip(": ")


def _open_or_download(name: str, root: Path, factory: Callable[[bool], T], hint: str = "") -> T:
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
            f"not found under {root} and the download failed (offline?) ({_one_line(exc)}); download it on a "
            f"machine with internet into the data root{hint}, or use digits"
        )
        raise FieldError("data", why, name) from exc


def _streaming_bundle(
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


def _carved(
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


def _load_cifar(name: str, root: Path, image_size: int, recipe: str) -> DataBundle:
    cls = datasets.CIFAR10 if name == "cifar10" else datasets.CIFAR100
    base_train = _open_or_download(name, root, lambda dl: cls(str(root), train=True, download=dl))
    base_test = _open_or_download(name, root, lambda dl: cls(str(root), train=False, download=dl))
    k = len(base_train.classes)

    def tensors(base: Any) -> tuple[torch.Tensor, torch.Tensor]:
        x = torch.from_numpy(np.ascontiguousarray(base.data)).permute(0, 3, 1, 2).contiguous()
        if image_size != 32:
            x = TF.resize(x, [image_size, image_size], antialias=True)
        return x, torch.as_tensor(base.targets, dtype=torch.int64)

    return _carved(
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
            "data_root", f"cannot unpack Fashion-MNIST there ({_one_line(e)}); choose a writable one", root
        ) from None
    hint = " (or, on Debian and Ubuntu, apt-get install dataset-fashion-mnist)"
    return _open_or_download(
        "fashion-mnist", root, lambda dl: datasets.FashionMNIST(str(root), train=train, download=dl), hint
    )


def _load_fashion_mnist(root: Path, image_size: int, recipe: str) -> DataBundle:
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
    bundle = _carved(
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


def _load_imagenette(root: Path, image_size: int, recipe: str) -> DataBundle:
    from torch.utils.data import Subset

    base_train = _open_or_download(
        "imagenette", root, lambda dl: datasets.Imagenette(str(root), split="train", size="320px", download=dl)
    )
    base_test = _open_or_download(
        "imagenette", root, lambda dl: datasets.Imagenette(str(root), split="val", size="320px", download=dl)
    )
    k = len(base_train.classes)
    train_idx, val_idx = carve_val([label for _, label in base_train._samples], len(base_train) // 10)
    train, val = Subset(base_train, train_idx.tolist()), Subset(base_train, val_idx.tolist())
    return _streaming_bundle(
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


def _load_image(path: str) -> Any:
    """torchvision's default image loader, with a one-line error naming an unreadable file."""
    try:
        return datasets.folder.default_loader(path)
    except OSError as exc:  # PIL.UnidentifiedImageError is an OSError
        raise IbenchError(f"{path}: unreadable image ({_one_line(exc)}); remove or replace the file") from None


def _image_folder(spec: str, path: Path, split: str) -> datasets.ImageFolder:
    folder = path / split
    layout = f"expected {path}/train/<class>/*.jpg and {path}/val/<class>/*.jpg"
    if not folder.is_dir():
        raise FieldError("data", f"{folder} is not a directory; {layout}", spec)
    try:
        return datasets.ImageFolder(str(folder), loader=_load_image)
    except (FileNotFoundError, OSError) as exc:
        raise FieldError(
            "data", f"no class folders with images in {folder} ({_one_line(exc)}); {layout}", spec
        ) from exc


def _load_image_folder(spec: str, path_text: str, image_size: int, recipe: str) -> DataBundle:
    if not path_text:
        raise FieldError("data", "missing path; use imagefolder:PATH with PATH/train/<class>/*.jpg", spec)
    path = Path(path_text).expanduser()
    if not path.is_dir():
        why = f"{path} is not a directory; expected {path}/train/<class>/*.jpg and {path}/val/<class>/*.jpg"
        raise FieldError("data", why, spec)
    base_train = _image_folder(spec, path, "train")
    base_val = _image_folder(spec, path, "val")
    if base_train.classes != base_val.classes:
        only_train = sorted(set(base_train.classes) - set(base_val.classes))
        only_val = sorted(set(base_val.classes) - set(base_train.classes))
        why = (
            f"class folders of {path}/train and {path}/val differ (only in train: {only_train}, only in val: "
            f"{only_val}); give both splits the same <class> folders"
        )
        raise FieldError("data", why, spec)
    base_test = _image_folder(spec, path, "test") if (path / "test").is_dir() else None
    if base_test is not None and base_test.classes != base_train.classes:
        why = f"class folders of {path}/test differ from {path}/train's; give every split the same <class> folders"
        raise FieldError("data", why, spec)
    k = len(base_train.classes)
    test = f" / {len(base_test)} test" if base_test is not None else " (no test/ folder: no test split)"
    return _streaming_bundle(
        name=f"imagefolder:{path}",
        description=(
            f"imagefolder {path}: {k} classes, {len(base_train)} train / {len(base_val)} val{test} images, "
            f"trained at {image_size}x{image_size}"
        ),
        num_classes=k,
        image_size=image_size,
        recipe=recipe,
        base_train=base_train,
        base_val=base_val,
        base_test=base_test,
    )


def load_data(
    name: str,
    *,
    root: str | Path = "data",
    image_size: int | None = None,
    recipe: str = "auto",
    seed: int = 0,
    synthetic_train: int = 512,
    synthetic_val: int = 128,
    num_classes: int = 10,
) -> DataBundle:
    """Load the data set ``name`` (``digits``, ``synthetic``, ``fashion-mnist``, ``cifar10``, ``cifar100``,
    ``imagenette``, ``imagefolder:PATH``). ``seed`` and ``num_classes`` only affect ``synthetic`` (the digits split is
    fixed; the other sets have their own classes)."""
    text = name.strip()
    key = text.lower()
    is_folder = key.startswith("imagefolder:")
    small = key in ("digits", "synthetic", "fashion-mnist", "cifar10", "cifar100")
    if not (small or is_folder or key == "imagenette"):
        raise FieldError("data", f"unknown data set; use one of {DATA_NAMES}", name)
    size = image_size if image_size is not None else (32 if small else 224)
    if size < 1:
        raise FieldError("image_size", "must be a positive number of pixels (e.g. 32 or 224)", size)
    resolved = resolve_recipe(recipe, size)
    data_root = Path(root).expanduser()
    if key == "digits":
        return _load_digits(size, resolved)
    if key == "synthetic":
        return _load_synthetic(size, resolved, seed, synthetic_train, synthetic_val, num_classes)
    if key == "fashion-mnist":
        return _load_fashion_mnist(data_root, size, resolved)
    if key in ("cifar10", "cifar100"):
        return _load_cifar(key, data_root, size, resolved)
    if key == "imagenette":
        return _load_imagenette(data_root, size, resolved)
    return _load_image_folder(text, text.split(":", 1)[1].strip(), size, resolved)
