"""Data for training and evaluating the variants: data sets (``datasets``: the names and ``load_data``; ``bundle``,
``embedded``, ``downloads``, ``folders``), augmentation and normalisation
(``transforms``), reproducible loaders for one process or many (``loaders``), and a data set's training loaders
(``pipeline``)."""

from inception_bench.data.bundle import DataBundle, TensorImageDataset, TransformedDataset
from inception_bench.data.datasets import DATA_NAMES, load_data
from inception_bench.data.loaders import DeviceLoader, EpochDataLoader, make_loader, partition
from inception_bench.data.pipeline import training_loaders
from inception_bench.data.transforms import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    RECIPES,
    RandomInterpolationResizedCrop,
    train_transform,
    val_transform,
)

__all__ = [
    "DATA_NAMES",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "RECIPES",
    "DataBundle",
    "DeviceLoader",
    "EpochDataLoader",
    "RandomInterpolationResizedCrop",
    "TensorImageDataset",
    "TransformedDataset",
    "load_data",
    "make_loader",
    "partition",
    "train_transform",
    "training_loaders",
    "val_transform",
]
