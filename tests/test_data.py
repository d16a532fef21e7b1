"""Tests for inception_bench.data: digits split and normalisation, synthetic data, loaders, image folders, errors."""

from __future__ import annotations

import pickle
import random
from collections import Counter
from pathlib import Path
from urllib.error import URLError

import numpy as np
import pytest
import torch
from PIL import Image
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torchvision import datasets
from torchvision.datasets import cifar as cifar_module
from torchvision.transforms import v2

from inception_bench.data import (
    DataBundle,
    DeviceLoader,
    RandomInterpolationResizedCrop,
    load_data,
    make_loader,
)
from inception_bench.errors import IbenchError


@pytest.fixture(scope="module")
def digits() -> DataBundle:
    return load_data("digits")


@pytest.fixture(scope="module")
def sk_split() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    # the documented split: a stratified 360 test first, then 270 of the rest as val (scikit-learn, random_state 0)
    raw = load_digits()
    rest, test_idx = train_test_split(np.arange(len(raw.target)), test_size=360, stratify=raw.target, random_state=0)
    train_idx, val_idx = train_test_split(rest, test_size=270, stratify=raw.target[rest], random_state=0)
    return raw.target, np.sort(train_idx), np.sort(val_idx), np.sort(test_idx)


def _denormalise(x: torch.Tensor, bundle: DataBundle) -> torch.Tensor:
    mean = torch.tensor(bundle.mean).view(1, 3, 1, 1)
    std = torch.tensor(bundle.std).view(1, 3, 1, 1)
    return x * std + mean


# ---------------------------------------------------------------------------------------------------------------
# digits


def test_digits_sizes_match_sklearn_split(digits: DataBundle, sk_split: tuple) -> None:
    target, train_idx, val_idx, test_idx = sk_split
    assert len(target) == 1797
    assert (len(train_idx), len(val_idx), len(test_idx)) == (1167, 270, 360)
    assert len(digits.train) == 1167 and len(digits.val) == 270 and digits.test is not None and len(digits.test) == 360
    assert digits.num_classes == 10 and digits.image_size == 32 and digits.name == "digits"
    assert digits.train_tensors is not None and digits.val_tensors is not None and digits.test_tensors is not None
    assert digits.train_tensors[1].tolist() == target[train_idx].tolist()
    assert digits.val_tensors[1].tolist() == target[val_idx].tolist()
    assert digits.test_tensors[1].tolist() == target[test_idx].tolist()
    assert not (set(train_idx) & set(val_idx) or set(train_idx) & set(test_idx) or set(val_idx) & set(test_idx))
    assert "synthetic" not in digits.description and "real" in digits.description and "\n" not in digits.description


def test_digits_split_is_stratified(digits: DataBundle) -> None:
    assert digits.train_tensors is not None and digits.val_tensors is not None and digits.test_tensors is not None
    train, val, test = (Counter(t[1].tolist()) for t in (digits.train_tensors, digits.val_tensors, digits.test_tensors))
    total = train + val + test
    assert set(val) == set(test) == set(range(10))
    for label, count in total.items():  # 360 / 1797 of each class in test, 270 / 1797 in val
        assert abs(test[label] - 360 / 1797 * count) <= 1, (label, test[label], count)
        assert abs(val[label] - 270 / 1797 * count) <= 1.5, (label, val[label], count)


def test_digits_split_independent_of_seed(digits: DataBundle) -> None:
    other = load_data("digits", seed=123)
    assert digits.val_tensors is not None and other.val_tensors is not None
    assert torch.equal(digits.val_tensors[1], other.val_tensors[1])
    assert torch.equal(digits.val_tensors[0], other.val_tensors[0])


def test_digits_pixels_are_resized_scaled_sklearn_images(digits: DataBundle, sk_split: tuple) -> None:
    _, _, val_idx, _ = sk_split
    raw = torch.from_numpy(load_digits().images[val_idx[:5]].astype(np.float32)) / 16.0  # 5 x 8 x 8 in [0, 1]
    expected = torch.nn.functional.interpolate(
        raw[:, None], size=(32, 32), mode="bilinear", align_corners=False, antialias=True
    ).expand(-1, 3, -1, -1)
    assert digits.val_tensors is not None
    got = _denormalise(digits.val_tensors[0][:5], digits)
    torch.testing.assert_close(got, expected, atol=1e-4, rtol=0)
    # the 32x32 image averages back to the 8x8 original (bilinear upsampling by 4 roughly preserves block means)
    pooled = torch.nn.functional.avg_pool2d(got[:, :1], 4)[:, 0]
    assert (pooled - raw).abs().mean() < 0.1


