"""The PyTorch reference path of the export tests: posecli's own transforms + model.predict."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from posecli.api import load_checkpoint
from posecli.data.transforms.affine import TopdownAffine
from posecli.data.transforms.bbox import GetBBoxCenterScale


def torch_predict(
    checkpoint: Path,
    frames: list[np.ndarray],
    padding: float,
    use_udp: bool,
    flip_test: bool | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Whole-frame boxes through GetBBoxCenterScale → TopdownAffine → ``model.predict`` (the
    training-time evaluation path; flip test as the recipe says unless ``flip_test``):
    keypoints ``(F,K,2)`` image pixels and scores ``(F,K)``."""
    model, _ = load_checkpoint(checkpoint)
    if flip_test is not None:
        model.test_cfg = model.test_cfg.model_copy(update={"flip_test": flip_test})
    size = tuple(model.codec.input_size)
    rng = np.random.default_rng(0)
    imgs, centers, scales = [], [], []
    for frame in frames:
        h, w = frame.shape[:2]
        s = {"img": frame, "bbox": np.array([[0, 0, w, h]], np.float32)}
        s = TopdownAffine(size, use_udp)(GetBBoxCenterScale(padding)(s, rng), rng)
        imgs.append(s["img"])
        centers.append(s["input_center"])
        scales.append(s["input_scale"])
    x = torch.from_numpy(np.stack(imgs)).permute(0, 3, 1, 2).float()
    kp, sc = model.predict(
        {"inputs": x, "input_center": np.stack(centers), "input_scale": np.stack(scales)}
    )
    return kp.numpy(), sc.numpy()
