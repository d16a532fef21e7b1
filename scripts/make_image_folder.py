"""Real-image folders for checking training defaults on data they were not tuned on, saved as RGB PNGs in
``OUT/train/<class>/``, ``OUT/val/<class>/`` and ``OUT/test/<class>/`` (``--data imagefolder:OUT``):

* ``fashion``: a fixed random 5,000 / 1,000 train / val draw of Fashion-MNIST's training images and 2,000 of its
  test images (Debian's ``dataset-fashion-mnist``), grey shown as RGB, 28x28.
* ``scatter``: scikit-learn's 1,797 handwritten 8x8 digits, each scaled x2 and placed at a random position of a
  32x32 canvas in a random colour on a random darker background (issue 14's first case): 1,147 / 300 / 350.

* ``colour`` (issue 25's case): scikit-learn's digits drawn at a random size (12 to 36 px) and position of a 40x40
  canvas, in a random colour on a random background whose brightness differs clearly from it, lighter or darker
  (either polarity), saved as JPEG: each of 1,397 digits three times for training (4,191 images), the other 400
  once for validation and once more, drawn anew, for test.
* ``fashion-colour``: the same colouring of Fashion-MNIST at 40x40 (the item at 20 to 40 px, any position):
  6,000 / 1,000 of its training images, 2,000 of its test images, JPEG.

    python scripts/make_image_folder.py fashion /tmp/fmnist-folder
    python scripts/make_image_folder.py scatter /tmp/scatter-folder
    python scripts/make_image_folder.py colour /tmp/colour-folder
    python scripts/make_image_folder.py fashion-colour /tmp/fcolour-folder
Named by: results/defaults-vs-generic-2026-12-01, precision-cpu-2026-12-01, colour-collapse-2026-12-06, bn-bias-
check-2026-12-06, docs/training.md (and tests/test_scripts.py).
"""

from __future__ import annotations

import gzip
import sys
from pathlib import Path

import numpy as np
from PIL import Image

SOURCE = Path("/usr/share/datasets/fashion-mnist")


def read(name: str, offset: int) -> np.ndarray:
    with gzip.open(SOURCE / name) as f:
        return np.frombuffer(f.read(), np.uint8, offset=offset)


def save(out: Path, split: str, images: np.ndarray, labels: np.ndarray, suffix: str = "png") -> None:
    for i, (image, label) in enumerate(zip(images, labels, strict=True)):
        folder = out / split / str(label)
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image).convert("RGB").save(folder / f"{i}.{suffix}", quality=90)


