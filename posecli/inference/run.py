"""The library function behind ``posecli predict``: source → boxes → batched model → outputs.

Stages and threads::

    decode thread (FrameSource)     prepare thread                  calling thread
    video → Frame ─────────────►  boxes(frame) → crops  ──queue──►  model (batch_size crops)
                                   (detector, affine warp)          → decode to image pixels
                                                                    → tracker → smoother
                                                                    → writers / render / show

Decoding and preprocessing run ahead of the model in background threads with bounded queues,
so on a CPU the model is busy nearly all the time. With ``--det-every N > 1`` the boxes of a
frame come from the keypoints of the previous one, so frames are processed one at a time.

Timings (seconds, see :class:`PredictSummary`): ``decode`` is the time the pipeline *waited* for
decoded frames (decoding that could not be hidden), ``detect`` box finding, ``preprocess`` the
affine warps, ``model`` the forward passes (with flip test), ``postprocess`` decoding, tracking
and smoothing, ``write`` writers, rendering and display.

Frames that fail to decode are logged, counted (:attr:`PredictSummary.failed`) and skipped;
every record carries its frame index, and a rendered video repeats the previous frame over a
hole so that it stays aligned in time with the input.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from posecli.errors import PoseCliError
from posecli.inference.boxes import Boxes, BoxProvider, FollowBoxes, WholeFrameBoxes
from posecli.inference.crops import CropBatch, drop_empty_boxes
from posecli.inference.sources import Frame, FrameSource, open_source
from posecli.inference.writers import (
    CocoResultsWriter,
    DlcCsvWriter,
    FramePrediction,
    ImageWriter,
    PredictionsWriter,
    VideoWriter,
    check_writable,
)

if TYPE_CHECKING:
    from posecli.inference.predictor import Predictor

__all__ = [
    "FORMATS",
    "PredictConfig",
    "PredictSummary",
    "available_cores",
    "cpu_threads",
    "display_available",
    "output_paths",
    "run_predict",
]

log = logging.getLogger(__name__)

#: ``--format`` value → output file name under ``--out``.
FORMATS = {"json": "predictions.json", "coco": "predictions.coco.json", "csv": "predictions.csv"}
STAGES = ("decode", "detect", "preprocess", "model", "postprocess", "write")


@dataclass
class PredictConfig:
    """Options of :func:`run_predict` (the ``posecli predict`` flags).

    Attributes:
        out: output folder (files named by :data:`FORMATS`; rendered video ``<stem>_pose.mp4``
            or images under ``rendered/``); ``None`` writes nothing (results are returned).
        formats: any of ``json``, ``coco``, ``csv``.
        render: write the annotated video (same fps and size) or images.
        show: display frames in a window (needs a display; ``q`` stops).
        track: assign track ids (matching with the previous frames, see ``track_metric``).
        track_metric: ``oks`` (keypoints scoring ``>= kpt_thr``) or ``iou`` (boxes).
        smooth: One-Euro smoothing per track and keypoint.
        kpt_thr: keypoint score threshold for drawing (and for following boxes).
        force: replace existing outputs.
        progress: show a progress bar (rich on a terminal, plain lines otherwise).
        radius, thickness: drawing style (0: chosen from the image size).
        smooth_min_cutoff, smooth_beta: One-Euro parameters.
        keep_results: also return every :class:`FramePrediction` in the summary.
        threads: torch CPU threads during the run (default: one core less than available, so
            that decoding and preprocessing threads do not fight OpenMP's busy workers).
    """

    out: Path | None = None
    formats: Sequence[str] = ("json",)
    render: bool = False
    show: bool = False
    track: bool = False
    smooth: bool = False
    kpt_thr: float = 0.3
    force: bool = False
    progress: bool = True
    radius: int = 0
    thickness: int = 0
    smooth_min_cutoff: float = 1.0
    smooth_beta: float = 0.05
    keep_results: bool = False
    threads: int | None = None
    track_metric: str = "oks"


@dataclass
class PredictSummary:
    """What a run did: frame counts, throughput, the time split and the files written."""

    source: str
    frames: int = 0
    instances: int = 0
    failed: list[int] = field(default_factory=list)
    seconds: float = 0.0
    timings: dict[str, float] = field(default_factory=lambda: dict.fromkeys(STAGES, 0.0))
    outputs: dict[str, str] = field(default_factory=dict)
    stopped: bool = False
    results: list[FramePrediction] = field(default_factory=list)

    @property
    def fps(self) -> float:
        """Frames per second end to end."""
        return self.frames / self.seconds if self.seconds > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "frames": self.frames,
            "instances": self.instances,
            "failed_frames": len(self.failed),
            "seconds": round(self.seconds, 3),
            "fps": round(self.fps, 2),
            "timings": {k: round(v, 3) for k, v in self.timings.items()},
            "outputs": self.outputs,
            "stopped": self.stopped,
        }


def available_cores() -> int:
    """CPU cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


@contextlib.contextmanager
def cpu_threads(threads: int | None = None) -> Iterator[int]:
    """Set torch's intra-op threads (default ``cores - 1``, at least 1) and OpenCV's to 1 for
    the duration; restores both afterwards. Yields the torch thread count. Torch is only
    touched when already imported (exported ONNX models run without it)."""
    import cv2

    torch = sys.modules.get("torch")
    n = int(threads) if threads else max(1, available_cores() - 1)
    old_torch = torch.get_num_threads() if torch is not None else None
    old_cv = cv2.getNumThreads()
    if torch is not None:
        torch.set_num_threads(n)
    cv2.setNumThreads(1)
    try:
        yield n
    finally:
        if torch is not None and old_torch is not None:
            torch.set_num_threads(old_torch)
        cv2.setNumThreads(old_cv)


def display_available() -> bool:
    """True when a window can be opened (X11/Wayland on Linux; assumed on macOS/Windows)."""
    if sys.platform.startswith("linux"):
        return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    return True


def output_paths(config: PredictConfig, source: FrameSource) -> dict[str, Path]:
    """The files a run will write: format name → path, plus ``render`` when rendering."""
    if config.out is None:
        return {}
    unknown = [f for f in config.formats if f not in FORMATS]
    if unknown:
        raise PoseCliError(f"--format: unknown {unknown[0]!r} (choose from {', '.join(FORMATS)})")
    paths = {f: config.out / FORMATS[f] for f in dict.fromkeys(config.formats)}
    if config.render:
        stem = Path(source.name).stem or "render"
        paths["render"] = (
            config.out / f"{stem}_pose.mp4" if source.is_video else config.out / "rendered"
        )
    return paths


# -- background preparation ------------------------------------------------------------------
@dataclass
class _Prepared:
    frame: Frame
    boxes: Boxes
    crops: CropBatch


_END = object()


class _Background:
    """Run a generator in a daemon thread, handing its items over through a bounded queue."""

    def __init__(self, make: Callable[[], Iterator[Any]], maxsize: int) -> None:
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=max(1, maxsize))
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(make,), daemon=True)
        self._thread.name = "posecli-prepare"
        self._thread.start()

    def _put(self, item: Any) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _run(self, make: Callable[[], Iterator[Any]]) -> None:
        try:
            for item in make():
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


