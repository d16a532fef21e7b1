"""Several processes (``torchrun --nproc_per_node N -m inception_bench train ...``): who this process is, and the
few collective operations training needs. One process alone needs no process group and gets rank 0 of 1."""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Dist:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        """The process that writes the run folder."""
        return self.rank == 0


def init_distributed(device_kind: str) -> Dist:
    """Join the process group torchrun describes (NCCL on CUDA, gloo on the CPU), if there is one."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return Dist()
    import torch.distributed as dist

    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device_kind == "cuda" else "gloo")
    return Dist(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")))


def all_reduce_sum(values: list[float], info: Dist, device: torch.device) -> list[float]:
    """``values`` summed over the processes (themselves when alone)."""
    if info.world_size == 1:
        return values
    import torch.distributed as dist

    t = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(t)
    return [float(v) for v in t.tolist()]


def shutdown(info: Dist) -> None:
    if info.world_size > 1:
        import torch.distributed as dist

        dist.destroy_process_group()
