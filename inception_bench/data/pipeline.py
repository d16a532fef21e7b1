"""A data set's loaders for training: batches on the device for in-memory sets (:class:`DeviceLoader`), a
seeded DataLoader otherwise (:func:`make_loader`), each rank of several processes on its own partition. Which data
set and loaders a recipe asks for: :mod:`inception_bench.run.data`."""

from __future__ import annotations

from typing import Any

import torch

from inception_bench.data.datasets import DataBundle
from inception_bench.data.loaders import DeviceLoader, make_loader


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