def _prepare(
    source: FrameSource, boxes: BoxProvider, predictor: Predictor, timings: dict[str, float]
) -> Iterator[_Prepared]:
    """Frames with their boxes and crops; adds to ``decode``, ``detect``, ``preprocess``."""
    frames = iter(source)
    clock = time.perf_counter
    while True:
        t0 = clock()
        frame = next(frames, None)
        t1 = clock()
        timings["decode"] += t1 - t0
        if frame is None:
            return
        bx = drop_empty_boxes(boxes(frame))
        t2 = clock()
        crops = predictor.crops(frame.image, bx)
        timings["detect"] += t2 - t1
        timings["preprocess"] += clock() - t2
        yield _Prepared(frame, bx, crops)


# -- progress ----------------------------------------------------------------------------------
class _Progress:
    """A rich bar with frames/s on a terminal; a plain line every few seconds otherwise."""

    def __init__(self, total: int | None, enabled: bool, label: str) -> None:
        from rich.console import Console

        self.enabled, self.total, self.label = enabled, total, label
        self.console = Console(file=sys.stderr)
        self._bar: Any = None
        self._task: Any = None
        self._t0 = time.perf_counter()
        self._last = self._t0
        self.done = 0
        if enabled and self.console.is_terminal:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self._bar = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[speed]:.1f} frames/s"),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
                console=self.console,
            )
            self._bar.start()
            self._task = self._bar.add_task(label, total=total, speed=0.0)

    def advance(self, n: int = 1) -> None:
        self.done += n
        now = time.perf_counter()
        speed = self.done / max(now - self._t0, 1e-9)
        if self._bar is not None:
            self._bar.update(self._task, advance=n, speed=speed)
        elif self.enabled and now - self._last >= 5.0:
            self._last = now
            of = f"/{self.total}" if self.total else ""
            print(f"{self.label}: {self.done}{of} frames, {speed:.1f} frames/s", file=sys.stderr)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()


