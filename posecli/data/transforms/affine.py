"""TopdownAffine: one warp of the image into the model input, keypoints with the same matrix."""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from posecli.data.io import gray_plane
from posecli.data.transforms.geometry import (
    compose_affine,
    fix_aspect_ratio,
    get_udp_warp_matrix,
    get_warp_matrix,
    warp_points,
)


class TopdownAffine:
    """Warp the box (``bbox_center``, ``bbox_scale``, ``bbox_rotation``) to ``input_size = (w, h)``.

    The box scale is first grown to the input aspect ratio; the image is warped once with
    ``cv2.warpAffine(INTER_LINEAR, border 0)`` (a pending lazy flip is folded into the same
    matrix; a grayscale view is warped as one plane, then expanded to BGR) and the keypoints
    with the same matrix into ``transformed_keypoints``. Visibility is unchanged (the codec
    zeroes weights outside). Records ``input_size``, ``input_center``,
    ``input_scale`` (aspect-fixed) and ``warp_mat``.

    Args:
        input_size: model input ``(w, h)``.
        use_udp: unbiased data processing (UDP) warp matrix.
    """

    def __init__(self, input_size: tuple[int, int] | list[int], use_udp: bool = False) -> None:
        if len(input_size) != 2:
            raise ValueError(f"input_size must be [width, height], got {input_size}")
        self.input_size = (int(input_size[0]), int(input_size[1]))
        self.use_udp = bool(use_udp)

    def __call__(self, sample: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
        w, h = self.input_size
        scale = fix_aspect_ratio(sample["bbox_scale"], w / h)
        sample["bbox_scale"] = scale
        center = np.asarray(sample["bbox_center"], np.float32)[0]
        rot = float(np.asarray(sample.get("bbox_rotation", [0.0])).reshape(-1)[0])
        if self.use_udp:
            m = get_udp_warp_matrix(center, scale[0], rot, (w, h))
        else:
            m = get_warp_matrix(center, scale[0], rot, (w, h))
        pending = sample.pop("img_pending", None)
        m_img = m if pending is None else compose_affine(m, pending)
        if "img" in sample:
            img = sample["img"]
            plane = gray_plane(img)
            if plane is None:
                sample["img"] = cv2.warpAffine(img, m_img, (w, h), flags=cv2.INTER_LINEAR)
            else:  # a gray view: warp its one plane (same values per channel), then expand
                crop = cv2.warpAffine(plane, m_img, (w, h), flags=cv2.INTER_LINEAR)
                sample["img"] = cv2.cvtColor(crop, cv2.COLOR_GRAY2BGR)
            sample["img_shape"] = (h, w)
        if "keypoints" in sample:
            sample["transformed_keypoints"] = warp_points(sample["keypoints"], m)
        sample["input_size"] = (w, h)
        sample["input_center"] = center.astype(np.float32)
        sample["input_scale"] = scale[0].astype(np.float32)
        sample["warp_mat"] = m.astype(np.float32)
        return sample


__all__ = ["TopdownAffine"]
