"""One validation pass for the trainer: metric values plus the predictions callbacks look at.

The values equal :func:`posecli.engine.evaluate.evaluate` on the same model and loader; the
pass also keeps every instance's prediction and ground truth (image pixels) and the first
batch's model inputs with their predictions in input pixels, for per-keypoint errors and
pictures (:class:`posecli.engine.callbacks.Validation`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from posecli.engine.callbacks import Validation
from posecli.engine.evaluate import batch_meta, bottomup_predictions, to_device
from posecli.evaluation import Metric

__all__ = ["image_to_input", "run_validation"]


def image_to_input(
    keypoints: np.ndarray, center: np.ndarray, scale: np.ndarray, input_size: tuple[int, int]
) -> np.ndarray:
    """Image pixels → input pixels of an unrotated top-down crop.

    ``kp_in = (kp_img - center + scale / 2) / scale · input_size``, the inverse of
    :func:`posecli.models.pose_model.to_image_space`. Shapes: keypoints ``(N, K, 2)``,
    center and scale ``(N, 2)``; ``input_size`` is ``(w, h)``.
    """
    c = np.asarray(center, np.float64).reshape(-1, 1, 2)
    s = np.asarray(scale, np.float64).reshape(-1, 1, 2)
    size = np.asarray(input_size, np.float64).reshape(1, 1, 2)
    return ((np.asarray(keypoints, np.float64) - c + s / 2) / s * size).astype(np.float32)


def _instances(array: Any, k: int) -> np.ndarray:
    return np.asarray(array, np.float32).reshape(-1, k, *np.asarray(array).shape[-1:])


@torch.no_grad()
def run_validation(
    model: nn.Module,
    loader: Iterable[Mapping[str, Any]],
    metrics: Sequence[Metric],
    device: torch.device,
    *,
    epoch: int,
    input_size: tuple[int, int] | None,
    gather: Any = None,
    n_crops: int = 8,
) -> Validation:
    """Predict every batch of ``loader``, feed ``metrics`` and keep what callbacks need.

    Args:
        model: The :class:`~posecli.models.pose_model.PoseModel` to evaluate (not DDP-wrapped).
        loader: Validation batches (top-down collate contract).
        metrics: Metric objects (reset here).
        device: Where the model runs.
        epoch: Epochs finished (recorded in the result).
        input_size: The model input ``(w, h)`` (to place predictions on the crops); ``None``
            (models without crops, such as lifters): no crops kept.
        gather: Optional callable syncing a metric's results across ranks before compute.
        n_crops: How many inputs of the first batch to keep.
    """
    for metric in metrics:
        metric.reset()
    was_training = model.training
    model.eval()
    kps: list[np.ndarray] = []
    scores: list[np.ndarray] = []
    gts: list[np.ndarray] = []
    vis: list[np.ndarray] = []
    crops = np.zeros((0, 1, 1, 3), np.uint8)
    crop_kps = np.zeros((0, 0, 2), np.float32)
    crop_scores = np.zeros((0, 0), np.float32)
    try:
        bottomup = getattr(model, "kind", "topdown") == "bottomup"
        if bottomup:  # instances are found, not given: the ground truth is the dataset's
            for metric in metrics:
                metric.bind_dataset(getattr(loader, "dataset", None))
        for batch in loader:
            if bottomup:
                predictions, meta = bottomup_predictions(model, to_device(batch, device), batch)
            else:
                keypoints, kp_scores = model.predict(to_device(batch, device))  # type: ignore[operator]
                predictions = {
                    "keypoints": keypoints.float().cpu().numpy(),
                    "scores": kp_scores.float().cpu().numpy(),
                }
                meta = batch_meta(batch)
            for metric in metrics:
                metric.process(predictions, meta)
            k = predictions["keypoints"].shape[-2]
            kps.append(_instances(predictions["keypoints"], k))
            scores.append(np.asarray(predictions["scores"], np.float32).reshape(-1, k))
            gt_shape = np.shape(meta["keypoints"])[-2:] if "keypoints" in meta else ()
            if gt_shape == predictions["keypoints"].shape[-2:] and "keypoints_visible" in meta:
                gts.append(_instances(meta["keypoints"], k))
                vis.append(np.asarray(meta["keypoints_visible"], np.float32).reshape(-1, k))
            has_crops = input_size is not None and "inputs" in batch and "input_center" in meta
            if has_crops and not len(crops) and predictions["keypoints"].shape[-1] == 2:
                n = min(n_crops, int(batch["inputs"].shape[0]))
                images = batch["inputs"][:n].permute(0, 2, 3, 1).cpu().numpy()
                crops = np.ascontiguousarray(images.astype(np.uint8))
                crop_kps = image_to_input(
                    predictions["keypoints"][:n].reshape(n, k, 2),
                    meta["input_center"][:n],
                    meta["input_scale"][:n],
                    input_size,  # type: ignore[arg-type]
                )
                crop_scores = scores[-1][:n]
    finally:
        model.train(was_training)
    values: dict[str, float] = {}
    for metric in metrics:
        if gather is not None:
            gather(metric)
        values.update(metric.compute())
    k = kps[0].shape[1] if kps else 0
    empty = np.zeros((0, k, 2), np.float32)
    return Validation(
        epoch=epoch,
        values=values,
        keypoints=np.concatenate(kps) if kps else empty,
        scores=np.concatenate(scores) if scores else np.zeros((0, k), np.float32),
        gt_keypoints=np.concatenate(gts) if gts else empty,
        visible=np.concatenate(vis) if vis else np.zeros((0, k), np.float32),
        crops=crops,
        crop_keypoints=crop_kps,
        crop_scores=crop_scores,
    )