# -- the run -----------------------------------------------------------------------------------
class _Outputs:
    """Writers, renderer and window of one run (entered on an ExitStack)."""

    def __init__(
        self,
        config: PredictConfig,
        source: FrameSource,
        predictor: Predictor,
        stack: contextlib.ExitStack,
    ) -> None:
        self.config, self.source = config, source
        self.paths = output_paths(config, source)
        skeleton = predictor.skeleton
        self.writers: list[Any] = []
        render_path = self.paths.get("render")
        if (
            render_path is not None
            and render_path.exists()
            and not config.force
            and (render_path.is_file() or any(render_path.iterdir()))
        ):
            raise PoseCliError(f"{render_path} already exists; pass --force to overwrite")
        for fmt in ("json", "coco", "csv"):  # refuse every existing file before writing any
            if fmt in self.paths:
                check_writable(self.paths[fmt], config.force)
        if "json" in self.paths:
            self.writers.append(
                stack.enter_context(
                    PredictionsWriter(
                        self.paths["json"],
                        skeleton=skeleton,
                        source=source.name,
                        fps=source.fps,
                        frame_count=source.frame_count,
                        force=config.force,
                    )
                )
            )
        if "coco" in self.paths:
            self.writers.append(
                stack.enter_context(CocoResultsWriter(self.paths["coco"], force=config.force))
            )
        if "csv" in self.paths:
            names = (
                list(skeleton.keypoint_names)
                if skeleton is not None
                else [f"kp{i}" for i in range(predictor.num_keypoints)]
            )
            self.writers.append(
                stack.enter_context(DlcCsvWriter(self.paths["csv"], names, force=config.force))
            )
        self.style = _style(skeleton)
        self.video: VideoWriter | None = None
        self.images: ImageWriter | None = None
        self.stack = stack
        self.last_render: np.ndarray | None = None
        self.last_index = -1
        self.show = config.show
        if self.show and not display_available():
            log.warning("--show: no display available (DISPLAY is not set); not showing frames")
            self.show = False

    def _draw(self, frame: Frame, pred: FramePrediction) -> np.ndarray:
        from posecli.visualization.draw import draw_pose

        w, h = frame.size
        radius = self.config.radius or max(2, round(max(w, h) / 160))
        thickness = self.config.thickness or max(1, round(max(w, h) / 320))
        return draw_pose(
            frame.image,
            pred.keypoints,
            pred.keypoint_scores,
            kpt_thr=self.config.kpt_thr,
            radius=radius,
            thickness=thickness,
            track_ids=pred.track_ids,
            **self.style,
        )

    def write(self, frame: Frame, pred: FramePrediction) -> bool:
        """Write one frame everywhere; False when the user closed the window."""
        for writer in self.writers:
            writer.write(pred)
        render = self.paths.get("render")
        if render is None and not self.show:
            return True
        image = self._draw(frame, pred)
        if render is not None and self.source.is_video:
            video = self.video
            if video is None:
                fps = self.source.fps or 30.0
                video = VideoWriter(render, fps, frame.size, force=self.config.force)
                self.stack.callback(video.close)
                self.video = video
            filler = self.last_render if self.last_render is not None else image
            for _ in range(self.last_index + 1, frame.index):  # keep time alignment over holes
                video.write(filler)
            video.write(image)
        elif render is not None:
            images = self.images
            if images is None:
                images = ImageWriter(render, ext=".png", force=self.config.force)
                self.stack.callback(images.close)
                self.images = images
            images.write(image, frame=frame.index, name=frame.name)
        self.last_render, self.last_index = image, frame.index
        if self.show:
            import cv2

            cv2.imshow("posecli", image)
            if cv2.waitKey(1) & 0xFF in (ord("q"), 27):
                return False
        return True


def _style(skeleton: Any) -> dict[str, Any]:
    if skeleton is None:
        return {}
    from posecli.visualization.draw import skeleton_style

    style = skeleton_style(skeleton)
    kc = style.get("keypoint_colors")
    if kc is None or len(kc) != skeleton.num_keypoints:
        style["keypoint_colors"] = None
    lc, links = style.get("link_colors"), style.get("links")
    if lc is None or links is None or len(lc) != len(links):
        style["link_colors"] = None
    return style


