"""Process-group helpers for ``torchrun`` (one process per device, on one or many machines).

``torchrun`` sets ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR`` and ``MASTER_PORT``;
:func:`init_distributed` reads them and joins the group (NCCL on CUDA, Gloo on CPU). Every other
helper also works in a plain single process, where it does the trivial thing.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import numpy as np
import torch
import torch.distributed as dist

__all__ = [
    "DistInfo",
    "all_gather_object",
    "barrier",
    "broadcast_object",
    "cleanup",
    "gather_arrays",
    "init_distributed",
    "is_distributed",
    "is_main_process",
    "local_rank",
    "rank",
    "sync_metric",
    "world_size",
]


@dataclass(frozen=True)
class DistInfo:
    """Where this process stands: rank, world size, local rank, its device and the backend."""

    rank: int
    world_size: int
    local_rank: int
    device: torch.device
    backend: str | None

    @property
    def distributed(self) -> bool:
        """True when more than one process takes part."""
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """True on rank 0."""
        return self.rank == 0


def is_distributed() -> bool:
    """True inside an initialised process group."""
    return dist.is_available() and dist.is_initialized()


def rank() -> int:
    """Global rank (0 outside a group)."""
    return dist.get_rank() if is_distributed() else 0


def world_size() -> int:
    """Number of processes (1 outside a group)."""
    return dist.get_world_size() if is_distributed() else 1


def local_rank() -> int:
    """Rank on this machine, from ``LOCAL_RANK`` (0 when unset)."""
    return int(os.environ.get("LOCAL_RANK", "0"))


def is_main_process() -> bool:
    """True on rank 0: the process that logs and writes files."""
    return rank() == 0


def init_distributed(
    device: str = "auto", backend: str | None = None, timeout_s: float = 1800.0
) -> DistInfo:
    """Join the process group described by torchrun's environment, if any.

    Args:
        device: ``auto``, ``cpu``, ``cuda`` or ``cuda:N``; under torchrun CUDA uses
            ``cuda:LOCAL_RANK``.
        backend: Force a backend; default NCCL when the device is CUDA, else Gloo.
        timeout_s: Collective timeout.

    Returns:
        A :class:`DistInfo`; ``backend`` is None when running as a single process.
    """
    n = int(os.environ.get("WORLD_SIZE", "1"))
    use_cuda = torch.cuda.is_available() if device == "auto" else device.startswith("cuda")
    lrank = local_rank()
    if use_cuda:
        per_rank = n > 1 or device in ("auto", "cuda")
        dev = torch.device(f"cuda:{lrank}" if per_rank else device)
        torch.cuda.set_device(dev)
    else:
        dev = torch.device("cpu")
    if n <= 1 and not is_distributed():
        return DistInfo(0, 1, 0, dev, None)
    if not is_distributed():
        chosen = backend or ("nccl" if use_cuda else "gloo")
        dist.init_process_group(
            backend=chosen,
            init_method="env://",
            rank=int(os.environ["RANK"]),
            world_size=n,
            timeout=timedelta(seconds=timeout_s),
        )
    return DistInfo(rank(), world_size(), lrank, dev, str(dist.get_backend()))


def barrier() -> None:
    """Wait for every process (no-op outside a group)."""
    if is_distributed():
        dist.barrier()


def cleanup() -> None:
    """Leave the process group (no-op outside one)."""
    if is_distributed():
        dist.destroy_process_group()


def all_gather_object(obj: Any) -> list[Any]:
    """Every rank's ``obj`` (picklable), in rank order, on every rank."""
    if not is_distributed():
        return [obj]
    out: list[Any] = [None] * world_size()
    dist.all_gather_object(out, obj)
    return out


def broadcast_object(obj: Any, src: int = 0) -> Any:
    """``obj`` from rank ``src`` on every rank."""
    if not is_distributed():
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=src)
    return box[0]


def gather_arrays(
    arrays: np.ndarray | Mapping[str, np.ndarray], axis: int = 0
) -> np.ndarray | dict[str, np.ndarray]:
    """Concatenate an array (or a dict of arrays) over ranks, in rank order, on every rank."""
    parts = all_gather_object(arrays)
    if isinstance(arrays, Mapping):
        return {k: np.concatenate([np.asarray(p[k]) for p in parts], axis=axis) for k in arrays}
    return np.concatenate([np.asarray(p) for p in parts], axis=axis)


def sync_metric(metric: Any) -> None:
    """Replace a metric's per-batch ``results`` by those of all ranks (rank order).

    After this, ``metric.compute()`` gives the same value on every rank. Instances duplicated by
    a distributed sampler's padding are the caller's to drop (COCO AP drops repeated ``id``).
    """
    gathered: Sequence[list[Any]] = all_gather_object(list(metric.results))
    metric.results = [r for part in gathered for r in part]
