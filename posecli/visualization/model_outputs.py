"""The picture behind ``posecli visualize-heatmap``: a model's raw outputs on one crop.

The crop is cut exactly as for inference (:meth:`Predictor.crops`); the head's outputs (no flip
test) are drawn according to their kind:

- heatmap heads ``(1, K, h, w)`` (and integral heads' heatmaps): :func:`heatmap_grid`;
- SimCC heads ``(simcc_x (1, K, Wx), simcc_y (1, K, Hy))``: :func:`simcc_profiles`;
- regression heads ``(1, K, 2)`` normalised coordinates: :func:`regression_points`;
  RLE heads ``(1, K, 4)`` add a per-axis sigma (sigmoid, × input size in crop pixels).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from posecli.errors import PoseCliError
from posecli.visualization.heatmaps import heatmap_grid, regression_points, simcc_profiles

__all__ = ["output_kind", "render_model_outputs"]


def output_kind(outputs: Any) -> str:
    """``simcc``, ``heatmap``, ``rle`` or ``regression`` from the shape of head outputs."""
    if isinstance(outputs, (tuple, list)) and len(outputs) == 2:
        return "simcc"
    if isinstance(outputs, torch.Tensor) and outputs.ndim == 4:
        return "heatmap"
    if isinstance(outputs, torch.Tensor) and outputs.ndim == 3 and outputs.shape[-1] == 4:
        return "rle"
    if isinstance(outputs, torch.Tensor) and outputs.ndim == 3 and outputs.shape[-1] == 2:
        return "regression"
    shape = getattr(outputs, "shape", type(outputs).__name__)
    raise PoseCliError(f"cannot draw head outputs of shape {shape}")


def render_model_outputs(predictor: Any, image: np.ndarray, bbox: Any = None) -> np.ndarray:
    """Draw the raw outputs of ``predictor``'s model for the crop of ``bbox`` in ``image``.

    Args:
        predictor: a :class:`~posecli.runtime.Predictor` on the ``torch`` backend.
        image: BGR uint8 ``(H, W, 3)``.
        bbox: ``(4,)`` xyxy image pixels (``None``: the whole image).

    Returns:
        A BGR uint8 picture (size depends on the kind, see the module docstring).
    """
    boxes = None if bbox is None else np.asarray(bbox, np.float32).reshape(1, 4)
    crops = predictor.crops(image, boxes)
    crop = crops.images[0]
    model = predictor.model
    skeleton = predictor.skeleton
    names = list(skeleton.keypoint_names) if skeleton is not None else None
    colors = None
    if skeleton is not None:
        from posecli.visualization.draw import skeleton_style

        kc = skeleton_style(skeleton)["keypoint_colors"]
        colors = kc if kc is not None and len(kc) == skeleton.num_keypoints else None
    with torch.inference_mode():
        inputs = predictor.backend.to_tensor(crops.images[:1])
        feats = model.extract_feats(inputs)
        outputs = model.head.postprocess(model.head(feats))
        kind = output_kind(outputs)
        if kind == "regression" and hasattr(model.head, "heatmaps"):
            outputs, kind = model.head.heatmaps(feats), "heatmap"
    w, h = predictor.input_size
    if kind == "heatmap":
        return heatmap_grid(crop, outputs[0].float().cpu().numpy(), names)
    if kind == "simcc":
        # the distributions the loss trains: softmax of the logits at the loss temperature
        beta = float(getattr(getattr(model.head, "loss_module", None), "beta", 1.0))
        sx, sy = (torch.softmax(o[0].float() * beta, -1).cpu().numpy() for o in outputs)
        return simcc_profiles(crop, sx, sy, names, colors=colors)
    out = outputs[0].float().cpu().numpy()
    size = np.array([w, h], np.float64)
    points = out[:, :2] * size  # the regression codec: normalised → input pixels
    sigmas = out[:, 2:4] * size if kind == "rle" else None
    scores = 1.0 - out[:, 2:4].mean(1) if kind == "rle" else None
    return regression_points(crop, points, sigmas, names, scores=scores, colors=colors)
