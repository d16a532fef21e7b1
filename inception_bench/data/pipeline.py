"""A data set's loaders for training: batches on the device for in-memory sets (:class:`DeviceLoader`), a
seeded DataLoader otherwise (:func:`make_loader`), each rank of several processes on its own partition."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from inception_bench.data.datasets import DataBundle, load_data
from inception_bench.data.loaders import DeviceLoader, make_loader
from inception_bench.errors import FieldError
from inception_bench.settings import Recipe
from inception_bench.spec import Spec


@dataclass
class Loaders:
    """A run's loaders: ``train`` (shuffled, augmented, this rank's partition), ``val`` and ``test`` (in order,
    whole; ``test`` None when the data set has none), and the data set's description."""

    train: Any
    val: Any
    test: Any | None
    description: str


def recipe_data(recipe: Recipe, spec: Spec) -> DataBundle:
    """The data set for training ``spec`` with ``recipe``'s data settings; one whose class count is not the spec's
    is refused."""
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
    return bundle


def recipe_loaders(recipe: Recipe, spec: Spec, device: torch.device, rank: int = 0, world_size: int = 1) -> Loaders:
    """The loaders for training ``spec`` with ``recipe``'s data settings (:func:`recipe_data`)."""
    bundle = recipe_data(recipe, spec)
    train, val, test = training_loaders(
        bundle,
        batch_size=recipe.batch_size,
        workers=recipe.workers,
        seed=recipe.seed * 1000,  # the same on every rank: the ranks partition one epoch order
        device=device,
        rank=rank,
        world_size=world_size,
    )
    return Loaders(train, val, test, bundle.description)


def training_loaders(
    bundle: DataBundle,
    *,
    batch_size: int,
    workers: int,
    seed: int,
    device: torch.device,
    rank: int = 0,
    world_size: int = 1,
) -> tuple[Any, Any, Any | None]:
    """(train, val, test) loaders: train shuffled and augmented by the bundle's recipe, per (seed, epoch), on this
    rank's partition; val and test in order, whole on every rank (batches of at least 256 when on the device; test
    None when the bundle has no test split)."""
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

    def evaluation(dataset: Any, tensors: tuple[torch.Tensor, torch.Tensor] | None) -> Any:
        if tensors is not None:
            return DeviceLoader(
                *tensors,
                batch_size=max(batch_size, 256),
                shuffle=False,
                augment=False,
                mean=None,
                std=None,
                device=device,
                seed=0,
            )
        return make_loader(dataset, batch_size=batch_size, shuffle=False, seed=0, workers=workers, device=device.type)

    val = evaluation(bundle.val, bundle.val_tensors)
    test = None if bundle.test is None else evaluation(bundle.test, bundle.test_tensors)
    return train, val, test
