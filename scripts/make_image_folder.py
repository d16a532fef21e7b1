"""Real-image folders for checking training defaults on data they were not tuned on, saved as RGB PNGs in
``OUT/train/<class>/``, ``OUT/val/<class>/`` and ``OUT/test/<class>/`` (``--data imagefolder:OUT``):

* ``fashion``: a fixed random 5,000 / 1,000 train / val draw of Fashion-MNIST's training images and 2,000 of its
  test images (Debian's ``dataset-fashion-mnist``), grey shown as RGB, 28x28.
* ``scatter``: scikit-learn's 1,797 handwritten 8x8 digits, each scaled x2 and placed at a random position of a
  32x32 canvas in a random colour on a random darker background (issue 14's first case): 1,147 / 300 / 350.

    python scripts/make_image_folder.py fashion /tmp/fmnist-folder
    python scripts/make_image_folder.py scatter /tmp/scatter-folder
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


def save(out: Path, split: str, images: np.ndarray, labels: np.ndarray) -> None:
    for i, (image, label) in enumerate(zip(images, labels, strict=True)):
        folder = out / split / str(label)
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image).convert("RGB").save(folder / f"{i}.png")


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


if __name__ == "__main__":
    {"fashion": fashion, "scatter": scatter}[sys.argv[1]](Path(sys.argv[2]))
