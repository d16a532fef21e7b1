"""Issue 25: ibench train's defaults learn on colour images whose digits come in either polarity (a random colour
on a random background, lighter or darker), where the defaults before collapsed to chance. The folder is built here
from scikit-learn's digits; the threshold comes from ln K, not from a recorded run."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from inception_bench.cli import app

CLASSES = 10


def _colour_folder(root: Path, per_class: int = 300, side: int = 32, seed: int = 0) -> Path:
    """``train/`` and ``val/`` of PNGs: each digit scaled to 12-24 px at a random place on a ``side`` canvas, its ink
    one random colour and the rest another whose mean brightness differs by 0.35 or more, either one lighter."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    rng = np.random.default_rng(seed)
    for split, count in (("train", per_class), ("val", per_class // 15)):
        for label in range(CLASSES):
            pool = np.flatnonzero(digits.target == label)
            folder = root / split / str(label)
            folder.mkdir(parents=True)
            for i in range(count):
                glyph = Image.fromarray(np.uint8(digits.images[rng.choice(pool)] / 16 * 255))
                size = int(rng.integers(12, 25))
                ink = np.asarray(glyph.resize((size, size), Image.BILINEAR))[..., None] / 255.0
                while True:
                    fg, bg = rng.uniform(0, 1, 3), rng.uniform(0, 1, 3)
                    if abs(fg.mean() - bg.mean()) >= 0.35:
                        break
                canvas = np.ones((side, side, 3)) * bg
                y, x = rng.integers(0, side - size + 1, 2)
                canvas[y : y + size, x : x + size] = ink * fg + (1 - ink) * bg
                Image.fromarray(np.uint8(canvas * 255)).save(folder / f"{i}.png")
    return root


@pytest.mark.slow
def test_the_defaults_learn_a_colour_folder_of_either_polarity(tmp_path):
    data = _colour_folder(tmp_path / "colour")
    out = tmp_path / "run"
    args = ["train", "small", "--data", f"imagefolder:{data}", "--set", "width_mult=0.25", "--epochs", "10"]
    # evaluation settings only (what training does is the defaults'): no weight average to evaluate as well, batch
    # norm's statistics recomputed on fewer images
    quick_eval = ["--averaging", "none", "--bn-images", "256"]
    result = CliRunner().invoke(app, [*args, *quick_eval, "--workers", "0", "--out", str(out), "-q"])
    assert result.exit_code == 0, result.output
    final = json.loads((out / "final.json").read_text())
    metrics = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    chance = math.log(CLASSES) * (1 + 2 * 0.3)  # the main head's and the two aux heads' (weight 0.3) at chance
    assert final["status"] == "completed"
    # well below chance, not hovering at it: the epoch's mean loss lags the network (with one thread per core, as
    # `make test` runs, it was 0.66 x chance with 61% val top-1 here; the defaults before stayed at chance)
    assert metrics[-1]["train_loss"] < 0.75 * chance
    assert final["val_top1"] > 3 / CLASSES
