"""Data loaders for the trainer: the recipe's splits, sharded across ranks under DDP."""

from __future__ import annotations

from typing import Any

from torch.utils.data import DataLoader

from posecli.engine import distributed as dist
from posecli.recipe import Recipe


def build_loader(recipe: Recipe, split: str, skeleton: Any = None, *, training: bool) -> DataLoader:
    """The ``DataLoader`` of ``recipe.data.<split>`` for this rank.

    Training shuffles by ``(seed, epoch)`` and augments each sample from
    ``default_rng([seed, epoch, index])``, so results do not depend on the number of workers
    or on interruptions. Evaluation keeps the dataset order.
    """
    from posecli.data.loader import build_dataloader

    return build_dataloader(
        recipe,
        split,
        shuffle=None if training else False,
        num_replicas=dist.world_size(),
        rank=dist.rank(),
    )
