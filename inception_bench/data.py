"""Data sets, augmentation recipes and loaders for training and evaluating the GoogLeNet variants.

Conventions
-----------
* Images are float32 ``C x H x W`` tensors with ``C = 3``; pixel values are scaled to ``[0, 1]`` and then normalised
  per channel as ``(x - mean) / std``. ``DataBundle.mean``/``std`` are in those ``[0, 1]`` units.
* Normalisation statistics: ImageNet's ``(0.485, 0.456, 0.406) / (0.229, 0.224, 0.225)`` for ``cifar10``,
  ``cifar100``, ``imagenette`` and ``imagefolder:PATH``; for ``digits`` and ``synthetic`` the per-channel mean/std
  of the (resized, un-augmented) training images, so the normalised train set has mean ~0 and std ~1.
* Splits: ``digits`` uses a fixed stratified 80/20 split (``train_test_split(..., stratify=y, random_state=0)``:
  1437 train / 360 val) that does not depend on ``seed``; ``synthetic`` draws train and val from the same class
  patterns with independent noise; ``cifar*`` use the official train/test files (test = val); ``imagenette`` its
  train/val splits; ``imagefolder:PATH`` the folders ``PATH/train`` and ``PATH/val``.
* ``image_size`` is the side in pixels of the square images the network sees (default 32 for digits, synthetic and
  cifar; 224 for imagenette and image folders). Labels are ``int`` class indices ``0 .. num_classes - 1``.
* Augmentation recipes: ``paper`` (GoogLeNet: RandomResizedCrop scale 0.08-1, aspect 3/4-4/3, interpolation picked
  at random per image, colour jitter 0.4, horizontal flip), ``plain`` (zero-pad by ``image_size // 8`` and random
  crop back, plus horizontal flip), ``none``; ``auto`` picks ``plain`` for ``image_size <= 64``, else ``paper``.
  Digits are never flipped (a mirrored 2 is not a 2): ``DataBundle.flip`` says whether the recipe flips.
* Val transform: ``Resize(int(image_size * 256 / 224))`` + ``CenterCrop(image_size)`` for ``image_size > 64``,
  a plain resize to ``image_size x image_size`` otherwise.
* In-memory sets (digits, synthetic, cifar at <= 64 px with the plain/none recipe) also come as tensors
  (``train_tensors``: un-augmented, un-normalised, uint8 or float in ``[0, 1]``; ``val_tensors``: normalised float)
  for :class:`DeviceLoader`, which keeps them on the GPU and augments there.
* Reproducibility: shuffling and augmentation of epoch ``e`` are a deterministic function of ``(seed, e)`` both for
  :class:`DeviceLoader` and for loaders from :func:`make_loader` (per-sample seeding, independent of the number of
  workers); call ``set_epoch(e)`` before iterating when resuming.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.error import URLError

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler
from torchvision import datasets
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as TF

from inception_bench.errors import IbenchError

IMAGENET_MEAN: tuple[float, float, float] = (0.485, 0.456, 0.406)
IMAGENET_STD: tuple[float, float, float] = (0.229, 0.224, 0.225)
RECIPES = ("auto", "paper", "plain", "none")
DATA_NAMES = "digits, synthetic, cifar10, cifar100, imagenette, imagefolder:PATH"
SMALL_IMAGE_MAX = 64  # images up to this side count as "small": plain recipe, resize-only val transform
IN_MEMORY_MAX_SIDE = 64  # cifar is offered as tensors only up to this side (50000 x 3 x 64 x 64 uint8 = 614 MB)

_SEED_MASK = 2**63 - 1


@dataclass
class DataBundle:
    """Everything a trainer/evaluator needs about one data set (see the module docstring for conventions)."""

    name: str
    description: str
    num_classes: int
    image_size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    train: Dataset
    val: Dataset
    val_raw: Dataset | None
    train_tensors: tuple[torch.Tensor, torch.Tensor] | None
    val_tensors: tuple[torch.Tensor, torch.Tensor] | None
    flip: bool = True
    recipe: str = "plain"


# ----------------------------------------------------------------------------------------------------------------
# Seeding helpers


def _derive_seed(*parts: int) -> int:
    """A 63-bit seed that is a deterministic function of ``parts`` (well mixed, no collisions in practice)."""
    words = np.random.SeedSequence([int(p) & 0xFFFFFFFFFFFFFFFF for p in parts]).generate_state(2, dtype=np.uint32)
    return ((int(words[0]) << 32) | int(words[1])) & _SEED_MASK


def _generator(*parts: int) -> torch.Generator:
    return torch.Generator().manual_seed(_derive_seed(*parts))


def _seed_worker(worker_id: int) -> None:
    """``worker_init_fn``: seed Python's and NumPy's RNGs from the worker's torch seed (set by the DataLoader)."""
    seed = torch.initial_seed() % 2**32
    np.random.seed(seed)
    random.seed(seed)