def test_digits_shapes_and_normalisation(digits: DataBundle) -> None:
    image, label = digits.train[0]
    assert image.shape == (3, 32, 32) and image.dtype == torch.float32 and isinstance(label, int)
    image, label = digits.val[7]
    assert image.shape == (3, 32, 32) and isinstance(label, int)
    assert digits.val_tensors is not None
    torch.testing.assert_close(image, digits.val_tensors[0][7])
    assert digits.train_tensors is not None
    train = digits.train_tensors[0]
    assert train.shape == (1167, 3, 32, 32) and float(train.min()) >= 0.0 and float(train.max()) <= 1.0
    normalised = (train - torch.tensor(digits.mean).view(1, 3, 1, 1)) / torch.tensor(digits.std).view(1, 3, 1, 1)
    for channel in range(3):
        assert abs(float(normalised[:, channel].mean())) < 1e-3
        assert abs(float(normalised[:, channel].std()) - 1.0) < 1e-3
    # stats were computed on the train images only, independently here in float64
    assert digits.mean[0] == pytest.approx(float(train[:, 0].double().mean()), abs=1e-6)
    assert digits.flip is False and digits.recipe == "plain"


def test_digits_train_items_are_augmented_crops_without_flip(digits: DataBundle) -> None:
    assert digits.train_tensors is not None
    original = digits.train_tensors[0][3]
    torch.manual_seed(0)
    for _ in range(5):
        image, _ = digits.train[3]
        shifted = _denormalise(image[None], digits)[0]
        assert _matches_shift(shifted, original, pad=4, allow_flip=False)


def test_digits_paper_recipe_streams() -> None:
    bundle = load_data("digits", image_size=72, recipe="auto")  # > 64 px: auto -> paper
    assert bundle.recipe == "paper" and bundle.train_tensors is None
    image, _ = bundle.train[0]
    assert image.shape == (3, 72, 72)


# ---------------------------------------------------------------------------------------------------------------
# synthetic


def test_synthetic_deterministic_and_seed_dependent() -> None:
    a = load_data("synthetic", seed=1, synthetic_train=40, synthetic_val=20, num_classes=4)
    b = load_data("synthetic", seed=1, synthetic_train=40, synthetic_val=20, num_classes=4)
    c = load_data("synthetic", seed=2, synthetic_train=40, synthetic_val=20, num_classes=4)
    assert "synthetic" in a.description
    assert (len(a.train), len(a.val), a.num_classes) == (40, 20, 4)
    assert a.train_tensors is not None and b.train_tensors is not None and c.train_tensors is not None
    assert torch.equal(a.train_tensors[0], b.train_tensors[0]) and torch.equal(a.train_tensors[1], b.train_tensors[1])
    assert not torch.equal(a.train_tensors[0], c.train_tensors[0])
    assert sorted(Counter(a.train_tensors[1].tolist()).values()) == [10, 10, 10, 10]
    assert a.train[0][0].shape == (3, 32, 32)


def test_synthetic_is_learnable() -> None:
    bundle = load_data("synthetic", seed=0, synthetic_train=200, synthetic_val=100, num_classes=10)
    assert bundle.train_tensors is not None and bundle.val_tensors is not None
    x, y = bundle.train_tensors
    xv, yv = bundle.val_tensors
    x = (x - torch.tensor(bundle.mean).view(1, 3, 1, 1)) / torch.tensor(bundle.std).view(1, 3, 1, 1)
    centroids = torch.stack([x[y == k].mean(0) for k in range(10)]).flatten(1)
    predicted = torch.cdist(xv.flatten(1), centroids).argmin(1)
    assert (predicted == yv).float().mean() > 0.9


# ---------------------------------------------------------------------------------------------------------------
# DeviceLoader


def _indexed(n: int = 50, side: int = 16) -> tuple[torch.Tensor, torch.Tensor]:
    """Images whose every pixel is (index + 1) / 100, labels = index: lets a batch be traced back to samples."""
    labels = torch.arange(n)
    images = ((labels.float() + 1) / 100).view(n, 1, 1, 1).expand(n, 3, side, side).contiguous()
    return images, labels


