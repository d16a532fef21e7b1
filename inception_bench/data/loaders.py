"""Loaders: batches for one process (or one rank of several), reproducible per (seed, epoch).

* Shuffling and augmentation of epoch ``e`` are a deterministic function of ``(seed, e)`` both for
  :class:`DeviceLoader` (in-memory sets, kept and augmented on the device) and for loaders from
  :func:`make_loader` (per-sample seeding, independent of the number of workers). The epoch advances after each
  pass; call ``set_epoch(e)`` before iterating when resuming.
* Several processes (``rank`` of ``world_size``): every rank draws the same epoch order from the same seed, pads it
  by wrapping around to a multiple of ``world_size`` and takes every ``world_size``-th sample from position
  ``rank`` (``torch.utils.data.DistributedSampler``'s semantics, with ``set_epoch``): each epoch is a fresh
  partition of the shuffled data, the ranks' samples are disjoint (but for the padding), and every rank runs the
  same number of steps.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from typing import Any, Protocol

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from inception_bench.errors import FieldError

_SEED_MASK = 2**63 - 1


class SizedDataset(Protocol):
    """A map-style data set that knows its length (torch's ``Dataset`` type does not declare ``__len__``)."""

    def __len__(self) -> int: ...

    def __getitem__(self, index: Any) -> Any: ...


def _derive_seed(*parts: int) -> int:
    """A 63-bit seed that is a deterministic function of ``parts`` (well mixed, no collisions in practice)."""
    words = np.random.SeedSequence([int(p) & 0xFFFFFFFFFFFFFFFF for p in parts]).generate_state(2, dtype=np.uint32)
    return ((int(words[0]) << 32) | int(words[1])) & _SEED_MASK


def seeded_generator(*parts: int) -> torch.Generator:
    return torch.Generator().manual_seed(_derive_seed(*parts))


def _seed_worker(worker_id: int) -> None:
    """``worker_init_fn``: seed Python's and NumPy's RNGs from the worker's torch seed (set by the DataLoader)."""
    seed = torch.initial_seed() % 2**32
    np.random.seed(seed)
    random.seed(seed)


def padded(order: torch.Tensor, world_size: int) -> torch.Tensor:
    """An epoch order padded by wrapping around to a multiple of ``world_size`` (itself when alone)."""
    total = -(-len(order) // world_size) * world_size
    return order.repeat(-(-total // len(order)))[:total] if total > len(order) else order


def partition(order: torch.Tensor, rank: int, world_size: int) -> torch.Tensor:
    """Rank ``rank``'s share of an epoch ``order``: every ``world_size``-th position of the :func:`padded` order
    from ``rank`` (DistributedSampler's semantics; the order itself when alone)."""
    return padded(order, world_size)[rank::world_size]


class _EpochSampler(Sampler[tuple[int, int, int]]):
    """Yields ``(index, seed, epoch)`` for this rank; the order of epoch ``e`` depends only on ``(seed, e)``.

    The epoch advances by one after each pass unless :meth:`set_epoch` is called.
    """

    def __init__(self, size: int, *, shuffle: bool, seed: int, rank: int = 0, world_size: int = 1) -> None:
        self.size = size
        self.shuffle = shuffle
        self.seed = seed
        self.rank, self.world_size = rank, world_size
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return -(-self.size // self.world_size)

    def __iter__(self) -> Iterator[tuple[int, int, int]]:
        epoch = self.epoch
        self.epoch += 1
        if self.shuffle:
            order = torch.randperm(self.size, generator=seeded_generator(self.seed, epoch, 0))
        else:
            order = torch.arange(self.size)
        for index in partition(order, self.rank, self.world_size).tolist():
            yield index, self.seed, epoch


class _PerSampleSeeded(Dataset):
    """Runs ``dataset[index]`` with torch/random/numpy seeded from ``(seed, epoch, index)``, restoring the RNGs after.

    Makes random augmentation reproducible per (seed, epoch) whatever the number or persistence of workers.
    """

    def __init__(self, dataset: SizedDataset) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, key: tuple[int, int, int]) -> Any:
        index, seed, epoch = key
        sample_seed = _derive_seed(seed, epoch, index, 1)
        # Only the CPU generators are touched (torch.manual_seed would also reseed CUDA's, which the trainer uses).
        torch_state, py_state, np_state = torch.get_rng_state(), random.getstate(), np.random.get_state()
        torch.default_generator.manual_seed(sample_seed)
        random.seed(sample_seed)
        np.random.seed(sample_seed % 2**32)
        try:
            return self.dataset[index]
        finally:
            torch.set_rng_state(torch_state)
            random.setstate(py_state)
            np.random.set_state(np_state)


class EpochDataLoader(DataLoader):
    """A DataLoader with :meth:`set_epoch` (order and augmentation of epoch ``e`` depend only on ``(seed, e)``)."""

    def __init__(self, dataset: _PerSampleSeeded, epoch_sampler: _EpochSampler, **kwargs: Any) -> None:
        super().__init__(dataset, sampler=epoch_sampler, **kwargs)
        self.epoch_sampler = epoch_sampler

    def set_epoch(self, epoch: int) -> None:
        self.epoch_sampler.set_epoch(epoch)

    @property
    def dataset_size(self) -> int:
        """Samples per epoch for this rank."""
        return len(self.epoch_sampler)


def make_loader(
    dataset: SizedDataset,
    *,
    batch_size: int,
    shuffle: bool,
    seed: int,
    workers: int,
    device: str,
    drop_last: bool = False,
    rank: int = 0,
    world_size: int = 1,
) -> EpochDataLoader:
    """A DataLoader over ``dataset`` (pinned memory for CUDA, persistent seeded workers when ``workers > 0``), for
    ``rank`` of ``world_size`` processes (see the module docstring).

    Shuffle order and per-sample augmentation randomness of epoch ``e`` are functions of ``(seed, e)`` only; the
    epoch advances after each pass, call ``loader.set_epoch(e)`` when resuming.
    """
    if batch_size < 1:
        raise FieldError("batch_size", "must be at least 1", batch_size)
    if workers < 0:
        raise FieldError("workers", "must be 0 (load in the main process) or more", workers)
    sampler = _EpochSampler(len(dataset), shuffle=shuffle, seed=seed, rank=rank, world_size=world_size)
    return EpochDataLoader(
        _PerSampleSeeded(dataset),
        batch_size=batch_size,
        epoch_sampler=sampler,
        num_workers=workers,
        pin_memory=str(device).startswith("cuda"),
        persistent_workers=workers > 0,
        generator=torch.Generator().manual_seed(seed),
        worker_init_fn=_seed_worker,
        drop_last=drop_last,
    )


class DeviceLoader:
    """Batches of an in-memory data set kept on ``device``, shuffled and augmented there with tensor ops.

    ``images``: ``N x C x H x W`` uint8 (0..255) or float (0..1, or already normalised with ``mean=std=None``).
    Augmentation (``augment=True``): zero-pad by ``H // 8`` and random crop back to ``H x W``, plus a horizontal flip
    with probability 1/2 if ``flip``; then ``(x - mean) / std`` (skipped when ``mean``/``std`` are None, e.g. for
    ``DataBundle.val_tensors`` which are already normalised). The permutation, crop offsets and flips of epoch ``e``
    are drawn on the CPU from a generator seeded with ``(seed, e)``, so they are identical on every device and after
    resuming; with ``world_size`` > 1 each rank takes its :func:`partition` of them. The epoch advances after each
    pass unless :meth:`set_epoch` is called. Yields ``(images, labels)`` on ``device`` (float32, int64).
    """

    def __init__(
        self,
        images: torch.Tensor,
        labels: torch.Tensor,
        *,
        batch_size: int,
        shuffle: bool,
        augment: bool,
        mean: Sequence[float] | None,
        std: Sequence[float] | None,
        device: str | torch.device,
        seed: int,
        drop_last: bool = False,
        flip: bool = True,
        rank: int = 0,
        world_size: int = 1,
    ) -> None:
        if images.dim() != 4 or len(images) != len(labels):
            raise ValueError(f"expected N x C x H x W images and N labels, got {tuple(images.shape)} and {len(labels)}")
        if batch_size < 1:
            raise FieldError("batch_size", "must be at least 1", batch_size)
        if (mean is None) != (std is None):
            raise ValueError("give both mean and std, or neither")
        self.device = torch.device(device)
        self.images = images.to(self.device) if images.dtype == torch.uint8 else images.to(self.device, torch.float32)
        self.labels = labels.to(self.device, torch.int64)
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.augment = augment
        self.flip = flip
        self.drop_last = drop_last
        self.seed = seed
        self.rank, self.world_size = rank, world_size
        self.epoch = 0
        self.dataset_size = -(-len(images) // world_size)  # samples per rank and epoch
        self._mean = (
            None if mean is None else torch.tensor(mean, dtype=torch.float32, device=self.device).view(1, -1, 1, 1)
        )
        self._std = (
            None if std is None else torch.tensor(std, dtype=torch.float32, device=self.device).view(1, -1, 1, 1)
        )

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        if self.drop_last:
            return self.dataset_size // self.batch_size
        return (self.dataset_size + self.batch_size - 1) // self.batch_size

    def _crop_flip(self, x: torch.Tensor, oy: torch.Tensor, ox: torch.Tensor, flipped: torch.Tensor) -> torch.Tensor:
        b, _, h, w = x.shape
        pad = h // 8
        framed = torch.nn.functional.pad(x, (pad, pad, pad, pad)).permute(0, 2, 3, 1)  # B x Hp x Wp x C
        ar_h = torch.arange(h, device=x.device)
        ar_w = torch.arange(w, device=x.device)
        rows = oy[:, None] + ar_h[None, :]
        cols = torch.where(flipped[:, None], ox[:, None] + (w - 1 - ar_w)[None, :], ox[:, None] + ar_w[None, :])
        batch = torch.arange(b, device=x.device)[:, None, None]
        return framed[batch, rows[:, :, None], cols[:, None, :]].permute(0, 3, 1, 2).contiguous()

    def _epoch_plan(self, epoch: int) -> tuple[torch.Tensor, tuple[torch.Tensor, ...] | None]:
        """This rank's sample indices of ``epoch`` in order, and their crop offsets and flips when augmenting."""
        n = len(self.images)
        gen = seeded_generator(self.seed, epoch, 2)
        order = padded(torch.randperm(n, generator=gen) if self.shuffle else torch.arange(n), self.world_size)
        mine = slice(self.rank, None, self.world_size)  # this rank's positions of the epoch (see partition)
        if not self.augment:
            return order[mine], None
        pad = self.images.shape[2] // 8
        oy = torch.randint(0, 2 * pad + 1, (len(order),), generator=gen)
        ox = torch.randint(0, 2 * pad + 1, (len(order),), generator=gen)
        flips = (torch.rand(len(order), generator=gen) < 0.5) & self.flip
        return order[mine], (oy[mine], ox[mine], flips[mine])

    def epoch_indices(self, epoch: int) -> list[int]:
        """The data set indices this rank takes in ``epoch``, in order (padding included)."""
        order, _ = self._epoch_plan(epoch)
        return [int(i) for i in order[: len(self) * self.batch_size]]

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        epoch = self.epoch
        self.epoch += 1
        order, draws = self._epoch_plan(epoch)
        order = order.to(self.device)
        if draws is not None:
            oy, ox, flips = (t.to(self.device) for t in draws)
        stop = len(self) * self.batch_size
        for start in range(0, min(stop, len(order)), self.batch_size):
            idx = order[start : start + self.batch_size]
            x = self.images[idx]
            x = x.float() / 255.0 if x.dtype == torch.uint8 else x
            if draws is not None:
                pos = slice(start, start + len(idx))
                x = self._crop_flip(x, oy[pos], ox[pos], flips[pos])
            if self._mean is not None and self._std is not None:
                x = (x - self._mean) / self._std
            yield x, self.labels[idx]