def colour_pair(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A foreground and a background colour (RGB in [0, 1]) whose mean brightness differs by at least 0.35,
    either one the lighter."""
    while True:
        fg, bg = rng.uniform(0.0, 1.0, 3), rng.uniform(0.0, 1.0, 3)
        if abs(fg.mean() - bg.mean()) >= 0.35:
            return fg, bg


def colourise(glyphs: np.ndarray, rng: np.random.Generator, side: int, sizes: tuple[int, int]) -> np.ndarray:
    """Each grey glyph (``N x h x w`` in [0, 1], 1 = ink) resized to a random square size in ``sizes`` and pasted
    at a random position of a ``side`` x ``side`` canvas, ink in one random colour and the rest in another
    (:func:`colour_pair`), with a little pixel noise: ``N x side x side x 3`` uint8."""
    out = np.empty((len(glyphs), side, side, 3), np.uint8)
    for n, glyph in enumerate(glyphs):
        size = int(rng.integers(sizes[0], sizes[1] + 1))
        ink = np.asarray(Image.fromarray(np.uint8(glyph * 255)).resize((size, size), Image.BILINEAR)) / 255.0
        mask = np.zeros((side, side, 1))
        y, x = rng.integers(0, side - size + 1, 2)
        mask[y : y + size, x : x + size, 0] = ink
        fg, bg = colour_pair(rng)
        canvas = mask * fg + (1 - mask) * bg
        out[n] = np.clip(canvas * 255 + rng.normal(0, 6, canvas.shape), 0, 255).astype(np.uint8)
    return out


def fashion(out: Path) -> None:
    images = read("train-images-idx3-ubyte.gz", 16).reshape(-1, 28, 28)
    labels = read("train-labels-idx1-ubyte.gz", 8)
    chosen = np.random.default_rng(0).permutation(len(images))[:6000]
    save(out, "train", images[chosen[:5000]], labels[chosen[:5000]])
    save(out, "val", images[chosen[5000:]], labels[chosen[5000:]])
    test_images = read("t10k-images-idx3-ubyte.gz", 16).reshape(-1, 28, 28)
    test_labels = read("t10k-labels-idx1-ubyte.gz", 8)
    test = np.random.default_rng(1).permutation(len(test_images))[:2000]
    save(out, "test", test_images[test], test_labels[test])


def scatter(out: Path) -> None:
    from sklearn.datasets import load_digits

    digits = load_digits()
    rng = np.random.default_rng(0)
    canvases = np.empty((len(digits.images), 32, 32, 3), np.uint8)
    for n, digit in enumerate(digits.images / 16.0):
        glyph = np.kron(digit, np.ones((2, 2)))  # 16x16
        fg, bg = rng.uniform(0.5, 1.0, 3), rng.uniform(0.0, 0.4, 3)
        canvas = np.ones((32, 32, 1)) * bg
        y, x = rng.integers(0, 17, 2)
        canvas[y : y + 16, x : x + 16] = glyph[..., None] * fg + (1 - glyph[..., None]) * bg
        canvases[n] = np.clip(canvas * 255 + rng.normal(0, 8, canvas.shape), 0, 255).astype(np.uint8)
    order = rng.permutation(len(canvases))
    parts = {"train": order[:1147], "val": order[1147:1447], "test": order[1447:]}
    for split, idx in parts.items():
        save(out, split, canvases[idx], digits.target[idx])


def colour(out: Path) -> None:
    from sklearn.datasets import load_digits

    digits = load_digits()
    rng = np.random.default_rng(0)
    order = rng.permutation(len(digits.images))
    train, held = order[:1397], order[1397:]
    glyphs, labels = digits.images / 16.0, digits.target
    repeated = np.repeat(train, 3)
    save(out, "train", colourise(glyphs[repeated], rng, 40, (12, 36)), labels[repeated], "jpg")
    save(out, "val", colourise(glyphs[held], rng, 40, (12, 36)), labels[held], "jpg")
    save(out, "test", colourise(glyphs[held], rng, 40, (12, 36)), labels[held], "jpg")


def fashion_colour(out: Path) -> None:
    images = read("train-images-idx3-ubyte.gz", 16).reshape(-1, 28, 28) / 255.0
    labels = read("train-labels-idx1-ubyte.gz", 8)
    rng = np.random.default_rng(0)
    chosen = rng.permutation(len(images))[:7000]
    save(out, "train", colourise(images[chosen[:6000]], rng, 40, (20, 40)), labels[chosen[:6000]], "jpg")
    save(out, "val", colourise(images[chosen[6000:]], rng, 40, (20, 40)), labels[chosen[6000:]], "jpg")
    test_images = read("t10k-images-idx3-ubyte.gz", 16).reshape(-1, 28, 28) / 255.0
    test_labels = read("t10k-labels-idx1-ubyte.gz", 8)
    test = rng.permutation(len(test_images))[:2000]
    save(out, "test", colourise(test_images[test], rng, 40, (20, 40)), test_labels[test], "jpg")


if __name__ == "__main__":
    kinds = {"fashion": fashion, "scatter": scatter, "colour": colour, "fashion-colour": fashion_colour}
    kinds[sys.argv[1]](Path(sys.argv[2]))
