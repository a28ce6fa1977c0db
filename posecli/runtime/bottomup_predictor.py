"""The bottom-up predictor: whole frames in, every instance out, no boxes needed.

:class:`BottomupPredictor` has the parts of :class:`~posecli.runtime.predictor.Predictor` that
``posecli predict`` uses (``stream_with_frames``, ``backend.name``, ``device``, ``skeleton``,
``num_keypoints``), so ``run_predict`` writes, tracks, smooths and renders its results the
same way. Each frame is resized as ``bottomup_resize`` does (numpy/OpenCV); ``infer`` maps the
input ``(1, 3, H, W)`` uint8 BGR and its geometry to per-image keypoints (image pixels) and
scores — for a torch model :meth:`BottomupPoseEstimator.predict_instances`. Instance boxes
are the keypoints' extents. Boxes given by a box provider are ignored.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from posecli.runtime.frames import Frame
from posecli.runtime.predictor import as_frame
from posecli.runtime.result import FramePrediction

#: ``infer(inputs, meta)`` → ``(keypoints, scores)`` or ``(keypoints, scores, boxes,
#: box_scores)`` (lists over the batch); without boxes they are the keypoints' extents
Infer = Callable[[np.ndarray, dict[str, Any]], tuple[list[np.ndarray], ...]]
Stage = Callable[[Frame, FramePrediction], FramePrediction]


@dataclass
class _Backend:
    name: str
    device: str


def keypoint_boxes(keypoints: np.ndarray, scores: np.ndarray, thr: float = 0.0) -> np.ndarray:
    """xyxy boxes ``(N, 4)`` spanning each instance's keypoints scored above ``thr`` (all when
    none is)."""
    n = len(keypoints)
    if n == 0:
        return np.zeros((0, 4), np.float32)
    ok = scores > thr
    ok = np.where(ok.any(1, keepdims=True), ok, True)
    lo = np.where(ok[..., None], keypoints, np.inf).min(1)
    hi = np.where(ok[..., None], keypoints, -np.inf).max(1)
    return np.concatenate([lo, hi], 1).astype(np.float32)


class BottomupPredictor:
    """Whole-frame prediction with a bottom-up model.

    Args:
        infer: ``infer(inputs (1, 3, H, W) uint8, meta)`` → ``([kps (N, K, 2)], [scores])``
            (optionally also ``[boxes (N, 4)], [box_scores (N,)]``);
            ``meta`` holds ``input_size``, ``input_center``, ``input_scale`` ``(1, 2)`` and, for a
            multi-scale test, ``aug_inputs`` (a list of ``(1, 3, H_s, W_s)`` uint8).
        resize: a ``bottomup_resize`` transform (``posecli.data.transforms.bottomup``) or any
            ``resize(sample, rng)`` setting ``img``, ``input_center``, ``input_scale``.
        num_keypoints: K. skeleton: for writers. backend, device: names for reports.
    """

    def __init__(
        self,
        infer: Infer,
        resize: Any,
        num_keypoints: int,
        *,
        skeleton: Any = None,
        backend: str = "torch",
        device: str = "cpu",
        source: str = "",
        spec: Any = None,
    ) -> None:
        self.infer = infer
        self.resize = resize
        self.num_keypoints = int(num_keypoints)
        self.skeleton = skeleton
        self.backend = _Backend(backend, device)
        self.source = source
        self.spec = spec
        self.thread_report: str | None = None

    @property
    def device(self) -> str:
        return self.backend.device

    def predict_frame(self, frame: Frame) -> FramePrediction:
        """The instances of one frame."""
        h, w = frame.image.shape[:2]
        sample = self.resize({"img": frame.image, "ori_shape": (h, w)}, None)
        inputs = np.ascontiguousarray(sample["img"].transpose(2, 0, 1)[None])
        meta: dict[str, Any] = {
            "input_size": np.asarray([sample["input_size"]], np.float32),
            "input_center": np.asarray([sample["input_center"]], np.float32),
            "input_scale": np.asarray([sample["input_scale"]], np.float32),
        }
        if "aug_imgs" in sample:  # multi-scale test: the frame at every extra scale
            meta["aug_inputs"] = [
                np.ascontiguousarray(img.transpose(2, 0, 1)[None]) for img in sample["aug_imgs"]
            ]
        out = self.infer(inputs, meta)
        kp = np.asarray(out[0][0], np.float32).reshape(-1, self.num_keypoints, 2)
        sc = np.asarray(out[1][0], np.float32).reshape(-1, self.num_keypoints)
        if len(out) == 4:  # the model's own boxes and instance scores (one-stage RTMO)
            boxes = np.asarray(out[2][0], np.float32).reshape(-1, 4)
            box_scores = np.asarray(out[3][0], np.float32).reshape(-1)
        else:
            boxes = keypoint_boxes(kp, sc)
            box_scores = sc.mean(1) if len(sc) else np.zeros(0, np.float32)
        return FramePrediction(
            frame.index, frame.time_s, kp, sc, boxes, box_scores, name=frame.name
        )

    def stream_with_frames(
        self,
        frames: Iterable[Any],
        boxes: Any = None,
        *,
        stages: Sequence[Stage] = (),
        sequential: bool = False,
        threads: int | str | None = None,
        timings: dict[str, float] | None = None,
        prefetch: int | None = None,
        workload: str = "stream",
    ) -> Iterator[tuple[Frame, FramePrediction]]:
        """``(frame, result)`` per frame (one frame per network run; ``boxes``, ``threads``,
        ``prefetch`` and ``workload`` are accepted for the top-down signature, unused)."""
        timings = timings if timings is not None else {}
        for key in ("model", "postprocess"):
            timings.setdefault(key, 0.0)
        clock = time.perf_counter
        for i, item in enumerate(frames):
            frame = as_frame(item, i)
            t0 = clock()
            result = self.predict_frame(frame)
            t1 = clock()
            timings["model"] += t1 - t0
            for stage in stages:
                result = stage(frame, result)
            timings["postprocess"] += clock() - t1
            yield frame, result

    def stream(
        self, frames: Iterable[Any], boxes: Any = None, **options: Any
    ) -> Iterator[FramePrediction]:
        for _, result in self.stream_with_frames(frames, boxes, **options):
            yield result


__all__ = ["BottomupPredictor", "keypoint_boxes"]
