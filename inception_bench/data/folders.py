"""Image folders (``imagefolder:PATH``): ``PATH/train/<class>/*``, ``PATH/val/<class>/*`` and, when present,
``PATH/test/<class>/*``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from torchvision import datasets

from inception_bench.data.bundle import DataBundle
from inception_bench.data.downloads import streaming_bundle
from inception_bench.errors import FieldError, IbenchError, one_line


def _load_image(path: str) -> Any:
    """torchvision's default image loader, with a one-line error naming an unreadable file."""
    try:
        return datasets.folder.default_loader(path)
    except OSError as exc:  # PIL.UnidentifiedImageError is an OSError
        raise IbenchError(f"{path}: unreadable image ({one_line(exc)}); remove or replace the file") from None


def _image_folder(spec: str, path: Path, split: str) -> datasets.ImageFolder:
    folder = path / split
    layout = f"expected {path}/train/<class>/*.jpg and {path}/val/<class>/*.jpg"
    if not folder.is_dir():
        raise FieldError("data", f"{folder} is not a directory; {layout}", spec)
    try:
        return datasets.ImageFolder(str(folder), loader=_load_image)
    except (FileNotFoundError, OSError) as exc:
        raise FieldError("data", f"no class folders with images in {folder} ({one_line(exc)}); {layout}", spec) from exc


def image_folder_bundle(spec: str, path_text: str, image_size: int, recipe: str) -> DataBundle:
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
    return streaming_bundle(
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