def _matches_shift(image: torch.Tensor, original: torch.Tensor, *, pad: int, allow_flip: bool) -> bool:
    """Is ``image`` the zero-padded ``original`` cropped at some offset (optionally mirrored)?"""
    h, w = original.shape[1:]
    padded = torch.nn.functional.pad(original, (pad, pad, pad, pad))
    for dy in range(2 * pad + 1):
        for dx in range(2 * pad + 1):
            crop = padded[:, dy : dy + h, dx : dx + w]
            if torch.allclose(image, crop, atol=1e-5) or (
                allow_flip and torch.allclose(image, crop.flip(2), atol=1e-5)
            ):
                return True
    return False


def test_device_loader_covers_each_sample_once() -> None:
    images, labels = _indexed(50)
    loader = DeviceLoader(
        images, labels, batch_size=8, shuffle=True, augment=False, mean=None, std=None, device="cpu", seed=0
    )
    assert len(loader) == 7 and loader.dataset_size == 50
    seen: list[int] = []
    batches = 0
    for x, y in loader:
        batches += 1
        assert x.dtype == torch.float32 and y.dtype == torch.int64
        torch.testing.assert_close(x[:, 0, 0, 0], (y.float() + 1) / 100)  # images travel with their labels
        seen += y.tolist()
    assert batches == 7 and sorted(seen) == list(range(50))
    assert seen != list(range(50))  # shuffled


def test_device_loader_drop_last_and_no_shuffle() -> None:
    images, labels = _indexed(50)
    loader = DeviceLoader(
        images,
        labels,
        batch_size=8,
        shuffle=False,
        augment=False,
        mean=None,
        std=None,
        device="cpu",
        seed=0,
        drop_last=True,
    )
    ys = [y for _, y in loader]
    assert len(loader) == 6 and len(ys) == 6 and all(len(y) == 8 for y in ys)
    assert torch.cat(ys).tolist() == list(range(48))


def _epoch(loader: DeviceLoader, epoch: int) -> tuple[torch.Tensor, torch.Tensor]:
    loader.set_epoch(epoch)
    xs, ys = zip(*list(loader), strict=True)
    return torch.cat(xs), torch.cat(ys)


