"""``Predictor(spec, backend)``: crops → backend → flip test → decode → image pixels.

One predictor for every backend (PyTorch, ONNX Runtime, TorchScript): the backend only maps
crops to raw outputs; cutting crops (:mod:`posecli.runtime.geometry`), batching, the flip
test (:mod:`posecli.runtime.flip`) and decoding (the spec's codec, numpy) happen here, so a
checkpoint and its exported file give the same keypoints.

Each box ``(x1, y1, x2, y2)`` → centre and ``scale = size · padding`` grown to the input
aspect ratio → one ``cv2.warpAffine`` into the ``(w, h)`` crop; crops of several boxes and
frames run ``batch_size`` at a time (with the flip test, each batch also holds the mirrored
crops); decoded crop keypoints go back to image pixels with
``kp / input_size · scale + centre - scale / 2``.

Example::

    import posecli.predict

    predictor = posecli.predict.load("best.pt")                 # or "best.onnx"
    result = predictor.predict(image, bboxes=[[10, 20, 200, 300]])
    result.keypoints, result.keypoint_scores                   # (N, K, 2), (N, K)
    for result in predictor.stream(frames):                    # any iterable of images
        ...
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from posecli.codecs.rotation import QUARTER_TURNS, average_views, rotate_crops, unrotate_simcc
from posecli.errors import PoseCliError
from posecli.runtime.backends import Backend
from posecli.runtime.flip import flip_back, flip_crops, merge
from posecli.runtime.frames import Frame, read_image, to_bgr_uint8
from posecli.runtime.geometry import box_crops, crop_to_image
from posecli.runtime.result import CropBatch, FramePrediction
from posecli.runtime.spec import TopDownSpec
from posecli.runtime.threads import ThreadMemory, ThreadTuner, available_cores

log = logging.getLogger(__name__)

#: A stage after the model: ``stage(frame, result) -> result`` (tracking, smoothing, lifting).
Stage = Callable[[Frame, FramePrediction], FramePrediction]
#: Boxes of a frame: ``(M, 4)`` / ``(M, 5)`` xyxy[score] arrays, or objects with ``xyxy``/``scores``.
BoxFn = Callable[[Frame], Any]

STAGES = ("decode", "detect", "preprocess", "model", "postprocess", "write")


def as_boxes(bboxes: Any, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """``(xyxy (M, 4), scores (M,))`` float32 of ``None`` (the whole image), an object with
    ``xyxy``/``scores``, or an ``(M, 4)`` / ``(M, 5)`` array; zero-size and non-finite boxes
    are dropped (with a warning)."""
    if bboxes is None:
        xyxy = np.array([[0, 0, size[0], size[1]]], np.float32)
        scores = np.ones(1, np.float32)
    elif hasattr(bboxes, "xyxy"):
        xyxy = np.asarray(bboxes.xyxy, np.float32).reshape(-1, 4)
        scores = np.asarray(bboxes.scores, np.float32).reshape(-1)
    else:
        arr = np.asarray(bboxes, np.float32)
        if arr.size == 0:
            return np.zeros((0, 4), np.float32), np.zeros(0, np.float32)
        arr = arr.reshape(-1, arr.shape[-1])
        if arr.shape[1] not in (4, 5):
            raise PoseCliError(f"bboxes must be (M, 4) or (M, 5) xyxy[score], got {arr.shape}")
        xyxy = arr[:, :4]
        scores = arr[:, 4] if arr.shape[1] == 5 else np.ones(len(arr), np.float32)
    ok = np.isfinite(xyxy).all(1) & ((xyxy[:, 2:] - xyxy[:, :2]) > 0).all(1)
    if not ok.all():
        log.warning("skipped %d zero-size or non-finite box(es)", int((~ok).sum()))
    return xyxy[ok], scores[ok]


def as_frame(item: Any, index: int) -> Frame:
    """A :class:`Frame` of a frame, an image array (BGR; grey/BGRA converted) or a file path."""
    if isinstance(item, Frame):
        return item
    if isinstance(item, (str, Path)):
        return Frame(index, None, read_image(item), Path(item).name, Path(item))
    return Frame(index, None, to_bgr_uint8(np.asarray(item)), f"image#{index}")


class Predictor:
    """Top-down pose estimation with one :class:`TopDownSpec` and one :class:`Backend`.

    Args:
        spec: crop geometry, flip test and decode.
        backend: maps crops to raw outputs.
        batch_size: crops per backend run (doubled by the flip test's mirrored crops).
        flip_test: override the spec's flip test (``None``: as the recipe/export says).
        rotation_test: override the spec's rotation test (``None``: as the recipe/export says).
        skeleton: a skeleton object for writers (names, links, colours); optional.
        source: what was loaded (for messages).
    """

    def __init__(
        self,
        spec: TopDownSpec,
        backend: Backend,
        *,
        batch_size: int = 16,
        flip_test: bool | None = None,
        rotation_test: bool | None = None,
        skeleton: Any = None,
        source: str = "",
    ) -> None:
        if batch_size < 1:
            raise PoseCliError(f"batch_size must be >= 1, got {batch_size}")
        if not isinstance(backend, Backend):
            raise PoseCliError(
                f"{type(backend).__name__} is not a Backend (needs name, device, threads, "
                "run(crops) and set_threads(n))"
            )
        if flip_test is not None and bool(flip_test) != spec.flip_test:
            if flip_test and spec.flip is None:
                raise PoseCliError(f"{source or 'model'}: no flip_indices, so no flip test")
            spec = spec.replace(flip_test=bool(flip_test))
        if rotation_test is not None and bool(rotation_test) != spec.rotation_test:
            try:
                spec = spec.replace(rotation_test=bool(rotation_test))
            except PoseCliError as exc:
                raise PoseCliError(f"{source or 'model'}: {exc}") from None
        self.spec, self.backend = spec, backend
        self.batch_size = int(batch_size)
        self.skeleton = skeleton
        self.source = source
        self.codec = spec.build_codec()
        self.thread_report: str | None = None
        if (
            skeleton is not None
            and getattr(skeleton, "num_keypoints", spec.num_keypoints) != spec.num_keypoints
        ):
            raise PoseCliError(
                f"skeleton {skeleton.name!r} has {skeleton.num_keypoints} keypoints, "
                f"the model predicts {spec.num_keypoints}"
            )

    # -- properties ------------------------------------------------------------------------
    @property
    def input_size(self) -> tuple[int, int]:
        """Crop ``(w, h)``."""
        return self.spec.input_size

    @property
    def num_keypoints(self) -> int:
        return self.spec.num_keypoints

    @property
    def flip_test(self) -> bool:
        return self.spec.flip_test

    @property
    def device(self) -> str:
        """``cpu`` or ``cuda``: where the backend runs."""
        return self.backend.device

    @property
    def model(self) -> Any:
        """The PyTorch model of a ``torch`` backend (``None`` for exported files)."""
        return getattr(self.backend, "model", None)

    # -- stages ----------------------------------------------------------------------------
    def crops(self, image: np.ndarray, boxes: Any = None) -> CropBatch:
        """Warp each box of ``image`` (BGR uint8 ``(H, W, 3)``) into a crop.

        Args:
            image: the image.
            boxes: ``(M, 4)`` xyxy image pixels, an object with ``xyxy`` (``None``: the whole
                image). Zero-size boxes are dropped.
        """
        size = (int(image.shape[1]), int(image.shape[0]))
        xyxy, _ = as_boxes(boxes, size)
        s = self.spec
        images, centers, scales = box_crops(
            image, xyxy, s.input_size, padding=s.padding, use_udp=s.use_udp, fixed_size=s.fixed_size
        )
        return CropBatch(images, centers, scales)

    def raw_outputs(self, images: np.ndarray) -> list[np.ndarray]:
        """Raw outputs of crops ``(B, h, w, 3)`` after the flip test (when on): the mirrored
        crops run in the same backend call, are flipped back and averaged with the plain ones.
        With the rotation test, the crops turned by 1–3 quarter turns join the same call and
        their (flip-merged) outputs, turned back, are averaged with the plain ones."""
        s = self.spec
        turns = QUARTER_TURNS if s.rotation_test else (0,)
        flip = s.flip if s.flip_test else None
        views = [rotate_crops(images, k) for k in turns]
        if flip is not None:
            views += [flip_crops(v) for v in views]
        out = self.backend.run(np.concatenate(views) if len(views) > 1 else views[0])
        n, t = len(images), len(turns)
        per_view = [[o[i * n : (i + 1) * n] for o in out] for i in range(len(views))]
        merged = []
        for i, k in enumerate(turns):
            view = per_view[i]
            if flip is not None:
                view = merge(view, flip_back(per_view[t + i], s.output_kind, flip, s.input_size))
            if k:
                view = list(unrotate_simcc(view[0], view[1], k, s.rotation_shift_bins))
            merged.append(view)
        if t == 1:
            return merged[0]
        return [np.asarray(o, np.float32) for o in average_views(merged)]

    def decode(
        self, outputs: Sequence[np.ndarray], centers: np.ndarray, scales: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Raw outputs → keypoints ``(B, K, 2)`` in image pixels and scores ``(B, K)``."""
        kp, scores = self.codec.batch_decode(*outputs)[:2]
        kp = crop_to_image(np.asarray(kp, np.float32), self.input_size, centers, scales)
        return kp, np.asarray(scores, np.float32)

    def infer(
        self, crops: CropBatch, timings: dict[str, float] | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Keypoints ``(M, K, 2)`` (image pixels) and scores ``(M, K)`` of a crop batch,
        ``batch_size`` crops per backend run; adds to ``timings["model"|"postprocess"]``."""
        k = self.num_keypoints
        if len(crops) == 0:
            return np.zeros((0, k, 2), np.float32), np.zeros((0, k), np.float32)
        kps, scs = [], []
        clock = time.perf_counter
        for s in range(0, len(crops), self.batch_size):
            e = s + self.batch_size
            t0 = clock()
            out = self.raw_outputs(crops.images[s:e])
            t1 = clock()
            kp, sc = self.decode(out, crops.centers[s:e], crops.scales[s:e])
            if timings is not None:
                timings["model"] += t1 - t0
                timings["postprocess"] += clock() - t1
            kps.append(kp)
            scs.append(sc)
        return (np.concatenate(kps), np.concatenate(scs)) if len(kps) > 1 else (kps[0], scs[0])

    def tuning_key(self, workload: str = "stream") -> str | None:
        """What a measured thread count applies to: the model file (path, size, mtime), the
        backend, the cores, the batch, the flip test and ``workload`` (the outputs and stages
        of the run); ``None`` when the model is not a file (nothing to key it on)."""
        raw = getattr(self.backend, "path", None) or self.source
        path = Path(raw) if raw else None
        if path is None or not path.is_file():
            return None
        st = path.stat()
        return (
            f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}|{self.backend.name}|"
            f"cores={available_cores()}|batch={self.batch_size}|flip={int(self.flip_test)}|"
            f"{workload}"
        )

    # -- public ----------------------------------------------------------------------------
    def predict(
        self, image_or_frames: Any, bboxes: Any = None
    ) -> FramePrediction | list[FramePrediction]:
        """Pose of every box of one image or of several.

        Args:
            image_or_frames: one image (BGR uint8 ``(H, W, 3)``, greyscale or BGRA converted;
                a file path; a :class:`Frame`) or a sequence of them.
            bboxes: for one image, ``(M, 4)`` xyxy boxes (or ``(M, 5)`` with scores); for a
                sequence, one such entry per image. ``None``: the whole image is the box.

        Returns:
            One :class:`FramePrediction` (``keypoints (N, K, 2)`` image pixels,
            ``keypoint_scores (N, K)``, ``bboxes (N, 4)``, ``bbox_scores (N,)``), or a list.
        """
        single = isinstance(image_or_frames, (str, Path, Frame)) or (
            isinstance(image_or_frames, np.ndarray) and image_or_frames.ndim in (2, 3)
        )
        items = [image_or_frames] if single else list(image_or_frames)
        per_image = (
            [bboxes] if single else ([None] * len(items) if bboxes is None else list(bboxes))
        )
        if len(per_image) != len(items):
            raise PoseCliError(f"{len(per_image)} box entries for {len(items)} images")
        frames = [as_frame(item, i) for i, item in enumerate(items)]
        boxes = [as_boxes(b, f.size) for f, b in zip(frames, per_image, strict=True)]
        parts = [self.crops(f.image, b[0]) for f, b in zip(frames, boxes, strict=True)]
        kps, scs = self.infer(CropBatch.concat(parts, self.input_size))
        results, start = [], 0
        for f, (xyxy, bsc) in zip(frames, boxes, strict=True):
            n = len(xyxy)
            results.append(
                FramePrediction(
                    f.index,
                    f.time_s,
                    kps[start : start + n],
                    scs[start : start + n],
                    xyxy,
                    bsc,
                    name=f.name,
                )
            )
            start += n
        return results[0] if single else results

    def stream(
        self, frames: Iterable[Any], boxes: BoxFn | None = None, **options: Any
    ) -> Iterator[FramePrediction]:
        """One :class:`FramePrediction` per frame of ``frames``, as soon as it is predicted
        (see :meth:`stream_with_frames` for the options)."""
        for _, result in self.stream_with_frames(frames, boxes, **options):
            yield result

    def stream_with_frames(
        self,
        frames: Iterable[Any],
        boxes: BoxFn | None = None,
        *,
        stages: Sequence[Stage] = (),
        sequential: bool = False,
        threads: int | str | None = "auto",
        timings: dict[str, float] | None = None,
        prefetch: int | None = None,
        workload: str = "stream",
    ) -> Iterator[tuple[Frame, FramePrediction]]:
        """``(frame, result)`` per frame of ``frames`` (images, paths or :class:`Frame`\\ s).

        Boxes and crops are prepared in a background thread (bounded queue) while the backend
        runs; crops of consecutive frames share backend runs of ``batch_size``.

        Args:
            frames: the frames (a :class:`~posecli.inference.sources.FrameSource`, a list...).
            boxes: ``boxes(frame)`` → the frame's boxes (default: the whole frame).
            stages: ``stage(frame, result) -> result`` applied in order after decoding
                (tracking, smoothing, box following, lifting...).
            sequential: one frame at a time, in the calling thread (boxes that depend on the
                previous frame's keypoints).
            threads: backend intra-op threads: a number, ``"auto"`` (measured on the first
                batches among :func:`~posecli.runtime.threads.thread_candidates`) or ``None``
                (leave the backend's setting). A count measured earlier for the same model
                file and ``workload`` is reused (:class:`~posecli.runtime.ThreadMemory`).
            timings: seconds per stage (:data:`STAGES`) are added here.
            prefetch: prepared frames queued ahead (default ``max(8, 2·batch_size)``).
            workload: names what else the run does (outputs, stages), for the thread memory.
        """
        timings = timings if timings is not None else dict.fromkeys(STAGES, 0.0)
        for key in STAGES:
            timings.setdefault(key, 0.0)
        tuner = None
        if isinstance(threads, int):
            self.backend.set_threads(threads)
        elif threads == "auto" and self.device == "cpu" and not sequential:
            key = self.tuning_key(workload)
            tuner = ThreadTuner(self.backend, memory=ThreadMemory() if key else None, key=key)
        prepared: Iterable[tuple[Frame, np.ndarray, np.ndarray, CropBatch]]
        gen = _prepare(self, frames, boxes, timings)
        background = None
        if sequential:
            prepared = gen
        else:
            background = _Background(gen, prefetch or max(8, 2 * self.batch_size))
            prepared = background
        clock = time.perf_counter
        try:
            pending: list[tuple[Frame, np.ndarray, np.ndarray, CropBatch]] = []
            count = 0
            for item in prepared:
                pending.append(item)
                count += len(item[3])
                if sequential or count >= self.batch_size:
                    if tuner is not None:
                        tuner.step(len(pending))
                    yield from self._flush(pending, stages, timings, clock)
                    pending, count = [], 0
            if pending:
                yield from self._flush(pending, stages, timings, clock)
        finally:
            if background is not None:
                background.close()
            if tuner is not None:
                self.thread_report = tuner.finish()

    def _flush(
        self,
        items: list[tuple[Frame, np.ndarray, np.ndarray, CropBatch]],
        stages: Sequence[Stage],
        timings: dict[str, float],
        clock: Callable[[], float],
    ) -> Iterator[tuple[Frame, FramePrediction]]:
        crops = CropBatch.concat([it[3] for it in items], self.input_size)
        kps, scs = self.infer(crops, timings)
        start = 0
        for frame, xyxy, bsc, _ in items:
            t0 = clock()
            n = len(xyxy)
            result = FramePrediction(
                frame.index,
                frame.time_s,
                kps[start : start + n],
                scs[start : start + n],
                xyxy,
                bsc,
                name=frame.name,
            )
            start += n
            for stage in stages:
                result = stage(frame, result)
            timings["postprocess"] += clock() - t0
            yield frame, result


def _prepare(
    predictor: Predictor, frames: Iterable[Any], boxes: BoxFn | None, timings: dict[str, float]
) -> Iterator[tuple[Frame, np.ndarray, np.ndarray, CropBatch]]:
    """Frames with their boxes and crops; adds to ``decode``, ``detect``, ``preprocess``."""
    it = iter(frames)
    clock = time.perf_counter
    index = 0
    while True:
        t0 = clock()
        item = next(it, None)
        t1 = clock()
        timings["decode"] += t1 - t0
        if item is None:
            return
        frame = as_frame(item, index)
        index += 1
        xyxy, bsc = as_boxes(boxes(frame) if boxes is not None else None, frame.size)
        t2 = clock()
        crops = predictor.crops(frame.image, xyxy)
        timings["detect"] += t2 - t1
        timings["preprocess"] += clock() - t2
        yield frame, xyxy, bsc, crops


_END = object()


class _Background:
    """Run a generator in a daemon thread, handing its items over through a bounded queue;
    an exception in the thread is raised in the consumer."""

    def __init__(self, items: Iterator[Any], maxsize: int) -> None:
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=max(1, maxsize))
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, args=(items,), daemon=True, name="posecli-prepare"
        )
        self._thread.start()

    def _put(self, item: Any) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _run(self, items: Iterator[Any]) -> None:
        try:
            for item in items:
                if not self._put(item):
                    return
            self._put(_END)
        except BaseException as exc:  # handed to the consumer
            self._put(exc)

    def __iter__(self) -> Iterator[Any]:
        while True:
            item = self._queue.get()
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            yield item

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10.0)


__all__ = ["STAGES", "Predictor", "Stage", "as_boxes", "as_frame"]