def run_predict(
    source: str | Path | FrameSource,
    predictor: Predictor,
    boxes: BoxProvider | None = None,
    config: PredictConfig | None = None,
) -> PredictSummary:
    """Predict poses on every frame of ``source`` and write the configured outputs.

    Args:
        source: anything :func:`~posecli.inference.sources.open_source` takes, or a source.
        predictor: the model.
        boxes: box provider (default :class:`WholeFrameBoxes`); a :class:`FollowBoxes` with
            ``every > 1`` makes the run sequential (boxes follow the last keypoints).
        config: outputs and options.

    Returns:
        A :class:`PredictSummary`. Outputs are streamed while running; on an exception or
        Ctrl-C every writer is closed, keeping the frames finished so far.
    """
    config = config or PredictConfig()
    src = source if isinstance(source, FrameSource) else open_source(source)
    boxes = boxes or WholeFrameBoxes()
    follow = boxes if isinstance(boxes, FollowBoxes) else None
    sequential = follow is not None and follow.every > 1
    summary = PredictSummary(source=src.name)
    timings = summary.timings
    tracker = smoother = None
    if config.track:
        from posecli.inference.tracking import Tracker

        sig = getattr(predictor.skeleton, "sigmas", None)
        if config.track_metric not in ("oks", "iou"):
            raise PoseCliError(f"--track-metric must be oks or iou, got {config.track_metric!r}")
        tracker = Tracker(
            metric=config.track_metric,  # type: ignore[arg-type]
            sigmas=sig if sig is not None and len(sig) else None,
            kpt_thr=config.kpt_thr,
        )
    if config.smooth:
        from posecli.inference.smoothing import KeypointSmoother

        smoother = KeypointSmoother(
            min_cutoff=config.smooth_min_cutoff, beta=config.smooth_beta, kpt_thr=0.0
        )
    clock = time.perf_counter
    t_start = clock()
    with contextlib.ExitStack() as stack:
        stack.callback(src.close)
        if predictor.device.type == "cpu":
            stack.enter_context(cpu_threads(config.threads))
        outputs = _Outputs(config, src, predictor, stack)
        summary.outputs = {k: str(v) for k, v in outputs.paths.items()}
        progress = _Progress(src.frame_count, config.progress, f"predict {Path(src.name).name}")
        stack.callback(progress.close)
        if sequential:
            prepared: Any = _prepare(src, boxes, predictor, timings)
        else:
            background = _Background(
                lambda: _prepare(src, boxes, predictor, timings),
                maxsize=max(8, 2 * predictor.batch_size),
            )
            stack.callback(background.close)
            prepared = background

        def flush(items: list[_Prepared]) -> bool:
            crops = CropBatch.concat([p.crops for p in items], predictor.input_size)
            kps = np.zeros((0, predictor.num_keypoints, 2), np.float32)
            scs = np.zeros((0, predictor.num_keypoints), np.float32)
            for s in range(0, len(crops), predictor.batch_size):
                t1 = clock()
                e = s + predictor.batch_size
                out = predictor.forward(predictor.to_tensor(crops.images[s:e]))
                t2 = clock()
                kp, sc = predictor.decode(out, crops.centers[s:e], crops.scales[s:e])
                timings["model"] += t2 - t1
                timings["postprocess"] += clock() - t2
                kps, scs = np.concatenate([kps, kp]), np.concatenate([scs, sc])
            start = 0
            for item in items:
                t3 = clock()
                n = len(item.boxes)
                kp, sc = kps[start : start + n], scs[start : start + n]
                start += n
                ids = tracker.update(kp, sc, item.boxes.xyxy) if tracker is not None else None
                if smoother is not None:
                    f = item.frame
                    t = f.time_s if f.time_s is not None else f.index / (src.fps or 30.0)
                    kp = smoother(kp, t, ids, sc)
                if follow is not None:
                    follow.update(kp, sc, item.frame.size)
                pred = FramePrediction(
                    item.frame.index,
                    item.frame.time_s,
                    kp,
                    sc,
                    item.boxes.xyxy,
                    item.boxes.scores,
                    track_ids=ids,
                    name=item.frame.name,
                )
                t4 = clock()
                timings["postprocess"] += t4 - t3
                keep_going = outputs.write(item.frame, pred)
                timings["write"] += clock() - t4
                summary.frames += 1
                summary.instances += n
                if config.keep_results:
                    summary.results.append(pred)
                progress.advance()
                if not keep_going:
                    return False
            return True

        pending: list[_Prepared] = []
        count = 0
        for item in prepared:
            pending.append(item)
            count += len(item.crops)
            if sequential or count >= predictor.batch_size:
                go_on = flush(pending)
                pending, count = [], 0
                if not go_on:
                    summary.stopped = True
                    break
        if pending and not summary.stopped:
            flush(pending)
    summary.seconds = clock() - t_start
    summary.failed = sorted(src.failed)
    if summary.failed:
        log.warning(
            "%s: %d frame(s) failed to decode and were skipped", src.name, len(summary.failed)
        )
    if config.show and outputs.show:
        import cv2

        cv2.destroyAllWindows()
    return summary
