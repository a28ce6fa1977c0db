"""Per-batch random input sizes (MMPose/MMDet ``BatchSyncRandomResize``), as a callback.

RTMO trains on batches resized to a random multiple of 32 between 480 and 800 pixels (the
aspect ratio kept). The callback resizes each training batch on its device before the forward
pass (``on_train_batch``): images bilinearly (``align_corners=False``), the instance targets
by the same factors — ``bboxes`` ``(…, 4)`` xyxy and ``keypoints`` ``(…, 2|3)`` in input
pixels, ``areas`` by ``sx · sy`` — and a ``heatmap_mask`` bilinearly. Dense targets (heatmaps,
displacements, SimCC labels) cannot follow a resize: a batch holding them is refused.

The first batches keep their size; after every ``interval``-th iteration a new size is drawn
for the batches that follow, as MMPose does. The draw is a function of the recipe's seed and
the iteration, so every DDP rank picks the same size without a broadcast, and a resumed run
continues with the size it had (kept in ``last.pt``).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F

from posecli.engine.callbacks import Callback
from posecli.errors import PoseCliError

if TYPE_CHECKING:
    from posecli.engine.trainer import Trainer

#: Batch keys of dense targets that a resize would misalign.
_DENSE_PREFIXES = (
    "heatmaps",
    "heatmap_weights",
    "displacement",
    "keypoint_x_labels",
    "keypoint_y_labels",
    "keypoint_labels",
    "instance_heatmaps",
)


class BatchSyncRandomResizeCallback(Callback):
    """Resize training batches to a random size drawn every ``interval`` iterations.

    Args:
        random_size_range: ``[min, max]`` pixels of the height (MMPose: ``(480, 800)``); each
            end is rounded to a multiple of ``size_divisor``.
        interval: iterations between draws (MMPose's default 10; RTMO: 1).
        size_divisor: the drawn height and width are multiples of this.
    """

    def __init__(
        self, random_size_range: Sequence[int], interval: int = 10, size_divisor: int = 32
    ) -> None:
        lo, hi = (int(v) for v in random_size_range)
        if not 0 < lo <= hi or interval < 1 or size_divisor < 1:
            raise ValueError(
                "batch_sync_random_resize: random_size_range must be [min, max] with "
                f"0 < min <= max, interval and size_divisor >= 1 (got {list(random_size_range)}, "
                f"{interval}, {size_divisor})"
            )
        self.range = (round(lo / size_divisor), round(hi / size_divisor))
        self.interval = int(interval)
        self.size_divisor = int(size_divisor)
        self.size: tuple[int, int] | None = None  # (h, w) of the batches to come
        self.seed = 0

    def on_train_start(self, trainer: Trainer) -> None:
        self.seed = int(trainer.recipe.seed)

    def draw(self, step: int, aspect_ratio: float) -> tuple[int, int]:
        """The ``(h, w)`` drawn after iteration ``step`` for inputs of ``w / h = aspect_ratio``."""
        k = random.Random(self.seed * 1_000_003 + step).randint(*self.range)
        return self.size_divisor * k, self.size_divisor * int(aspect_ratio * k)

    def resize(self, batch: dict[str, Any]) -> None:
        """Resize ``batch`` in place to :attr:`size` (no-op before the first draw)."""
        inputs = batch["inputs"]
        h, w = (int(v) for v in inputs.shape[-2:])
        if self.size is None or self.size == (h, w):
            return
        dense = sorted(k for k in batch if k.startswith(_DENSE_PREFIXES))
        if dense:
            raise PoseCliError(
                f"batch_sync_random_resize: the batch holds dense targets ({', '.join(dense)}) "
                "that a resize would misalign; use it with instance-target codecs (yolox_pose)"
            )
        sy, sx = self.size[0] / h, self.size[1] / w
        batch["inputs"] = F.interpolate(
            inputs.float(), size=self.size, mode="bilinear", align_corners=False
        )
        factors = {"bboxes": (sx, sy, sx, sy), "keypoints": (sx, sy), "areas": (sx * sy,)}
        for key, scale in factors.items():
            if key in batch:
                batch[key] = _scaled(batch[key], scale)
        if "heatmap_mask" in batch:
            mask = batch["heatmap_mask"]
            batch["heatmap_mask"] = F.interpolate(
                mask[:, None].float(), size=self.size, mode="bilinear", align_corners=False
            )[:, 0]

    def on_train_batch(self, trainer: Trainer, batch: dict[str, Any]) -> None:
        h, w = (int(v) for v in batch["inputs"].shape[-2:])
        self.resize(batch)
        if (trainer.step + 1) % self.interval == 0:
            self.size = self.draw(trainer.step, w / h)

    def state_dict(self) -> dict[str, Any]:
        return {} if self.size is None else {"size": list(self.size)}

    def load_state_dict(self, state: Any) -> None:
        size = state.get("size")
        self.size = None if size is None else (int(size[0]), int(size[1]))


def _scaled(value: Any, factors: tuple[float, ...]) -> Any:
    """``value`` (a tensor or a list of per-image tensors) times ``factors``: one factor for
    every element, or per column of the last axis (columns past them unchanged)."""
    if isinstance(value, (list, tuple)):
        return [_scaled(v, factors) for v in value]
    if not torch.is_tensor(value) or value.numel() == 0:
        return value
    out = value.float()
    if len(factors) == 1:
        return out * factors[0]
    column = torch.ones(out.shape[-1], dtype=out.dtype, device=out.device)
    n = min(len(factors), out.shape[-1])
    column[:n] = torch.tensor(factors[:n], dtype=out.dtype, device=out.device)
    return out * column


__all__ = ["BatchSyncRandomResizeCallback"]
