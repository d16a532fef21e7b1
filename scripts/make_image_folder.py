"""A real-image folder for checking training defaults on data they were not tuned on: a fixed random 5,000 / 1,000
train / val draw of Fashion-MNIST's training images (Debian's dataset-fashion-mnist), saved as RGB PNGs in
``OUT/train/<class>/`` and ``OUT/val/<class>/`` (``--data imagefolder:OUT``).

    python scripts/make_image_folder.py /tmp/fmnist-folder
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


def main(out: Path) -> None:
    images = read("train-images-idx3-ubyte.gz", 16).reshape(-1, 28, 28)
    labels = read("train-labels-idx1-ubyte.gz", 8)
    chosen = np.random.default_rng(0).permutation(len(images))[:6000]
    for split, part in (("train", chosen[:5000]), ("val", chosen[5000:])):
        for i in part:
            folder = out / split / str(labels[i])
            folder.mkdir(parents=True, exist_ok=True)
            Image.fromarray(images[i]).convert("RGB").save(folder / f"{i}.png")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
