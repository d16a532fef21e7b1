"""Multi-crop test-time evaluation: 1-crop, 10-crop and GoogLeNet's 144-crop scheme.

Conventions
-----------
* Input ``image`` is a PIL image (converted to RGB) or a ``C x H x W`` tensor, ``uint8`` (0..255) or floating
  point (0..1). It is converted to ``float32`` in 0..1 *before* any resizing, so PIL and tensor inputs go through
  exactly the same torchvision tensor kernels.
* Resizing uses ``torchvision.transforms.v2.functional.resize`` with a single int, i.e. the *shorter* side is
  resized to that length and the aspect ratio is kept (bilinear, antialiased). The longer side is truncated by
  torchvision (``int(long * new_short / short)``).
* All crop functions return ``float32`` tensors of shape ``(K, C, size, size)`` with values in 0..1 (not
  normalised). :class:`MultiCropDataset` applies mean/std normalisation.
* ``crops_1``: resize shorter side to ``resize`` (default ``round(size * 256 / 224)``), then center crop.
* ``crops_10``: same resize, then torchvision ``TenCrop(size)`` order: top-left, top-right, bottom-left,
  bottom-right, center, followed by the horizontal flips of those five in the same order.
* ``crops_144`` (GoogLeNet paper, section 7). For each scale ``s`` in ``scales`` (default ``(256, 288, 320, 352)``
  multiplied by ``size / 224`` and rounded), resize the shorter side to ``s`` and take three ``s x s`` squares:
  left/center/right for landscape images (W > H), top/center/bottom for portrait images (H > W). For a square image
  all three squares are identical (the whole resized image); they are still emitted so the layout is always 144.
  From each square take 6 crops: the 4 corners and the center ``size x size`` crop in torchvision ``FiveCrop``
  order (tl, tr, bl, br, center), then the whole square resized to ``size x size``; then the horizontal mirrors of
  those 6 in the same order. The layout is scale-major, then square, then mirror, then crop::

      index = scale_i * 36 + square_i * 12 + mirror * 6 + crop_j
      scale_i in 0..3, square_i in 0..2 (left/top, center, right/bottom), mirror in {0, 1}, crop_j in 0..5

  so crop ``k`` and its mirror ``k + 6`` sit in the same 12-block (see :func:`crop_index_144`).
* ``average_probs``: logits of shape ``(N * K, classes)`` laid out image-major (the K crops of image 0, then the
  K crops of image 1, ...) -> softmax over classes, mean over the K crops: ``(N, classes)``.
"""

from __future__ import annotations

from typing import Any

import torch
from PIL import Image
from torch.utils.data import Dataset
from torchvision.transforms.v2 import functional as F

from inception_bench.data.loaders import SizedDataset

__all__ = [
    "CROP_COUNTS",
    "MultiCropDataset",
    "average_probs",
    "crop_index_144",
    "crops_1",
    "crops_10",
    "crops_144",
    "default_resize",
    "default_scales",
    "multi_crop",
    "to_float_image",
]

CROP_COUNTS: tuple[int, ...] = (1, 10, 144)
PAPER_SCALES: tuple[int, ...] = (256, 288, 320, 352)
PAPER_SIZE = 224

ImageLike = Image.Image | torch.Tensor


def to_float_image(image: ImageLike) -> torch.Tensor:
    """Return ``image`` as a ``float32`` ``C x H x W`` tensor in 0..1 (PIL images are converted to RGB first)."""
    if isinstance(image, Image.Image):
        tensor = F.pil_to_tensor(image.convert("RGB"))
    elif isinstance(image, torch.Tensor):
        tensor = image.as_subclass(torch.Tensor)
    else:
        raise TypeError(f"expected a PIL image or a CxHxW tensor, got {type(image).__name__}")
    if tensor.ndim != 3:
        raise ValueError(f"expected a CxHxW image tensor, got shape {tuple(tensor.shape)}")
    if tensor.is_floating_point():
        return tensor.to(torch.float32)
    return F.to_dtype(tensor, torch.float32, scale=True)


def default_resize(size: int) -> int:
    """Shorter-side length used before 1-/10-crop: ``round(size * 256 / 224)`` (256 for 224)."""
    return round(size * 256 / PAPER_SIZE)


def default_scales(size: int) -> tuple[int, ...]:
    """GoogLeNet's 144-crop scales ``(256, 288, 320, 352)`` multiplied by ``size / 224`` and rounded."""
    return tuple(round(s * size / PAPER_SIZE) for s in PAPER_SCALES)


def crop_index_144(scale: int, square: int, crop: int, mirror: bool) -> int:
    """Index into the output of :func:`crops_144` (square 0..2; crop 0..5: tl, tr, bl, br, center, full square)."""
    if not (scale >= 0 and 0 <= square < 3 and 0 <= crop < 6):
        raise ValueError(f"index out of range: scale={scale}, square={square}, crop={crop}")
    return scale * 36 + square * 12 + int(mirror) * 6 + crop


