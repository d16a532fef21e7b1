"""A data set's loaders for training: batches on the device for in-memory sets (:class:`DeviceLoader`), a
seeded DataLoader otherwise (:func:`make_loader`), each rank of several processes on its own partition."""

from __future__ import annotations

from typing import Any

import torch

from inception_bench.data.datasets import DataBundle, load_data
from inception_bench.data.loaders import DeviceLoader, make_loader
from inception_bench.errors import FieldError
from inception_bench.settings import Recipe
from inception_bench.spec import Spec


def recipe_loaders(
    recipe: Recipe, spec: Spec, device: torch.device, rank: int = 0, world_size: int = 1
) -> tuple[Any, Any, str]:
    """The (train, val) loaders and the data set's description for training ``spec`` with ``recipe``'s data
    settings; a data set whose class count is not the spec's is refused."""
    bundle = load_data(
        recipe.data,
        root=recipe.data_root,
        image_size=spec.input_size,
        recipe=recipe.recipe,
        seed=recipe.seed,
        num_classes=spec.num_classes,
    )
    if bundle.num_classes != spec.num_classes:
        why = f"has {bundle.num_classes} classes but the spec has {spec.num_classes}; set num_classes to match"
        raise FieldError("data", why, recipe.data)
    train, val = training_loaders(
        bundle,
        batch_size=recipe.batch_size,
        workers=recipe.workers,
        seed=recipe.seed * 1000,  # the same on every rank: the ranks partition one epoch order
        device=device,
        rank=rank,
        world_size=world_size,
    )
    return train, val, bundle.description


def training_loaders(
    bundle: DataBundle,
    *,
    batch_size: int,
    workers: int,
    seed: int,
    device: torch.device,
    rank: int = 0,
    world_size: int = 1,
) -> tuple[Any, Any]:
    """(train, val) loaders: train shuffled and augmented by the bundle's recipe, per (seed, epoch), on this rank's
    partition; val in order, whole on every rank (batches of at least 256 when on the device)."""
    train: Any
    if bundle.train_tensors is not None:
        train = DeviceLoader(
            *bundle.train_tensors,
            batch_size=batch_size,
            shuffle=True,
            augment=bundle.recipe != "none",
            mean=bundle.mean,
            std=bundle.std,
            device=device,
            seed=seed,
            flip=bundle.flip,
            rank=rank,
            world_size=world_size,
        )
    else:
        train = make_loader(
            bundle.train,
            batch_size=batch_size,
            shuffle=True,
            seed=seed,
            workers=workers,
            device=device.type,
            rank=rank,
            world_size=world_size,
        )
    val: Any
    if bundle.val_tensors is not None:
        val = DeviceLoader(
            *bundle.val_tensors,
            batch_size=max(batch_size, 256),
            shuffle=False,
            augment=False,
            mean=None,
            std=None,
            device=device,
            seed=0,
        )
    else:
        val = make_loader(bundle.val, batch_size=batch_size, shuffle=False, seed=0, workers=workers, device=device.type)
    return train, val