def test_device_loader_reproducible_per_seed_and_epoch() -> None:
    images = torch.rand(40, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    labels = torch.arange(40)
    kwargs = dict(batch_size=16, shuffle=True, augment=True, mean=(0.5,) * 3, std=(0.25,) * 3, device="cpu")
    loader = DeviceLoader(images, labels, seed=7, **kwargs)  # type: ignore[arg-type]
    x3, y3 = _epoch(loader, 3)
    torch.manual_seed(999)  # the global RNG must not matter
    x3b, y3b = _epoch(DeviceLoader(images, labels, seed=7, **kwargs), 3)  # type: ignore[arg-type]
    assert torch.equal(x3, x3b) and torch.equal(y3, y3b)
    x4, y4 = _epoch(loader, 4)
    assert not torch.equal(y3, y4) and not torch.equal(x3, x4)
    x_other, _ = _epoch(DeviceLoader(images, labels, seed=8, **kwargs), 3)  # type: ignore[arg-type]
    assert not torch.equal(x3, x_other)
    # without set_epoch the epoch advances by itself: the next pass is epoch 5
    x5, _ = _epoch(loader, 5)
    loader.set_epoch(4)
    list(loader)
    assert torch.equal(torch.cat([x for x, _ in loader]), x5)


def test_device_loader_augmentation_is_pad_crop_flip() -> None:
    images = torch.rand(12, 3, 16, 16, generator=torch.Generator().manual_seed(1))
    labels = torch.arange(12)
    for flip in (False, True):
        loader = DeviceLoader(
            images,
            labels,
            batch_size=5,
            shuffle=True,
            augment=True,
            mean=(0.0,) * 3,
            std=(1.0,) * 3,
            device="cpu",
            seed=3,
            flip=flip,
        )
        x, y = _epoch(loader, 0)
        assert x.shape == images.shape
        for image, label in zip(x, y, strict=True):
            assert _matches_shift(image, images[label], pad=2, allow_flip=flip)
        changed = sum(not torch.equal(image, images[label]) for image, label in zip(x, y, strict=True))
        assert changed > 0


def test_device_loader_uint8_and_normalisation() -> None:
    images = torch.full((4, 3, 8, 8), 255, dtype=torch.uint8)
    loader = DeviceLoader(
        images,
        torch.zeros(4, dtype=torch.int64),
        batch_size=4,
        shuffle=False,
        augment=False,
        mean=(0.5, 0.5, 0.5),
        std=(0.25, 0.5, 1.0),
        device="cpu",
        seed=0,
    )
    x, _ = next(iter(loader))
    assert x.dtype == torch.float32
    torch.testing.assert_close(x[0, :, 0, 0], torch.tensor([2.0, 1.0, 0.5]))


# ---------------------------------------------------------------------------------------------------------------
# make_loader


def test_make_loader_reproducible_and_leaves_global_rng_alone(digits: DataBundle) -> None:
    loader = make_loader(digits.train, batch_size=256, shuffle=True, seed=5, workers=0, device="cpu")
    assert loader.pin_memory is False and len(loader) == 5  # 1167 images
    loader.set_epoch(2)
    torch.manual_seed(0)
    random.seed(0)
    before = (torch.rand(1), random.random())
    torch.manual_seed(0)
    random.seed(0)
    x_a, y_a = next(iter(loader))
    after = (torch.rand(1), random.random())
    assert torch.equal(before[0], after[0]) and before[1] == after[1]
    loader.set_epoch(2)
    x_b, y_b = next(iter(loader))
    assert torch.equal(x_a, x_b) and torch.equal(y_a, y_b)
    loader.set_epoch(3)
    x_c, _ = next(iter(loader))
    assert not torch.equal(x_a, x_c)


def test_make_loader_same_batches_with_workers(digits: DataBundle) -> None:
    single = make_loader(digits.train, batch_size=512, shuffle=True, seed=1, workers=0, device="cpu")
    multi = make_loader(digits.train, batch_size=512, shuffle=True, seed=1, workers=2, device="cpu")
    assert multi.persistent_workers
    single.set_epoch(4)
    multi.set_epoch(4)
    for (xa, ya), (xb, yb) in zip(single, multi, strict=True):
        assert torch.equal(ya, yb) and torch.equal(xa, xb)


# ---------------------------------------------------------------------------------------------------------------
# paper recipe pieces


def test_random_interpolation_crop_modes() -> None:
    crop = RandomInterpolationResizedCrop(24)
    modes = {t.interpolation for t in crop.transforms}
    assert modes == {
        v2.InterpolationMode.BILINEAR,
        v2.InterpolationMode.NEAREST,
        v2.InterpolationMode.BICUBIC,
        v2.InterpolationMode.BOX,
    }
    assert all(t.scale == (0.08, 1.0) and t.ratio == pytest.approx((3 / 4, 4 / 3)) for t in crop.transforms)
    out = crop(Image.new("RGB", (50, 40), (10, 20, 30)))
    assert out.size == (24, 24)


# ---------------------------------------------------------------------------------------------------------------
# imagefolder


def _write_folder(root: Path, split: str, classes: dict[str, int], size: tuple[int, int] = (40, 30)) -> None:
    rng = np.random.default_rng(0)
    for name, count in classes.items():
        folder = root / split / name
        folder.mkdir(parents=True)
        for i in range(count):
            pixels = rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
            Image.fromarray(pixels).save(folder / f"{i}.png")


def test_imagefolder_loads(tmp_path: Path) -> None:
    _write_folder(tmp_path, "train", {"cat": 3, "dog": 2, "eel": 2})
    _write_folder(tmp_path, "val", {"cat": 1, "dog": 1, "eel": 1})
    bundle = load_data(f"imagefolder:{tmp_path}", image_size=32)
    assert bundle.num_classes == 3 and len(bundle.train) == 7 and len(bundle.val) == 3
    assert bundle.mean == (0.485, 0.456, 0.406) and bundle.std == (0.229, 0.224, 0.225)
    image, label = bundle.train[0]
    assert image.shape == (3, 32, 32) and image.dtype == torch.float32 and label == 0
    image, label = bundle.val[2]
    assert image.shape == (3, 32, 32) and label == 2
    assert bundle.val_raw is not None and isinstance(bundle.val_raw[0][0], Image.Image)
    assert bundle.train_tensors is None and bundle.val_tensors is None
    big = load_data(f"imagefolder:{tmp_path}", image_size=96)
    assert big.image_size == 96 and big.recipe == "paper" and big.train[1][0].shape == (3, 96, 96)
    assert big.val[0][0].shape == (3, 96, 96)


def test_imagefolder_missing_val(tmp_path: Path) -> None:
    _write_folder(tmp_path, "train", {"cat": 1, "dog": 1})
    with pytest.raises(IbenchError) as info:
        load_data(f"imagefolder:{tmp_path}")
    message = str(info.value)
    assert str(tmp_path / "val") in message and "/train/<class>/" in message and "\n" not in message


def test_imagefolder_empty_and_mismatched(tmp_path: Path) -> None:
    (tmp_path / "train").mkdir()
    (tmp_path / "val").mkdir()
    with pytest.raises(IbenchError, match="train"):
        load_data(f"imagefolder:{tmp_path}")
    other = tmp_path / "other"
    _write_folder(other, "train", {"cat": 1, "dog": 1})
    _write_folder(other, "val", {"cat": 1, "emu": 1})
    with pytest.raises(IbenchError, match="emu"):
        load_data(f"imagefolder:{other}")


# ---------------------------------------------------------------------------------------------------------------
# errors


def test_unknown_name_lists_choices() -> None:
    with pytest.raises(IbenchError) as info:
        load_data("mnist")
    message = str(info.value)
    assert "mnist" in message
    for name in ("digits", "synthetic", "cifar10", "cifar100", "imagenette", "imagefolder:PATH"):
        assert name in message


def test_bad_recipe() -> None:
    with pytest.raises(IbenchError, match="recipe=fancy: unknown augmentation recipe"):
        load_data("digits", recipe="fancy")


def test_cifar10_offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []

    def no_network(self: datasets.CIFAR10) -> None:
        calls.append(self.root)
        raise URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(datasets.CIFAR10, "download", no_network)
    with pytest.raises(IbenchError) as info:
        load_data("cifar10", root=tmp_path / "empty")
    message = str(info.value)
    assert calls, "the download was not attempted"
    assert "cifar10" in message and "offline" in message and "download" in message and "\n" not in message
    assert str(tmp_path / "empty") in message


@pytest.mark.parametrize(
    ("name", "cls", "method"),
    [("cifar100", datasets.CIFAR100, "download"), ("imagenette", datasets.Imagenette, "_download")],
)
def test_other_downloads_offline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, cls: type, method: str
) -> None:
    def no_network(self: object) -> None:
        raise OSError("Network is unreachable")

    monkeypatch.setattr(cls, method, no_network)
    with pytest.raises(IbenchError, match=rf"data={name}: not found under .*offline"):
        load_data(name, root=tmp_path)


