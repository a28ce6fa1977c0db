"""Streaming predictions from Python: one result per frame, as soon as it is predicted.

Example::

    import posecli.predict

    for result in posecli.predict.stream("video.mp4", model="work_dirs/rtmpose-mouse/best.pt"):
        print(result.frame, result.keypoints.shape)     # (N, K, 2) image pixels

    predictor = posecli.predict.load("best.onnx")       # reuse one predictor
    for result in posecli.predict.stream("frames/*.png", predictor=predictor, track=True):
        ...

``posecli predict`` is this loop plus sinks that write each result
(:func:`posecli.inference.run.run_predict`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from posecli.runtime import FramePrediction, Predictor, Stage

__all__ = ["load", "stream"]


def load(
    model: str | Path,
    *,
    backend: str = "auto",
    device: str = "auto",
    batch_size: int = 16,
    flip_test: bool | None = None,
    threads: int | None = None,
) -> Predictor:
    """A :class:`~posecli.runtime.Predictor` for a checkpoint, a zoo name (``rtmpose-m``) or an
    exported ``.onnx`` / ``.ts`` file (see :func:`posecli.inference.load.load_predictor`)."""
    from posecli.inference.load import load_predictor

    return load_predictor(
        model,
        backend=backend,
        device=device,
        batch_size=batch_size,
        flip_test=flip_test,
        threads=threads,
    )


def stream(
    source: Any,
    model: str | Path | None = None,
    *,
    predictor: Predictor | None = None,
    boxes: Callable[[Any], Any] | str | Path | None = None,
    detector: str | None = None,
    detector_weights: str | Path | None = None,
    track: bool = False,
    smooth: bool = False,
    track_metric: str = "oks",
    stages: Sequence[Stage] = (),
    **load_options: Any,
) -> Iterator[FramePrediction]:
    """Predict every frame of ``source``, yielding one :class:`FramePrediction` per frame.

    Args:
        source: a path, folder, glob, video, ``webcam:N``, stream URL (see
            :func:`~posecli.inference.sources.open_source`), or any iterable of images.
        model: what to load (default: the only ``work_dirs/**/best.pt``, else ``rtmpose-m``).
        predictor: an already loaded predictor (instead of ``model``).
        boxes: ``boxes(frame) -> (M, 4) xyxy``, a COCO detection-results file, or ``None``
            (the whole frame).
        detector: a registered detector name (``posecli list detectors``) instead of ``boxes``;
            ``detector_weights`` its weights. A two-stage checkpoint (recipe ``[detector]``)
            brings its own detector when neither ``boxes`` nor ``detector`` is given.
        track, smooth: track ids, One-Euro smoothing (as ``posecli predict``);
            ``track_metric`` ``oks`` (keypoints) or ``iou`` (boxes).
        stages: extra ``stage(frame, result) -> result`` run after them.
        load_options: ``backend``, ``device``, ``batch_size``, ``flip_test``, ``threads``.
    """
    from posecli.inference.run import PredictConfig, make_stages
    from posecli.inference.setup import make_box_provider, resolve_model_spec
    from posecli.inference.sources import FrameSource, open_source

    spec = None
    if predictor is None:
        spec, _ = resolve_model_spec(None, str(model) if model is not None else None)
        predictor = load(spec, **load_options)
    src: Any = source
    if isinstance(source, (str, Path)):
        src = open_source(source)
    box_fn: Any = boxes
    if boxes is None or isinstance(boxes, (str, Path)) or detector is not None:
        box_fn = make_box_provider(
            bbox_file=Path(boxes) if isinstance(boxes, (str, Path)) else None,
            detector=detector,
            detector_weights=None if detector_weights is None else str(detector_weights),
            checkpoint=spec,
            device=predictor.device,
            skeleton=predictor.skeleton,
        )
    all_stages: list[Stage] = list(stages)
    if isinstance(src, FrameSource) and (track or smooth):
        all_stages = [
            *make_stages(
                PredictConfig(track=track, smooth=smooth, track_metric=track_metric),
                predictor,
                src,
                box_fn,
            ),
            *stages,
        ]
    try:
        yield from predictor.stream(src, box_fn, stages=all_stages)
    finally:
        if isinstance(src, FrameSource) and src is not source:
            src.close()
