"""The evaluation loop: predict every batch of a loader and feed the metrics."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from posecli.evaluation import Metric

#: Batch keys handed to the metrics (ground truth and meta; tensors become numpy arrays).
META_KEYS = (
    "keypoints",
    "keypoints_visible",
    "bbox",
    "bbox_score",
    "input_center",
    "input_scale",
    "head_size",
    "image_size",
    "img_id",
    "id",
    "category_id",
    "area",
    "box_size",
    "bbox_size",
    "lifting_target",
    "lifting_target_visible",
    "action",
    "subject",
    "dataset_name",
)


def batch_meta(batch: Mapping[str, Any]) -> dict[str, Any]:
    """The ground-truth/meta part of a collated batch as numpy arrays for the metrics."""
    meta: dict[str, Any] = {}
    for key in META_KEYS:
        value = batch.get(key)
        if value is None and "meta" in batch:
            items = [m.get(key) for m in batch["meta"]]
            if all(v is not None for v in items):
                value = np.asarray(items)
        if value is None:
            continue
        meta[key] = value.detach().cpu().numpy() if isinstance(value, torch.Tensor) else value
    if "image_size" not in meta and "meta" in batch:
        shapes = [m.get("ori_shape") for m in batch["meta"]]
        if shapes and all(s is not None for s in shapes):
            meta["image_size"] = np.asarray(shapes, np.float64)[:, 1::-1]  # (h, w) → (w, h)
    return meta


def to_device(batch: Mapping[str, Any], device: torch.device) -> dict[str, Any]:
    """Move the tensors of a batch to ``device`` (non-blocking); other values pass through."""
    return {
        k: v.to(device, non_blocking=True) if isinstance(v, torch.Tensor) else v
        for k, v in batch.items()
    }


@torch.no_grad()
def predict_loader(
    model: nn.Module, loader: Iterable[Mapping[str, Any]], device: torch.device
) -> Iterable[tuple[dict[str, np.ndarray], dict[str, Any]]]:
    """Yield ``(predictions, batch_meta)`` per batch; predictions in image pixels."""
    was_training = model.training
    model.eval()
    try:
        for batch in loader:
            keypoints, scores = model.predict(to_device(batch, device))  # type: ignore[operator]
            predictions = {
                "keypoints": keypoints.float().cpu().numpy(),
                "scores": scores.float().cpu().numpy(),
            }
            yield predictions, batch_meta(batch)
    finally:
        model.train(was_training)


def evaluate(
    model: nn.Module,
    loader: Iterable[Mapping[str, Any]],
    metrics: Sequence[Metric],
    device: torch.device,
    *,
    gather: Any = None,
) -> dict[str, float]:
    """Run ``model.predict`` over ``loader`` and return every metric's values.

    Args:
        model: A :class:`~posecli.models.pose_model.PoseModel` (not a DDP wrapper).
        loader: Batches following the collate contract (``posecli.data``).
        metrics: Fresh or reset metric objects.
        device: Where the model runs.
        gather: Optional callable syncing a metric's results across ranks before compute.
    """
    for metric in metrics:
        metric.reset()
        metric.bind_dataset(getattr(loader, "dataset", None))
    for predictions, meta in predict_loader(model, loader, device):
        for metric in metrics:
            metric.process(predictions, meta)
    values: dict[str, float] = {}
    for metric in metrics:
        if gather is not None:
            gather(metric)
        values.update(metric.compute())
    return values