def _write_fake_cifar10(root: Path, n_train: int = 5, n_test: int = 4) -> None:
    """The on-disk layout of cifar-10-batches-py with tiny pickles (integrity checks are patched out)."""
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    files = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    for file in files:
        n = n_test if file == "test_batch" else n_train
        data = rng.integers(0, 256, (n, 3 * 32 * 32), dtype=np.uint8)
        with open(folder / file, "wb") as handle:
            pickle.dump({"data": data, "labels": [i % 10 for i in range(n)]}, handle)
    with open(folder / "batches.meta", "wb") as handle:
        pickle.dump({"label_names": [f"c{i}" for i in range(10)]}, handle)


def test_cifar10_from_disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _write_fake_cifar10(tmp_path)
    monkeypatch.setattr(datasets.CIFAR10, "_check_integrity", lambda self: True)
    monkeypatch.setattr(cifar_module, "check_integrity", lambda *args, **kwargs: True)
    monkeypatch.setattr(datasets.CIFAR10, "download", lambda self: pytest.fail("must not download"))
    bundle = load_data("cifar10", root=tmp_path)
    # 25 training images: a tenth (2) carved out as val; the 4 test-file images are the test split
    assert bundle.test is not None and bundle.test_tensors is not None
    assert (bundle.num_classes, bundle.image_size, len(bundle.train), len(bundle.val), len(bundle.test)) == (
        10,
        32,
        23,
        2,
        4,
    )
    assert bundle.mean == (0.485, 0.456, 0.406) and bundle.recipe == "plain" and bundle.flip
    assert bundle.train_tensors is not None and bundle.val_tensors is not None
    x, y = bundle.train_tensors
    assert x.shape == (23, 3, 32, 32) and x.dtype == torch.uint8 and y.dtype == torch.int64
    mean, std = torch.tensor(bundle.mean).view(1, 3, 1, 1), torch.tensor(bundle.std).view(1, 3, 1, 1)
    raw = datasets.CIFAR10(str(tmp_path), train=False)
    expected = (torch.from_numpy(raw.data).permute(0, 3, 1, 2).float() / 255 - mean) / std
    torch.testing.assert_close(bundle.test_tensors[0], expected)
    torch.testing.assert_close(bundle.test[1][0], expected[1])
    train_file = torch.from_numpy(datasets.CIFAR10(str(tmp_path), train=True).data).permute(0, 3, 1, 2)
    carved = {tuple(row) for row in ((bundle.val_tensors[0] * std + mean) * 255).round().flatten(1).int().tolist()}
    kept = {tuple(row) for row in x.flatten(1).int().tolist()}
    assert carved | kept == {tuple(row) for row in train_file.flatten(1).int().tolist()} and not carved & kept
    image, _ = bundle.train[0]
    assert image.shape == (3, 32, 32) and image.dtype == torch.float32
    assert bundle.val_raw is not None and isinstance(bundle.val_raw[0][0], Image.Image)
    assert load_data("cifar10", root=tmp_path, num_classes=5).num_classes == 10  # only synthetic data takes it
    resized = load_data("cifar10", root=tmp_path, image_size=48)
    assert resized.train_tensors is not None and resized.train_tensors[0].shape == (23, 3, 48, 48)
    assert resized.val[0][0].shape == (3, 48, 48) and resized.train[0][0].shape == (3, 48, 48)


