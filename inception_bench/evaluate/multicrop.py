"""Evaluating checkpoints: top-1/top-5 with 1, 10 or 144 crops (paper section 7), ensembles of checkpoints.

Softmax probabilities are averaged over the crops of an image and then over the models, as in the paper's
Table 3. Accuracies and errors are fractions in 0..1. Crops: see :mod:`inception_bench.evaluate.crops`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from inception_bench.errors import FieldError, IbenchError
from inception_bench.evaluate.crops import CROP_COUNTS, MultiCropDataset, average_probs
from inception_bench.models import GoogLeNet, build_model, resolve_spec
from inception_bench.models.torchvision_compat import from_torchvision_state_dict
from inception_bench.progress import ProgressMode, step_progress
from inception_bench.run.checkpoint import load_checkpoint, load_failure, model_from_checkpoint, state_dict_mismatch
from inception_bench.run.engine import autocast_for, compiled, resolve_device, resolve_precision, topk_correct
from inception_bench.store import RunFolder, write_json
from inception_bench.store.records import Split


def _check_writable(path: Path) -> None:
    """Fail before the work, not after it, when a result could not be written."""
    parent = Path(path).parent
    if parent.exists() and not parent.is_dir() or Path(path).is_dir():
        raise FieldError("out", "not a writable file path; choose another", path)
    if parent.is_dir() and not os.access(parent, os.W_OK):  # e.g. someone else's run folder: say so before the work
        raise FieldError("out", f"cannot write into {parent}; give --out elsewhere", path)


def torchvision_model(weights: str) -> GoogLeNet:
    """torchvision's IMAGENET1K_V1 googlenet (``weights="torchvision"``, downloaded) or a state dict file, loaded
    into the torchvision-compatible spec with ``transform_input`` on, as torchvision does for these weights."""
    if weights == "torchvision":
        from torchvision.models import GoogLeNet_Weights

        try:
            state = GoogLeNet_Weights.IMAGENET1K_V1.get_state_dict(progress=False)
        except Exception as e:  # URLError, OSError, ...
            why = (
                f"the download failed ({type(e).__name__}; offline?); download {GoogLeNet_Weights.IMAGENET1K_V1.url} "
                "elsewhere and give its path"
            )
            raise FieldError("weights", why, weights) from None
    else:
        path = Path(weights)
        if not path.is_file():
            raise FieldError("weights", "no such file; give a torchvision googlenet state dict (.pth)", weights)
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as e:
            raise FieldError("weights", load_failure(e, path), weights) from None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise FieldError("weights", "not a state dict (a dict of tensors, as model.state_dict() saves)", weights)
    # torchvision's googlenet(weights=...) drops its aux heads after loading: a state dict saved from it has none
    aux = any(k.startswith(("aux1.", "aux2.")) for k in state)
    model = build_model(resolve_spec("torchvision", {"transform_input": True, "aux.enabled": aux}).spec)
    try:
        model.load_state_dict(from_torchvision_state_dict(state, model), strict=True)
    except RuntimeError as e:
        why = f"not a torchvision googlenet state dict ({state_dict_mismatch(e)})"
        raise FieldError("weights", why, weights) from None
    return model


def evaluate(
    checkpoints: list[Path],
    *,
    data: str | None = None,
    data_root: str = "data",
    split: str = "val",
    crops: int = 1,
    batch_size: int = 32,
    device: str = "auto",
    precision: str = "auto",
    channels_last: bool = True,
    compile: bool = False,
    weights: str | None = None,
    out: Path | None = None,
    progress: str = ProgressMode.auto,
) -> dict[str, Any]:
    """Top-1/top-5 of one model or an ensemble on a data set's ``split`` (val | test); writes ``out`` (JSON) if
    given.

    ``data`` defaults to what the (first) checkpoint was trained on, with its seed (synthetic data depends on
    it) and image size. With one crop, images of 64 px or less are only resized (the training validation
    transform), so a checkpoint's accuracy is reproduced; larger ones are resized to 256/224 of the crop size
    and center-cropped, as torchvision and the paper do. ``precision`` (autocast, ``auto`` as in training),
    ``channels_last`` and ``compile`` are how the forward passes run; the softmax averaging is in fp32.
    ``progress``: a :class:`~inception_bench.progress.ProgressMode` (:func:`~inception_bench.progress.step_progress`).
    """
    from inception_bench.data import load_data

    if crops not in CROP_COUNTS:
        raise FieldError("crops", "use 1, 10 or 144", crops)
    if split not in tuple(Split):
        raise FieldError("split", "use val or test", split)
    if batch_size < 1:
        raise FieldError("batch_size", "must be at least 1 (crops per forward pass)", batch_size)
    if not checkpoints and weights is None:
        raise IbenchError(f"give at least one checkpoint (a run's {RunFolder.CHECKPOINT}) or torchvision weights")
    if out is not None:
        _check_writable(out)
    dev = resolve_device(device)
    loaded = [load_checkpoint(Path(p)) for p in checkpoints]
    precision = _precision(precision, dev, loaded)
    models = [model_from_checkpoint(c, source=str(p)) for c, p in zip(loaded, checkpoints, strict=True)]
    recipe = loaded[0].get("config", {}).get("recipe", {}) if loaded else {}
    if data is None:
        if not recipe.get("data"):
            why = "the checkpoint records no data set" if loaded else "required with torchvision weights"
            raise FieldError("data", f"{why}; name one (e.g. imagefolder:/path/to/imagenet)")
        data = str(recipe["data"])
    if weights is not None:
        models.append(torchvision_model(weights))
    names = [str(p) for p in checkpoints] + ([f"--weights {weights}"] if weights is not None else [])
    sizes = {m.spec.input_size for m in models}
    if len(sizes) != 1:
        each = ", ".join(f"{n} {m.spec.input_size} px" for n, m in zip(names, models, strict=True))
        raise IbenchError(f"the models take different input sizes ({each}); ensemble models of one size")
    size = sizes.pop()
    classes = {m.spec.num_classes for m in models}
    same_data = data.lower() == str(recipe.get("data", "")).lower()
    bundle = load_data(
        data,
        root=data_root,
        image_size=size,
        recipe="none",
        seed=int(recipe.get("seed", 0)) if same_data else 0,
        num_classes=min(classes),
    )
    if classes != {bundle.num_classes}:
        each = ", ".join(f"{n} {m.spec.num_classes}" for n, m in zip(names, models, strict=True))
        raise FieldError("data", f"has {bundle.num_classes} classes, the models ({each})", data)
    odd = [n for n, m in zip(names, models, strict=True) if m.spec.in_channels != 3]
    if odd:
        raise IbenchError(f"{', '.join(odd)}: the model takes other than 3 input channels; the data sets here are RGB")
    _, raw, _ = bundle.split(split)
    if raw is None:
        raise FieldError("data", f"no raw {split} images for multi-crop evaluation", data)
    resize = size if crops == 1 and size <= 64 else None
    dataset = MultiCropDataset(raw, size, crops, bundle.mean, bundle.std, resize=resize)
    loader = torch.utils.data.DataLoader(dataset, batch_size=max(1, batch_size // crops), shuffle=False)
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    runners = [compiled(m.eval().to(dev).to(memory_format=fmt), compile, "default") for m in models]
    autocast = autocast_for(dev, precision)
    total = top1 = top5 = 0
    with torch.inference_mode(), step_progress(f"{split}, {crops} crop(s)", len(loader), progress) as advance:
        for images, target in loader:
            n, k = images.shape[:2]
            flat = images.reshape(n * k, *images.shape[2:]).to(dev).contiguous(memory_format=fmt)
            with autocast():
                logits = [r(flat) for r in runners]
            probs = torch.stack([average_probs(x.float(), k) for x in logits]).mean(0)
            c1, c5 = topk_correct(probs, target.to(dev))
            top1, top5, total = top1 + c1, top5 + c5, total + n
            advance(n)
    record = {
        "checkpoints": [str(p) for p in checkpoints],
        "weights": weights,
        "models": len(models),
        "crops": crops,
        "cost": len(models) * crops,
        "data": bundle.description,
        "split": split,
        "images": total,
        "precision": precision,
        "device": dev.type,
        "channels_last": channels_last,
        "compiled": compile,
        "top1": top1 / total,
        "top5": top5 / total,
        "top1_error": 1 - top1 / total,
        "top5_error": 1 - top5 / total,
    }
    if out is not None:
        write_json(out, record)
    return record


def _precision(requested: str, device: torch.device, checkpoints: list[dict[str, Any]]) -> str:
    """``auto`` evaluates in the precision the (first) checkpoint was trained and evaluated in, where this device
    can run it (so that ``ibench eval`` reproduces the run's own figure); otherwise as ``ibench train`` would."""
    recorded = checkpoints[0].get("config", {}).get("precision") if checkpoints else None
    if requested == "auto" and recorded in ("fp32", "bf16", "fp16"):
        try:
            return resolve_precision(str(recorded), device)
        except FieldError:
            pass
    return resolve_precision(requested, device)


def rich_table(record: dict[str, Any]) -> Any:
    """An evaluation record as a one-row rich table for the terminal."""
    from rich.table import Table

    how = [str(record.get("device")), str(record.get("precision"))]
    how += ["channels_last"] * bool(record.get("channels_last")) + ["compiled"] * bool(record.get("compiled"))
    table = Table(
        "models", "crops", "cost", "images", "top-1", "top-5", "top-1 error", "top-5 error", title=", ".join(how)
    )
    counts = [str(record[k]) for k in ("models", "crops", "cost", "images")]
    table.add_row(*counts, *(f"{record[k]:.2%}" for k in ("top1", "top5", "top1_error", "top5_error")))
    return table
