"""A run's data: the data set and loaders that a :class:`~inception_bench.run.settings.Recipe` asks for, for a
spec (the data package itself knows nothing of recipes)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from inception_bench.data import DataBundle, load_data, training_loaders
from inception_bench.errors import FieldError
from inception_bench.run.settings import Recipe
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
