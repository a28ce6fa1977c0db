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
            if getattr(model, "kind", "topdown") == "bottomup":
                yield bottomup_predictions(model, to_device(batch, device), batch)
                continue
            keypoints, scores = model.predict(to_device(batch, device))  # type: ignore[operator]
            predictions = {
                "keypoints": keypoints.float().cpu().numpy(),
                "scores": scores.float().cpu().numpy(),
            }
            yield predictions, batch_meta(batch)
    finally:
        model.train(was_training)


def bottomup_predictions(
    model: nn.Module, batch: Mapping[str, Any], cpu_batch: Mapping[str, Any]
) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """A bottom-up batch as the metrics take it: one row per predicted instance, with its
    image's ``img_id`` (the ground truth comes from the dataset, not the batch)."""
    kps, scores = model.predict_instances(batch)  # type: ignore[operator]
    meta = cpu_batch.get("meta") or [{} for _ in kps]
    img_ids = np.concatenate(
        [
            np.full(len(kp), m.get("img_id", i))
            for i, (kp, m) in enumerate(zip(kps, meta, strict=False))
        ]
        or [np.zeros(0)]
    ).astype(np.int64)
    k = int(getattr(model, "num_keypoints", 0) or (kps[0].shape[1] if kps else 0))
    kp = np.concatenate(kps) if kps else np.zeros((0, k, 2), np.float32)
    n = len(kp)
    predictions = {
        "keypoints": kp.astype(np.float32),
        "scores": (np.concatenate(scores) if scores else np.zeros((0, k))).astype(np.float32),
    }
    box_scores = getattr(model, "last_bbox_scores", None)  # one-stage models score instances
    return predictions, {
        "img_id": img_ids,
        "id": np.full(n, -1),
        "bbox_score": np.concatenate(box_scores).astype(np.float64)
        if box_scores is not None and n
        else np.ones(n),
        "category_id": np.ones(n, np.int64),
    }


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