# ----------------------------------------------------------------------------------------------------------------
# Datasets and transforms


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

    def __init__(self, base: Dataset, transform: Callable[[Any], Any] | None) -> None:
        self.base = base
        self.transform = transform

    def __len__(self) -> int:
        return len(self.base)  # type: ignore[arg-type]

    def __getitem__(self, index: int) -> tuple[Any, int]:
        image, label = self.base[index]
        if self.transform is not None:
            image = self.transform(image)
        return image, int(label)


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


def _to_float() -> list[Callable[[Any], Any]]:
    return [v2.ToImage(), v2.ToDtype(torch.float32, scale=True)]


def _normalize(mean: Sequence[float], std: Sequence[float]) -> v2.Compose:
    """Normalise and hand back a plain ``torch.Tensor`` (not a ``tv_tensors.Image``)."""
    return v2.Compose([v2.Normalize(list(mean), list(std)), v2.ToPureTensor()])


def _resize_transforms(image_size: int) -> list[Callable[[Any], Any]]:
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
        steps += _to_float()
    elif recipe == "plain":
        if resize:
            steps.append(v2.Resize((image_size, image_size), antialias=True))
        steps.append(v2.RandomCrop(image_size, padding=image_size // 8))
        if flip:
            steps.append(v2.RandomHorizontalFlip())
        steps += _to_float()
    elif recipe == "none":
        if resize:
            steps += _resize_transforms(image_size)
        steps += _to_float()
    else:
        raise ValueError(f"unknown recipe {recipe!r}")
    steps.append(_normalize(mean, std))
    return v2.Compose(steps)


def val_transform(image_size: int, mean: Sequence[float], std: Sequence[float], *, resize: bool = True) -> v2.Compose:
    """Resize (+ center crop for images > 64 px), scale to [0, 1], normalise."""
    steps = (_resize_transforms(image_size) if resize else []) + _to_float() + [_normalize(mean, std)]
    return v2.Compose(steps)


def _resolve_recipe(recipe: str, image_size: int) -> str:
    if recipe not in RECIPES:
        raise IbenchError(f"--recipe {recipe}: unknown augmentation recipe; use one of {', '.join(RECIPES)}")
    if recipe == "auto":
        return "plain" if image_size <= SMALL_IMAGE_MAX else "paper"
    return recipe


def _channel_stats(images: torch.Tensor) -> tuple[tuple[float, float, float], tuple[float, float, float]]:
    x = images.double()
    mean = x.mean(dim=(0, 2, 3))
    std = x.std(dim=(0, 2, 3)).clamp_min(1e-6)
    return (
        (float(mean[0]), float(mean[1]), float(mean[2])),
        (float(std[0]), float(std[1]), float(std[2])),
    )


def _normalise_batch(images: torch.Tensor, mean: Sequence[float], std: Sequence[float]) -> torch.Tensor:
    x = images.float() / 255.0 if images.dtype == torch.uint8 else images.float()
    m = torch.tensor(mean, dtype=x.dtype, device=x.device).view(1, -1, 1, 1)
    s = torch.tensor(std, dtype=x.dtype, device=x.device).view(1, -1, 1, 1)
    return (x - m) / s


# ----------------------------------------------------------------------------------------------------------------
# In-memory data sets


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
) -> DataBundle:
    """Bundle float ``[0, 1]`` images already at ``image_size``, normalised with the train set's statistics."""
    mean, std = _channel_stats(train_x)
    val_norm = _normalise_batch(val_x, mean, std)
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
        train = TensorImageDataset(train_x, train_y, v2.Compose(steps + [_normalize(mean, std)]))
        train_tensors = (train_x, train_y)
    else:
        train = TensorImageDataset(_normalise_batch(train_x, mean, std), train_y)
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
    )


