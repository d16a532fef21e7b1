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

from pathlib import Path

from inception_bench.data.bundle import DataBundle
from inception_bench.data.downloads import cifar_bundle, fashion_mnist_bundle, imagenette_bundle
from inception_bench.data.embedded import digits_bundle, synthetic_bundle
from inception_bench.data.folders import image_folder_bundle
from inception_bench.data.transforms import (
    resolve_recipe,
)
from inception_bench.errors import FieldError

DATA_NAMES = "digits, synthetic, fashion-mnist, cifar10, cifar100, imagenette, imagefolder:PATH"


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
        return digits_bundle(size, resolved)
    if key == "synthetic":
        return synthetic_bundle(size, resolved, seed, synthetic_train, synthetic_val, num_classes)
    if key == "fashion-mnist":
        return fashion_mnist_bundle(data_root, size, resolved)
    if key in ("cifar10", "cifar100"):
        return cifar_bundle(key, data_root, size, resolved)
    if key == "imagenette":
        return imagenette_bundle(data_root, size, resolved)
    return image_folder_bundle(text, text.split(":", 1)[1].strip(), size, resolved)