def test_unreadable_image_names_the_file(tmp_path):
    from PIL import Image

    for split in ("train", "val"):
        (tmp_path / split / "a").mkdir(parents=True)
        Image.new("RGB", (40, 40), "red").save(tmp_path / split / "a" / "ok.png")
    (tmp_path / "val" / "a" / "bad.jpg").write_bytes(b"not an image")
    bundle = load_data(f"imagefolder:{tmp_path}", image_size=32)
    with pytest.raises(IbenchError, match=r"bad\.jpg: unreadable image"):
        for i in range(len(bundle.val)):
            bundle.val[i]


def test_fashion_mnist_offline_names_the_debian_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import inception_bench.data.downloads as ds

    def no_network(self: object) -> None:
        raise URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(ds, "DEBIAN_FASHION_MNIST", tmp_path / "not-installed")
    monkeypatch.setattr(datasets.FashionMNIST, "download", no_network)
    with pytest.raises(IbenchError, match=r"data=fashion-mnist: not found under .*offline") as info:
        load_data("fashion-mnist", root=tmp_path / "empty")
    assert "apt-get install dataset-fashion-mnist" in str(info.value) and "\n" not in str(info.value)


@pytest.mark.skipif(
    not Path("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz").exists(),
    reason="Debian's dataset-fashion-mnist is not installed (apt-get install dataset-fashion-mnist)",
)
def test_fashion_mnist_from_the_debian_package(tmp_path: Path) -> None:
    bundle = load_data("fashion-mnist", root=tmp_path, image_size=32)
    assert bundle.test is not None and bundle.test_tensors is not None
    assert (len(bundle.train), len(bundle.val), len(bundle.test), bundle.num_classes) == (55000, 5000, 10000, 10)
    assert sorted(p.name for p in (tmp_path / "FashionMNIST" / "raw").iterdir()) == [
        "t10k-images-idx3-ubyte",
        "t10k-labels-idx1-ubyte",
        "train-images-idx3-ubyte",
        "train-labels-idx1-ubyte",
    ]
    assert bundle.train_tensors is not None and bundle.val_tensors is not None
    x, y = bundle.train_tensors
    assert x.shape == (55000, 3, 32, 32) and x.dtype == torch.uint8
    assert torch.equal(x[:, 0], x[:, 1]) and torch.equal(x[:, 1], x[:, 2])  # grey shown as RGB
    # the data set's published facts: 6,000 training and 1,000 test images per class, pixel mean 0.2860 and
    # standard deviation 0.3530 over the 28x28 training images; val is a stratified 5,000 of the training images
    assert set(Counter(y.tolist()).values()) == {5500}
    assert set(Counter(bundle.val_tensors[1].tolist()).values()) == {500}
    assert set(Counter(bundle.test_tensors[1].tolist()).values()) == {1000}
    assert bundle.mean == pytest.approx((0.2860,) * 3, abs=1e-4) and bundle.std == pytest.approx(
        (0.3530,) * 3, abs=1e-4
    )
    image, label = bundle.test[0]
    assert image.shape == (3, 32, 32) and 0 <= label < 10
    raw_image, _ = bundle.val_raw[0]  # PIL, for multi-crop evaluation
    assert raw_image.mode == "RGB" and raw_image.size == (28, 28)