def _check_size(size: int, resize: int, what: str) -> None:
    if size <= 0:
        raise ValueError(f"size must be positive, got {size}")
    if resize < size:
        raise ValueError(f"{what} ({resize}) must be >= crop size ({size})")


def _resize_short(image: torch.Tensor, short: int) -> torch.Tensor:
    return F.resize(image, [short], antialias=True)


def crops_1(image: ImageLike, size: int, resize: int | None = None) -> torch.Tensor:
    """Resize the shorter side to ``resize`` and center crop: ``(1, C, size, size)``."""
    resize = default_resize(size) if resize is None else resize
    _check_size(size, resize, "resize")
    resized = _resize_short(to_float_image(image), resize)
    return F.center_crop(resized, [size, size]).unsqueeze(0)


def crops_10(image: ImageLike, size: int, resize: int | None = None) -> torch.Tensor:
    """Resize the shorter side to ``resize`` and apply torchvision ``TenCrop(size)``: ``(10, C, size, size)``."""
    resize = default_resize(size) if resize is None else resize
    _check_size(size, resize, "resize")
    resized = _resize_short(to_float_image(image), resize)
    return torch.stack(F.ten_crop(resized, [size, size]))


def _squares(image: torch.Tensor) -> list[torch.Tensor]:
    """Three ``s x s`` squares (s = shorter side): left/center/right, or top/center/bottom for portrait images."""
    height, width = image.shape[-2:]
    side = min(height, width)
    center = F.center_crop(image, [side, side])
    if width > height:
        return [F.crop(image, 0, 0, side, side), center, F.crop(image, 0, width - side, side, side)]
    if height > width:
        return [F.crop(image, 0, 0, side, side), center, F.crop(image, height - side, 0, side, side)]
    return [image, image, image]


def crops_144(image: ImageLike, size: int, scales: tuple[int, ...] | None = None) -> torch.Tensor:
    """GoogLeNet 144-crop testing: ``(len(scales) * 36, C, size, size)``; order in the module docstring."""
    scales = default_scales(size) if scales is None else tuple(scales)
    if len(scales) == 0:
        raise ValueError("scales must not be empty")
    for scale in scales:
        _check_size(size, scale, "scale")
    base = to_float_image(image)
    out: list[torch.Tensor] = []
    for scale in scales:
        for square in _squares(_resize_short(base, scale)):
            six = torch.stack([*F.five_crop(square, [size, size]), F.resize(square, [size, size], antialias=True)])
            out.append(six)
            out.append(F.horizontal_flip(six))
    return torch.cat(out)


def multi_crop(image: ImageLike, size: int, crops: int, resize: int | None = None) -> torch.Tensor:
    """Dispatch to :func:`crops_1`, :func:`crops_10` (with ``resize``, default ``round(size * 256 / 224)``) or
    :func:`crops_144` (default scales)."""
    if crops == 1:
        return crops_1(image, size, resize)
    if crops == 10:
        return crops_10(image, size, resize)
    if crops == 144:
        return crops_144(image, size)
    raise ValueError(f"crops must be one of {CROP_COUNTS}, got {crops}")


class MultiCropDataset(Dataset):
    """Wrap a dataset of ``(image, label)``; items become ``(crops (K, C, size, size) normalised, label)``."""

    def __init__(
        self,
        base: SizedDataset,
        size: int,
        crops: int,
        mean: tuple[float, ...],
        std: tuple[float, ...],
        resize: int | None = None,
    ) -> None:
        if crops not in CROP_COUNTS:
            raise ValueError(f"crops must be one of {CROP_COUNTS}, got {crops}")
        if len(mean) != len(std):
            raise ValueError(f"mean and std lengths differ: {len(mean)} vs {len(std)}")
        self.base = base
        self.size = size
        self.crops = crops
        self.resize = resize
        self.mean: list[float] = list(mean)
        self.std: list[float] = list(std)

    def __len__(self) -> int:
        return len(self.base)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, Any]:
        image, label = self.base[index]
        stack = multi_crop(image, self.size, self.crops, self.resize)
        return F.normalize(stack, mean=self.mean, std=self.std), label


def average_probs(logits: torch.Tensor, crops: int) -> torch.Tensor:
    """Softmax ``(N * crops, classes)`` image-major logits and average over each image's crops: ``(N, classes)``."""
    if crops <= 0:
        raise ValueError(f"crops must be positive, got {crops}")
    if logits.ndim != 2 or logits.shape[0] % crops != 0:
        raise ValueError(f"expected logits of shape (N*{crops}, classes), got {tuple(logits.shape)}")
    probs = torch.softmax(logits.float(), dim=-1)
    return probs.view(-1, crops, logits.shape[-1]).mean(dim=1)