def _load_digits(image_size: int, recipe: str) -> DataBundle:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x = torch.from_numpy(digits.data.astype(np.float32)).view(-1, 1, 8, 8) / 16.0
    y = torch.from_numpy(digits.target.astype(np.int64))
    idx = np.arange(len(y))
    train_idx, val_idx = train_test_split(idx, test_size=0.2, stratify=digits.target, random_state=0)
    x = TF.resize(x, [image_size, image_size], interpolation=v2.InterpolationMode.BILINEAR, antialias=True)
    x = x.clamp(0.0, 1.0).expand(-1, 3, -1, -1).contiguous()
    train_idx_t, val_idx_t = torch.from_numpy(train_idx), torch.from_numpy(val_idx)
    return _in_memory_bundle(
        name="digits",
        description=(
            f"digits: scikit-learn's 1797 real 8x8 greyscale handwritten digits, 10 classes, fixed stratified split "
            f"{len(train_idx)} train / {len(val_idx)} val, upsampled to {image_size}x{image_size}"
        ),
        num_classes=10,
        image_size=image_size,
        recipe=recipe,
        flip=False,
        train_x=x[train_idx_t],
        train_y=y[train_idx_t],
        val_x=x[val_idx_t],
        val_y=y[val_idx_t],
    )


def _synthetic_split(
    patterns: torch.Tensor, n: int, num_classes: int, gen: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    labels = (torch.arange(n) % num_classes)[torch.randperm(n, generator=gen)]
    noise = torch.randn((n, *patterns.shape[1:]), generator=gen) * 0.3
    images = (patterns[labels] + noise).clamp_(0.0, 1.0)
    return images, labels


def _load_synthetic(
    image_size: int, recipe: str, seed: int, n_train: int, n_val: int, num_classes: int | None
) -> DataBundle:
    k = 10 if num_classes is None else num_classes
    if k < 2:
        raise IbenchError(f"--num-classes {k}: synthetic data needs at least 2 classes")
    if n_train < 1 or n_val < 1:
        raise IbenchError(
            f"--synthetic-train {n_train} / --synthetic-val {n_val}: both must be at least 1 image; pass positive sizes"
        )
    # Each class is a fixed smooth random colour pattern (4x4 upsampled): learnable, and robust to pad-and-crop.
    coarse = torch.rand((k, 3, 4, 4), generator=_generator(seed, 0))
    patterns = TF.resize(coarse, [image_size, image_size], interpolation=v2.InterpolationMode.BILINEAR, antialias=True)
    train_x, train_y = _synthetic_split(patterns, n_train, k, _generator(seed, 1))
    val_x, val_y = _synthetic_split(patterns, n_val, k, _generator(seed, 2))
    return _in_memory_bundle(
        name="synthetic",
        description=(
            f"synthetic: {n_train} train / {n_val} val generated {image_size}x{image_size} RGB images, {k} classes "
            f"(per-class random pattern + Gaussian noise, seed {seed})"
        ),
        num_classes=k,
        image_size=image_size,
        recipe=recipe,
        flip=True,
        train_x=train_x,
        train_y=train_y,
        val_x=val_x,
        val_y=val_y,
    )


# ----------------------------------------------------------------------------------------------------------------
# Downloadable / on-disk data sets


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".rstrip(": ")


def _open_or_download(name: str, root: Path, factory: Callable[[bool], Dataset]) -> Dataset:
    """``factory(download)``: try the local copy (no network, no chatter), then download; failures -> IbenchError."""
    try:
        return factory(False)
    except (RuntimeError, OSError):
        pass
    try:
        return factory(True)
    except (URLError, OSError, RuntimeError) as exc:
        raise IbenchError(
            f"--data {name}: not found under {root} and the download failed (offline?) ({_one_line(exc)}); "
            f"download it on a machine with internet into --data-root, or use --data digits"
        ) from exc


def _check_num_classes(name: str, actual: int, requested: int | None) -> None:
    if requested is not None and requested != actual:
        raise IbenchError(f"--num-classes {requested}: {name} has {actual} classes; drop --num-classes for it")


def _streaming_bundle(
    *,
    name: str,
    description: str,
    num_classes: int,
    image_size: int,
    recipe: str,
    base_train: Dataset,
    base_val: Dataset,
) -> DataBundle:
    return DataBundle(
        name=name,
        description=description,
        num_classes=num_classes,
        image_size=image_size,
        mean=IMAGENET_MEAN,
        std=IMAGENET_STD,
        train=TransformedDataset(base_train, train_transform(recipe, image_size, IMAGENET_MEAN, IMAGENET_STD)),
        val=TransformedDataset(base_val, val_transform(image_size, IMAGENET_MEAN, IMAGENET_STD)),
        val_raw=base_val,
        train_tensors=None,
        val_tensors=None,
        flip=recipe != "none",
        recipe=recipe,
    )


def _load_cifar(name: str, root: Path, image_size: int, recipe: str, num_classes: int | None) -> DataBundle:
    cls = datasets.CIFAR10 if name == "cifar10" else datasets.CIFAR100
    base_train = _open_or_download(name, root, lambda dl: cls(str(root), train=True, download=dl))
    base_val = _open_or_download(name, root, lambda dl: cls(str(root), train=False, download=dl))
    k = len(base_train.classes)  # type: ignore[attr-defined]
    _check_num_classes(name, k, num_classes)
    native = image_size == 32
    description = (
        f"{name}: CIFAR-{k} real 32x32 RGB photos, {k} classes, {len(base_train)} train / {len(base_val)} test (as val)"
        + ("" if native else f", resized to {image_size}x{image_size}")
    )
    train = TransformedDataset(
        base_train, train_transform(recipe, image_size, IMAGENET_MEAN, IMAGENET_STD, resize=not native)
    )
    val = TransformedDataset(base_val, val_transform(image_size, IMAGENET_MEAN, IMAGENET_STD, resize=not native))
    train_tensors = val_tensors = None
    if image_size <= IN_MEMORY_MAX_SIDE and recipe != "paper":

        def tensors(base: Any) -> tuple[torch.Tensor, torch.Tensor]:
            x = torch.from_numpy(np.ascontiguousarray(base.data)).permute(0, 3, 1, 2).contiguous()
            if not native:
                x = TF.resize(x, [image_size, image_size], antialias=True)
            return x, torch.as_tensor(base.targets, dtype=torch.int64)

        train_tensors = tensors(base_train)
        vx, vy = tensors(base_val)
        val_tensors = (_normalise_batch(vx, IMAGENET_MEAN, IMAGENET_STD), vy)
    return DataBundle(
        name=name,
        description=description,
        num_classes=k,
        image_size=image_size,
        mean=IMAGENET_MEAN,
        std=IMAGENET_STD,
        train=train,
        val=val,
        val_raw=base_val,
        train_tensors=train_tensors,
        val_tensors=val_tensors,
        flip=recipe != "none",
        recipe=recipe,
    )


def _load_imagenette(root: Path, image_size: int, recipe: str, num_classes: int | None) -> DataBundle:
    base_train = _open_or_download(
        "imagenette", root, lambda dl: datasets.Imagenette(str(root), split="train", size="320px", download=dl)
    )
    base_val = _open_or_download(
        "imagenette", root, lambda dl: datasets.Imagenette(str(root), split="val", size="320px", download=dl)
    )
    k = len(base_train.classes)  # type: ignore[attr-defined]
    _check_num_classes("imagenette", k, num_classes)
    return _streaming_bundle(
        name="imagenette",
        description=(
            f"imagenette: 10-class ImageNet subset, real photos (320 px short side), {len(base_train)} train / "
            f"{len(base_val)} val, trained at {image_size}x{image_size}"
        ),
        num_classes=k,
        image_size=image_size,
        recipe=recipe,
        base_train=base_train,
        base_val=base_val,
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
        raise IbenchError(f"--data {spec}: {folder} is not a directory; {layout}")
    try:
        return datasets.ImageFolder(str(folder), loader=_load_image)
    except (FileNotFoundError, OSError) as exc:
        raise IbenchError(
            f"--data {spec}: no class folders with images in {folder} ({_one_line(exc)}); {layout}"
        ) from exc


def _load_image_folder(spec: str, path_text: str, image_size: int, recipe: str, num_classes: int | None) -> DataBundle:
    if not path_text:
        raise IbenchError(f"--data {spec}: missing path; use imagefolder:PATH with PATH/train/<class>/*.jpg")
    path = Path(path_text).expanduser()
    if not path.is_dir():
        raise IbenchError(
            f"--data {spec}: {path} is not a directory; "
            f"expected {path}/train/<class>/*.jpg and {path}/val/<class>/*.jpg"
        )
    base_train = _image_folder(spec, path, "train")
    base_val = _image_folder(spec, path, "val")
    if base_train.classes != base_val.classes:
        only_train = sorted(set(base_train.classes) - set(base_val.classes))
        only_val = sorted(set(base_val.classes) - set(base_train.classes))
        raise IbenchError(
            f"--data {spec}: class folders of {path}/train and {path}/val differ (only in train: {only_train}, "
            f"only in val: {only_val}); give both splits the same <class> folders"
        )
    k = len(base_train.classes)
    _check_num_classes(spec, k, num_classes)
    return _streaming_bundle(
        name=f"imagefolder:{path}",
        description=(
            f"imagefolder {path}: {k} classes, {len(base_train)} train / {len(base_val)} val images, "
            f"trained at {image_size}x{image_size}"
        ),
        num_classes=k,
        image_size=image_size,
        recipe=recipe,
        base_train=base_train,
        base_val=base_val,
    )


# ----------------------------------------------------------------------------------------------------------------
# Public entry points


def load_data(
    spec: str,
    *,
    root: str | Path = "data",
    image_size: int | None = None,
    recipe: str = "auto",
    seed: int = 0,
    synthetic_train: int = 512,
    synthetic_val: int = 128,
    num_classes: int | None = None,
) -> DataBundle:
    """Load the data set named by ``spec`` (``digits``, ``synthetic``, ``cifar10``, ``cifar100``, ``imagenette``,
    ``imagefolder:PATH``). ``seed`` only affects ``synthetic`` (the digits split is fixed)."""
    text = spec.strip()
    name = text.lower()
    is_folder = name.startswith("imagefolder:")
    small = name in ("digits", "synthetic", "cifar10", "cifar100")
    if not (small or is_folder or name == "imagenette"):
        raise IbenchError(f"--data {spec}: unknown data set; use one of {DATA_NAMES}")
    size = image_size if image_size is not None else (32 if small else 224)
    if size < 1:
        raise IbenchError(f"--image-size {size}: must be a positive number of pixels (e.g. 32 or 224)")
    resolved = _resolve_recipe(recipe, size)
    data_root = Path(root).expanduser()
    if name == "digits":
        _check_num_classes("digits", 10, num_classes)
        return _load_digits(size, resolved)
    if name == "synthetic":
        return _load_synthetic(size, resolved, seed, synthetic_train, synthetic_val, num_classes)
    if name in ("cifar10", "cifar100"):
        return _load_cifar(name, data_root, size, resolved, num_classes)
    if name == "imagenette":
        return _load_imagenette(data_root, size, resolved, num_classes)
    return _load_image_folder(text, text.split(":", 1)[1].strip(), size, resolved, num_classes)


class _EpochSampler(Sampler[tuple[int, int, int]]):
    """Yields ``(index, seed, epoch)``; the order of epoch ``e`` depends only on ``(seed, e)``.

    The epoch advances by one after each pass unless :meth:`set_epoch` is called.
    """

    def __init__(self, size: int, *, shuffle: bool, seed: int) -> None:
        self.size = size
        self.shuffle = shuffle
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return self.size

    def __iter__(self) -> Iterator[tuple[int, int, int]]:
        epoch = self.epoch
        self.epoch += 1
        if self.shuffle:
            order = torch.randperm(self.size, generator=_generator(self.seed, epoch, 0)).tolist()
        else:
            order = list(range(self.size))
        for index in order:
            yield index, self.seed, epoch


class _PerSampleSeeded(Dataset):
    """Runs ``dataset[index]`` with torch/random/numpy seeded from ``(seed, epoch, index)``, restoring the RNGs after.

    Makes random augmentation reproducible per (seed, epoch) whatever the number or persistence of workers.
    """

    def __init__(self, dataset: Dataset) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)  # type: ignore[arg-type]

    def __getitem__(self, key: tuple[int, int, int]) -> Any:
        index, seed, epoch = key
        sample_seed = _derive_seed(seed, epoch, index, 1)
        # Only the CPU generators are touched (torch.manual_seed would also reseed CUDA's, which the trainer uses).
        torch_state, py_state, np_state = torch.get_rng_state(), random.getstate(), np.random.get_state()
        torch.default_generator.manual_seed(sample_seed)
        random.seed(sample_seed)
        np.random.seed(sample_seed % 2**32)
        try:
            return self.dataset[index]
        finally:
            torch.set_rng_state(torch_state)
            random.setstate(py_state)
            np.random.set_state(np_state)


class EpochDataLoader(DataLoader):
    """A DataLoader with :meth:`set_epoch` (order and augmentation of epoch ``e`` depend only on ``(seed, e)``)."""

    def set_epoch(self, epoch: int) -> None:
        self.sampler.set_epoch(epoch)  # type: ignore[attr-defined]

    @property
    def dataset_size(self) -> int:
        return len(self.dataset)  # type: ignore[arg-type]


def make_loader(
    dataset: Dataset,
    *,
    batch_size: int,
    shuffle: bool,
    seed: int,
    workers: int,
    device: str,
    drop_last: bool = False,
) -> EpochDataLoader:
    """A DataLoader over ``dataset`` (pinned memory for CUDA, persistent seeded workers when ``workers > 0``).

    Shuffle order and per-sample augmentation randomness of epoch ``e`` are functions of ``(seed, e)`` only; the
    epoch advances after each pass, call ``loader.set_epoch(e)`` when resuming.
    """
    if batch_size < 1:
        raise IbenchError(f"--batch-size {batch_size}: must be at least 1")
    if workers < 0:
        raise IbenchError(f"--workers {workers}: must be 0 (load in the main process) or more")
    sampler = _EpochSampler(len(dataset), shuffle=shuffle, seed=seed)  # type: ignore[arg-type]
    return EpochDataLoader(
        _PerSampleSeeded(dataset),
        batch_size=batch_size,
        sampler=sampler,
        num_workers=workers,
        pin_memory=str(device).startswith("cuda"),
        persistent_workers=workers > 0,
        generator=torch.Generator().manual_seed(seed),
        worker_init_fn=_seed_worker,
        drop_last=drop_last,
    )


class DeviceLoader:
    """Batches of an in-memory data set kept on ``device``, shuffled and augmented there with tensor ops.

    ``images``: ``N x C x H x W`` uint8 (0..255) or float (0..1, or already normalised with ``mean=std=None``).
    Augmentation (``augment=True``): zero-pad by ``H // 8`` and random crop back to ``H x W``, plus a horizontal flip
    with probability 1/2 if ``flip``; then ``(x - mean) / std`` (skipped when ``mean``/``std`` are None, e.g. for
    ``DataBundle.val_tensors`` which are already normalised). The permutation, crop offsets and flips of epoch ``e``
    are drawn on the CPU from a generator seeded with ``(seed, e)``, so they are identical on every device and after
    resuming. The epoch advances after each pass unless :meth:`set_epoch` is called. Yields ``(images, labels)``
    on ``device`` (float32, int64).
    """

    def __init__(
        self,
        images: torch.Tensor,
        labels: torch.Tensor,
        *,
        batch_size: int,
        shuffle: bool,
        augment: bool,
        mean: Sequence[float] | None,
        std: Sequence[float] | None,
        device: str | torch.device,
        seed: int,
        drop_last: bool = False,
        flip: bool = True,
    ) -> None:
        if images.dim() != 4 or len(images) != len(labels):
            raise ValueError(f"expected N x C x H x W images and N labels, got {tuple(images.shape)} and {len(labels)}")
        if batch_size < 1:
            raise IbenchError(f"--batch-size {batch_size}: must be at least 1")
        if (mean is None) != (std is None):
            raise ValueError("give both mean and std, or neither")
        self.device = torch.device(device)
        self.images = images.to(self.device) if images.dtype == torch.uint8 else images.to(self.device, torch.float32)
        self.labels = labels.to(self.device, torch.int64)
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.augment = augment
        self.flip = flip
        self.drop_last = drop_last
        self.seed = seed
        self.epoch = 0
        self.dataset_size = len(images)
        self._mean = (
            None if mean is None else torch.tensor(mean, dtype=torch.float32, device=self.device).view(1, -1, 1, 1)
        )
        self._std = (
            None if std is None else torch.tensor(std, dtype=torch.float32, device=self.device).view(1, -1, 1, 1)
        )

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        if self.drop_last:
            return self.dataset_size // self.batch_size
        return (self.dataset_size + self.batch_size - 1) // self.batch_size

    def _crop_flip(self, x: torch.Tensor, oy: torch.Tensor, ox: torch.Tensor, flipped: torch.Tensor) -> torch.Tensor:
        b, _, h, w = x.shape
        pad = h // 8
        padded = torch.nn.functional.pad(x, (pad, pad, pad, pad)).permute(0, 2, 3, 1)  # B x Hp x Wp x C
        ar_h = torch.arange(h, device=x.device)
        ar_w = torch.arange(w, device=x.device)
        rows = oy[:, None] + ar_h[None, :]
        cols = torch.where(flipped[:, None], ox[:, None] + (w - 1 - ar_w)[None, :], ox[:, None] + ar_w[None, :])
        batch = torch.arange(b, device=x.device)[:, None, None]
        return padded[batch, rows[:, :, None], cols[:, None, :]].permute(0, 3, 1, 2).contiguous()

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        epoch = self.epoch
        self.epoch += 1
        n = self.dataset_size
        gen = _generator(self.seed, epoch, 2)
        order = torch.randperm(n, generator=gen) if self.shuffle else torch.arange(n)
        if self.augment:
            h = self.images.shape[2]
            pad = h // 8
            oy = torch.randint(0, 2 * pad + 1, (n,), generator=gen)
            ox = torch.randint(0, 2 * pad + 1, (n,), generator=gen)
            flips = torch.rand(n, generator=gen) < 0.5
            if not self.flip:
                flips.zero_()
            oy, ox, flips = oy.to(self.device), ox.to(self.device), flips.to(self.device)
        order = order.to(self.device)
        stop = len(self) * self.batch_size
        for start in range(0, min(stop, n), self.batch_size):
            idx = order[start : start + self.batch_size]
            x = self.images[idx]
            x = x.float() / 255.0 if x.dtype == torch.uint8 else x
            if self.augment:
                pos = slice(start, start + len(idx))
                x = self._crop_flip(x, oy[pos], ox[pos], flips[pos])
            if self._mean is not None and self._std is not None:
                x = (x - self._mean) / self._std
            yield x, self.labels[idx]
