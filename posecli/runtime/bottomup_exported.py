"""Whole-frame prediction from an exported one-stage file (``posecli export`` of RTMO), torch-free.

The graph ends at each image's best candidates (``scores, bboxes, keypoints,
keypoint_scores`` in input pixels); the score threshold and box NMS run here with the
``yolox_pose`` codec rebuilt from the file's metadata, and ``bottomup_resize`` (its settings in
the metadata) maps frames in and instances back, exactly as a checkpoint does
(:meth:`~posecli.models.estimators.bottomup.BottomupPoseEstimator.predict_instances`).
Exported AE / DEKR files hold only their network: their grouping (and DEKR's rescoring net)
needs the checkpoint.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from posecli.errors import PoseCliError
from posecli.runtime.bottomup import images_to_image_space
from posecli.runtime.bottomup_predictor import BottomupPredictor


def exported_bottomup_predictor(
    backend: Any, meta: dict[str, Any], path: str | Path, skeleton: Any = None
) -> BottomupPredictor:
    """A :class:`BottomupPredictor` running an exported file's ``backend`` (ONNX Runtime or
    TorchScript, with ``_run(x)`` on float32 ``(B, 3, H, W)``) with its ``meta``data."""
    from posecli.codecs.yolox_pose import YOLOXPoseAnnotationProcessor
    from posecli.data.transforms.bottomup import BottomupResize

    method = meta.get("method")
    if method != "rtmo":
        raise PoseCliError(
            f"{path}: an exported {method} file holds its network only; its grouping runs "
            "from the checkpoint (posecli predict --checkpoint CHECKPOINT)"
        )
    codec_args = {k: v for k, v in dict(meta["codec"]).items() if k != "name"}
    codec = YOLOXPoseAnnotationProcessor(**codec_args)
    resize = BottomupResize(**dict(meta["resize"]))
    k = int(meta["num_keypoints"])

    def infer(inputs: np.ndarray, info: dict[str, np.ndarray]) -> tuple[list[np.ndarray], ...]:
        outs = backend._run(np.ascontiguousarray(inputs, np.float32))
        kps, kscores, boxes, bscores = codec.batch_decode(*outs[:4])
        size = (int(inputs.shape[-1]), int(inputs.shape[-2]))
        center = np.asarray(info["input_center"], np.float32).reshape(-1, 2)
        scale = np.asarray(info["input_scale"], np.float32).reshape(-1, 2)
        return (
            images_to_image_space(kps, size, center, scale),
            kscores,
            images_to_image_space(boxes, size, center, scale),
            bscores,
        )

    return BottomupPredictor(
        infer,
        resize,
        k,
        skeleton=skeleton,
        backend=str(getattr(backend, "name", "onnxruntime")),
        device=str(getattr(backend, "device", "cpu")),
        source=str(path),
    )


__all__ = ["exported_bottomup_predictor"]
