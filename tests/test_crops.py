"""Tests for inception_bench.evaluate.crops: shapes, torchvision equivalence, 144-crop layout, averaging."""

from __future__ import annotations

import pytest
import torch
from PIL import Image
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as F

from inception_bench.evaluate.crops import (
    MultiCropDataset,
    average_probs,
    crop_index_144,
    crops_1,
    crops_10,
    crops_144,
    default_resize,
    default_scales,
    multi_crop,
)


def _random_uint8(height: int, width: int, seed: int = 0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (3, height, width), dtype=torch.uint8, generator=gen)


def _to_pil(image: torch.Tensor) -> Image.Image:
    return Image.fromarray(image.permute(1, 2, 0).numpy(), mode="RGB")


def _two_colour(height: int, width: int, vertical: bool) -> torch.Tensor:
    """Red first half / blue second half, split top/bottom (vertical=True) or left/right."""
    image = torch.zeros(3, height, width)
    if vertical:
        image[0, : height // 2] = 1.0
        image[2, height // 2 :] = 1.0
    else:
        image[0, :, : width // 2] = 1.0
        image[2, :, width // 2 :] = 1.0
    return image


RED = torch.tensor([1.0, 0.0, 0.0]).view(3, 1, 1)
BLUE = torch.tensor([0.0, 0.0, 1.0]).view(3, 1, 1)


def test_defaults() -> None:
    assert default_resize(224) == 256
    assert default_resize(32) == 37
    assert default_scales(224) == (256, 288, 320, 352)
    assert default_scales(32) == (37, 41, 46, 50)


@pytest.mark.parametrize("kind", ["pil", "uint8", "float"])
@pytest.mark.parametrize("n_crops", [1, 10, 144])
def test_shapes_dtype_range(kind: str, n_crops: int) -> None:
    raw = _random_uint8(40, 56)
    image = {"pil": _to_pil(raw), "uint8": raw, "float": raw.float() / 255}[kind]
    out = multi_crop(image, 32, n_crops)
    assert out.shape == (n_crops, 3, 32, 32)
    assert out.dtype == torch.float32
    assert out.min() >= 0.0 and out.max() <= 1.0


def test_pil_uint8_float_inputs_agree() -> None:
    raw = _random_uint8(45, 38, seed=1)
    reference = crops_144(raw, 32)
    torch.testing.assert_close(crops_144(_to_pil(raw), 32), reference)
    torch.testing.assert_close(crops_144(raw.float() / 255, 32), reference)


def test_crops_10_matches_torchvision_tencrop() -> None:
    raw = _random_uint8(50, 70, seed=2)
    pipeline = v2.Compose([v2.ToImage(), v2.ToDtype(torch.float32, scale=True), v2.Resize(37), v2.TenCrop(32)])
    expected = torch.stack([t.as_subclass(torch.Tensor) for t in pipeline(_to_pil(raw))])
    torch.testing.assert_close(crops_10(_to_pil(raw), 32), expected)
    torch.testing.assert_close(
        crops_10(raw, 32, resize=40), torch.stack(v2.TenCrop(32)(v2.Resize(40)(raw.float() / 255)))
    )


def test_crops_1_matches_resize_center_crop() -> None:
    raw = _random_uint8(64, 48, seed=3)
    expected = v2.CenterCrop(32)(v2.Resize(37)(raw.float() / 255))
    out = crops_1(raw, 32)
    torch.testing.assert_close(out[0], expected)
    torch.testing.assert_close(out[0], crops_10(raw, 32)[4])  # TenCrop index 4 is the center crop


def test_crop_index_144_layout() -> None:
    assert crop_index_144(0, 0, 0, False) == 0
    assert crop_index_144(0, 0, 5, False) == 5
    assert crop_index_144(0, 0, 0, True) == 6
    assert crop_index_144(0, 1, 5, False) == 17
    assert crop_index_144(3, 2, 5, True) == 143
    indices = {crop_index_144(s, q, c, m) for s in range(4) for q in range(3) for c in range(6) for m in (False, True)}
    assert indices == set(range(144))
    with pytest.raises(ValueError):
        crop_index_144(0, 3, 0, False)


def test_crops_144_mirror_pairs() -> None:
    out = crops_144(_random_uint8(40, 60, seed=4), 32)
    for scale in range(4):
        for square in range(3):
            for crop in range(6):
                k = crop_index_144(scale, square, crop, False)
                mirrored = crop_index_144(scale, square, crop, True)
                assert mirrored == k + 6
                assert torch.equal(out[mirrored], out[k].flip(-1))
    # a random image is not mirror-symmetric, so the flip is not a no-op
    assert not torch.equal(out[0], out[6])


def test_crops_144_full_square_center_scale_256() -> None:
    image = _random_uint8(300, 400, seed=5).float() / 255  # landscape
    out = crops_144(image, 224)
    assert out.shape == (144, 3, 224, 224)
    resized = F.resize(image, [256], antialias=True)
    assert resized.shape[-2:] == (256, 341)
    center_square = resized[:, :, (341 - 256) // 2 : (341 - 256) // 2 + 256]
    expected = F.resize(center_square, [224, 224], antialias=True)
    torch.testing.assert_close(out[17], expected)  # scale 0 (256), square 1 (center), crop 5 (full), unmirrored
    torch.testing.assert_close(out[17 + 6], expected.flip(-1))


def test_crops_144_corners_match_fivecrop_of_independent_square() -> None:
    image = _random_uint8(48, 80, seed=6).float() / 255  # landscape
    out = crops_144(image, 32)
    scale = default_scales(32)[1]
    resized = v2.Resize(scale)(image)
    width = resized.shape[-1]
    right_square = resized[:, :scale, width - scale :]
    left_square = resized[:, :scale, :scale]
    for square_i, square in ((0, left_square), (2, right_square)):
        five = v2.FiveCrop(32)(square)
        for crop in range(5):
            torch.testing.assert_close(out[crop_index_144(1, square_i, crop, False)], five[crop])
    # center crop of the center square == center crop of the resized image == crops_1 at that resize
    torch.testing.assert_close(out[crop_index_144(1, 1, 4, False)], crops_1(image, 32, resize=scale)[0])


def test_crops_144_portrait_uses_vertical_squares() -> None:
    image = _two_colour(64, 32, vertical=True)  # portrait: red top half, blue bottom half
    out = crops_144(image, 16, scales=(32,))
    assert out.shape == (36, 3, 16, 16)
    top_full, center_full, bottom_full = (out[crop_index_144(0, q, 5, False)] for q in range(3))
    torch.testing.assert_close(top_full, RED.expand(3, 16, 16))
    torch.testing.assert_close(bottom_full, BLUE.expand(3, 16, 16))
    assert center_full[0, 0].mean() > 0.9 and center_full[2, -1].mean() > 0.9  # red on top row, blue on bottom row
    for crop in range(5):
        torch.testing.assert_close(out[crop_index_144(0, 0, crop, False)], RED.expand(3, 16, 16))
        torch.testing.assert_close(out[crop_index_144(0, 2, crop, False)], BLUE.expand(3, 16, 16))


def test_crops_144_landscape_uses_horizontal_squares() -> None:
    image = _two_colour(32, 64, vertical=False)  # landscape: red left half, blue right half
    out = crops_144(image, 16, scales=(32,))
    torch.testing.assert_close(out[crop_index_144(0, 0, 5, False)], RED.expand(3, 16, 16))
    torch.testing.assert_close(out[crop_index_144(0, 2, 5, False)], BLUE.expand(3, 16, 16))
    # a top/bottom split landscape image gives three identical (half/half) squares, not red/blue squares
    out_tb = crops_144(_two_colour(32, 64, vertical=True), 16, scales=(32,))
    for square in (1, 2):
        torch.testing.assert_close(out_tb[square * 12 : square * 12 + 12], out_tb[:12])


def test_crops_144_square_image_squares_identical() -> None:
    out = crops_144(_random_uint8(40, 40, seed=7), 32)
    for scale in range(4):
        block = out[scale * 36 : scale * 36 + 36]
        assert torch.equal(block[0:12], block[12:24]) and torch.equal(block[0:12], block[24:36])


def test_invalid_arguments() -> None:
    image = _random_uint8(40, 40)
    with pytest.raises(ValueError):
        multi_crop(image, 32, 5)
    with pytest.raises(ValueError):
        crops_10(image, 32, resize=30)
    with pytest.raises(ValueError):
        crops_144(image, 32, scales=(40, 20))
    with pytest.raises(ValueError):
        crops_1(torch.zeros(40, 40), 32)


def test_average_probs_matches_manual() -> None:
    gen = torch.Generator().manual_seed(8)
    n_images, n_crops, n_classes = 3, 10, 7
    logits = torch.randn(n_images * n_crops, n_classes, generator=gen) * 3
    expected = torch.stack(
        [
            sum(torch.exp(row) / torch.exp(row).sum() for row in logits[i * n_crops : (i + 1) * n_crops]) / n_crops
            for i in range(n_images)
        ]
    )
    out = average_probs(logits, n_crops)
    assert out.shape == (n_images, n_classes)
    torch.testing.assert_close(out, expected)
    torch.testing.assert_close(out.sum(-1), torch.ones(n_images))
    torch.testing.assert_close(average_probs(logits, 1), torch.softmax(logits, -1))
    with pytest.raises(ValueError):
        average_probs(logits, 4)


class _ListDataset(torch.utils.data.Dataset):
    def __init__(self, items: list[tuple[object, int]]) -> None:
        self.items = items

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> tuple[object, int]:
        return self.items[index]


@pytest.mark.parametrize("n_crops", [1, 10, 144])
def test_multicrop_dataset_normalises(n_crops: int) -> None:
    raw = _random_uint8(36, 44, seed=9)
    base = _ListDataset([(_to_pil(raw), 3), (raw, 5), (raw.float() / 255, 7)])
    mean, std = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
    dataset = MultiCropDataset(base, size=32, crops=n_crops, mean=mean, std=std)
    assert len(dataset) == 3
    expected = (multi_crop(raw, 32, n_crops) - torch.tensor(mean).view(3, 1, 1)) / torch.tensor(std).view(3, 1, 1)
    for index, label in enumerate((3, 5, 7)):
        crops, got_label = dataset[index]
        assert got_label == label
        assert crops.shape == (n_crops, 3, 32, 32)
        torch.testing.assert_close(crops, expected)
    batch, labels = next(iter(torch.utils.data.DataLoader(dataset, batch_size=3)))
    assert batch.shape == (3, n_crops, 3, 32, 32)
    assert labels.tolist() == [3, 5, 7]
