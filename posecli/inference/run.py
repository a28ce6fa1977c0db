"""The library function behind ``posecli predict``: a loop over the predictor's stream,
writing every frame to sinks.

Stages and threads::

    decode thread (FrameSource)     prepare thread                  calling thread
    video → Frame ─────────────►  boxes(frame) → crops  ──queue──►  backend (batch_size crops,
                                   (detector, affine warp)           + mirrored ones: flip test)
                                                                    → decode to image pixels
                                                                    → stages: tracker, smoother
                                                                    → sinks: files, render, show

:meth:`posecli.runtime.Predictor.stream_with_frames` does everything up to the stages; this
module adds the stages the options ask for and one sink per output, each with
``write(frame, result)`` (:class:`~posecli.inference.writers.Sink`). Extra ``stages`` and
``sinks`` passed to :func:`run_predict` join them (e.g. a 2D→3D lifter and its writer).

The backend's thread count is measured on the first batches (``threads=None``), since how
much the decode, crop and render threads need depends on the model and the outputs.

Timings (seconds, see :class:`PredictSummary`): ``decode`` is the time the pipeline *waited* for
decoded frames (decoding that could not be hidden), ``detect`` box finding, ``preprocess`` the
affine warps, ``model`` the backend runs (with flip test), ``postprocess`` decoding, tracking
and smoothing, ``write`` writers, rendering and display.

Frames that fail to decode are logged, counted (:attr:`PredictSummary.failed`) and skipped;
every record carries its frame index, and a rendered video repeats the previous frame over a
hole so that it stays aligned in time with the input.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from posecli.errors import PoseCliError
from posecli.inference.boxes import BoxProvider, FollowBoxes, WholeFrameBoxes
from posecli.inference.sources import FrameSource, open_source
from posecli.inference.writers import (
    CocoResultsWriter,
    DlcCsvWriter,
    ImageWriter,
    PredictionsWriter,
    Sink,
    VideoWriter,
    check_writable,
)
from posecli.runtime import STAGES, Frame, FramePrediction, Predictor, Stage, available_cores

__all__ = [
    "FORMATS",
    "PredictConfig",
    "PredictSummary",
    "RenderSink",
    "available_cores",
    "display_available",
    "make_sinks",
    "make_stages",
    "opencv_single_thread",
    "output_paths",
    "run_predict",
]

log = logging.getLogger(__name__)

#: ``--to`` value → output file name under ``--out``.
FORMATS = {"json": "predictions.json", "coco": "predictions.coco.json", "csv": "predictions.csv"}


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
        radius, thickness: drawing style (0: size-aware: from each instance's keypoint extent,
            capped by the image size; a skeleton's face and hand points drawn smaller).
        smooth_min_cutoff, smooth_beta: One-Euro parameters.
        keep_results: also return every :class:`FramePrediction` in the summary.
        threads: backend CPU threads (default: measured on the first batches of the run).
        lift: a :class:`~posecli.inference.lifting.Lifter`: 2D poses lifted to 3D per track as
            the frames stream (``keypoints_3d`` in ``predictions.json``,
            ``predictions_3d.csv``; the 3D view beside the rendered video).
        lift_causal: lift from past frames only (``None``: the lifter's setting).
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
    lift: Any = None
    lift_causal: bool | None = None


@dataclass
class PredictSummary:
    """What a run did: frame counts, throughput, the time split, threads and files written."""

    source: str
    frames: int = 0
    instances: int = 0
    failed: list[int] = field(default_factory=list)
    seconds: float = 0.0
    timings: dict[str, float] = field(default_factory=lambda: dict.fromkeys(STAGES, 0.0))
    outputs: dict[str, str] = field(default_factory=dict)
    stopped: bool = False
    results: list[FramePrediction] = field(default_factory=list)
    backend: str = ""
    threads: str | None = None

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
            "backend": self.backend,
            "threads": self.threads,
            "outputs": self.outputs,
            "stopped": self.stopped,
        }


@contextlib.contextmanager
def opencv_single_thread() -> Iterator[None]:
    """OpenCV on one thread for the duration (its warps are small; the cores belong to the
    backend), and torch's intra-op thread count restored afterwards when torch is loaded."""
    import cv2

    torch = sys.modules.get("torch")
    old_torch = torch.get_num_threads() if torch is not None else None
    old_cv = cv2.getNumThreads()
    cv2.setNumThreads(1)
    try:
        yield
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
        raise PoseCliError(f"--to: unknown {unknown[0]!r} (choose from {', '.join(FORMATS)})")
    paths = {f: config.out / FORMATS[f] for f in dict.fromkeys(config.formats)}
    if config.render:
        stem = Path(source.name).stem or "render"
        paths["render"] = (
            config.out / f"{stem}_pose.mp4" if source.is_video else config.out / "rendered"
        )
    return paths


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


# -- sinks -------------------------------------------------------------------------------------
class RenderSink:
    """Draws each frame's poses into a video (same fps and size; holes repeat the last frame),
    an image folder and/or a window; ``write`` returns False when the window is closed."""

    def __init__(
        self, config: PredictConfig, source: FrameSource, skeleton: Any, path: Path | None
    ) -> None:
        self.config, self.source, self.path = config, source, path
        self.style = _style(skeleton)
        self.video: VideoWriter | None = None
        self.images: ImageWriter | None = None
        self.last_render: np.ndarray | None = None
        self.last_index = -1
        self.show = config.show
        if self.show and not display_available():
            log.warning("--show: no display available (DISPLAY is not set); not showing frames")
            self.show = False

    def _draw(self, frame: Frame, pred: FramePrediction) -> np.ndarray:
        from posecli.visualization.draw import draw_pose

        return draw_pose(
            frame.image,
            pred.keypoints,
            pred.keypoint_scores,
            kpt_thr=self.config.kpt_thr,
            radius=self.config.radius or None,  # None: size-aware, per instance
            thickness=self.config.thickness or None,
            track_ids=pred.track_ids,
            **self.style,
        )

    def write(self, frame: Frame | None, pred: FramePrediction) -> bool:
        if frame is None:
            return True
        image = self._draw(frame, pred)
        if self.path is not None and self.source.is_video:
            if self.video is None:
                fps = self.source.fps or 30.0
                self.video = VideoWriter(self.path, fps, frame.size, force=self.config.force)
            filler = self.last_render if self.last_render is not None else image
            for _ in range(self.last_index + 1, frame.index):  # keep time alignment over holes
                self.video.write(filler)
            self.video.write(image)
        elif self.path is not None:
            if self.images is None:
                self.images = ImageWriter(self.path, ext=".png", force=self.config.force)
            self.images.write(image, frame=frame.index, name=frame.name)
        self.last_render, self.last_index = image, frame.index
        if self.show:
            import cv2

            cv2.imshow("posecli", image)
            if cv2.waitKey(1) & 0xFF in (ord("q"), 27):
                return False
        return True

    def close(self) -> None:
        for writer in (self.video, self.images):
            if writer is not None:
                writer.close()
        if self.show:
            import cv2

            cv2.destroyAllWindows()


def make_sinks(
    config: PredictConfig,
    source: FrameSource,
    predictor: Predictor,
    stack: contextlib.ExitStack,
    paths: dict[str, Path],
    header_extra: dict[str, Any] | None = None,
) -> list[Sink]:
    """The sinks the config asks for, entered on ``stack`` (closed even after an error).
    Every existing output is refused (without ``force``) before any is opened."""
    skeleton = predictor.skeleton
    render_path = paths.get("render")
    if (
        render_path is not None
        and render_path.exists()
        and not config.force
        and (render_path.is_file() or any(render_path.iterdir()))
    ):
        raise PoseCliError(f"{render_path} already exists; pass --force to overwrite")
    for fmt in ("json", "coco", "csv"):
        if fmt in paths:
            check_writable(paths[fmt], config.force)
    sinks: list[Sink] = []
    if "json" in paths:
        sinks.append(
            stack.enter_context(
                PredictionsWriter(
                    paths["json"],
                    skeleton=skeleton,
                    source=source.name,
                    fps=source.fps,
                    frame_count=source.frame_count,
                    force=config.force,
                    header_extra=header_extra,
                )
            )
        )
    if "coco" in paths:
        sinks.append(stack.enter_context(CocoResultsWriter(paths["coco"], force=config.force)))
    if "csv" in paths:
        names = (
            list(skeleton.keypoint_names)
            if skeleton is not None
            else list(predictor.spec.keypoint_names)
            or [f"kp{i}" for i in range(predictor.num_keypoints)]
        )
        sinks.append(stack.enter_context(DlcCsvWriter(paths["csv"], names, force=config.force)))
    if render_path is not None or config.show:
        sink = RenderSink(config, source, skeleton, render_path)
        stack.callback(sink.close)
        sinks.append(sink)
    return sinks


def make_stages(
    config: PredictConfig, predictor: Predictor, source: FrameSource, boxes: BoxProvider
) -> list[Stage]:
    """Tracking, smoothing and box following, in that order, as the config asks."""
    stages: list[Stage] = []
    if config.track:
        from posecli.inference.tracking import Tracker

        if config.track_metric not in ("oks", "iou"):
            raise PoseCliError(f"--track-metric must be oks or iou, got {config.track_metric!r}")
        sig = getattr(predictor.skeleton, "sigmas", None)
        tracker = Tracker(
            metric=config.track_metric,  # type: ignore[arg-type]
            sigmas=sig if sig is not None and len(sig) else None,
            kpt_thr=config.kpt_thr,
        )

        def track(frame: Frame, r: FramePrediction) -> FramePrediction:
            r.track_ids = tracker.update(r.keypoints, r.keypoint_scores, r.bboxes)
            return r

        stages.append(track)
    if config.smooth:
        from posecli.inference.smoothing import KeypointSmoother

        smoother = KeypointSmoother(
            min_cutoff=config.smooth_min_cutoff, beta=config.smooth_beta, kpt_thr=0.0
        )

        def smooth(frame: Frame, r: FramePrediction) -> FramePrediction:
            t = frame.time_s if frame.time_s is not None else frame.index / (source.fps or 30.0)
            r.keypoints = smoother(r.keypoints, t, r.track_ids, r.keypoint_scores)
            return r

        stages.append(smooth)
    if isinstance(boxes, FollowBoxes):
        follow = boxes

        def follow_boxes(frame: Frame, r: FramePrediction) -> FramePrediction:
            follow.update(r.keypoints, r.keypoint_scores, frame.size)
            return r

        stages.append(follow_boxes)
    return stages


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


def _lift_stream(
    config: PredictConfig, predictor: Predictor, stack: contextlib.ExitStack, paths: dict[str, Path]
) -> Any:
    """The :class:`~posecli.inference.lifting.LiftStream` of ``config.lift`` (its 3D CSV sink
    opened under ``--out``), or ``None``."""
    if config.lift is None:
        return None
    if config.out is not None and "json" not in paths:
        raise PoseCliError("--lift writes keypoints_3d into predictions.json: keep --to json")
    from posecli.inference.lifting import lift_sinks

    name = getattr(predictor.skeleton, "name", None) or getattr(predictor.spec, "skeleton", None)
    lift, csv3d = lift_sinks(
        config.lift, [], config.out, name, causal=config.lift_causal, force=config.force
    )
    if csv3d is not None:
        stack.callback(csv3d.close)
        paths["csv_3d"] = csv3d.path
    return lift


def _workload(boxes: BoxProvider, stages: Sequence[Stage], sinks: Sequence[Sink]) -> str:
    """What a run does besides the model, for the thread memory: box provider, stages, sinks."""
    names = [type(boxes).__name__, *(getattr(s, "__name__", type(s).__name__) for s in stages)]
    return "+".join([*names, *(type(s).__name__ for s in sinks)])


def run_predict(
    source: str | Path | FrameSource,
    predictor: Predictor,
    boxes: BoxProvider | None = None,
    config: PredictConfig | None = None,
    *,
    stages: Sequence[Stage] = (),
    sinks: Sequence[Sink] = (),
) -> PredictSummary:
    """Predict poses on every frame of ``source`` and write the configured outputs.

    Args:
        source: anything :func:`~posecli.inference.sources.open_source` takes, or a source.
        predictor: the model (:func:`posecli.inference.load.load_predictor`).
        boxes: box provider (default :class:`WholeFrameBoxes`); a :class:`FollowBoxes` with
            ``every > 1`` makes the run sequential (boxes follow the last keypoints).
        config: outputs and options.
        stages: extra ``stage(frame, result) -> result`` run after tracking and smoothing.
        sinks: extra sinks (``write(frame, result)``) beside the configured outputs.

    Returns:
        A :class:`PredictSummary`. Outputs are streamed while running; on an exception or
        Ctrl-C every writer is closed, keeping the frames finished so far.
    """
    config = config or PredictConfig()
    for extra in sinks:
        if not isinstance(extra, Sink):
            raise PoseCliError(
                f"{type(extra).__name__} is not a sink (needs write(frame, result) and close())"
            )
    src = source if isinstance(source, FrameSource) else open_source(source)
    boxes = boxes or WholeFrameBoxes()
    sequential = isinstance(boxes, FollowBoxes) and boxes.every > 1
    summary = PredictSummary(source=src.name, backend=predictor.backend.name)
    timings = summary.timings
    clock = time.perf_counter
    t_start = clock()
    with contextlib.ExitStack() as stack:
        stack.callback(src.close)
        stack.enter_context(opencv_single_thread())
        paths = output_paths(config, src)
        all_stages = [*make_stages(config, predictor, src, boxes), *stages]
        lift = _lift_stream(config, predictor, stack, paths)
        header = {"lifting": lift.describe()} if lift is not None else None
        all_sinks = [*make_sinks(config, src, predictor, stack, paths, header), *sinks]
        workload = _workload(boxes, all_stages, [*all_sinks, *([lift] if lift else [])])
        if lift is not None:  # frames reach the sinks once lifted (closed before them)
            lift.sinks[:0] = all_sinks
            stack.callback(lift.close)
            all_sinks = [lift]
        summary.outputs = {k: str(v) for k, v in paths.items()}
        progress = _Progress(src.frame_count, config.progress, f"predict {Path(src.name).name}")
        stack.callback(progress.close)
        frames = predictor.stream_with_frames(
            src,
            boxes,
            stages=all_stages,
            sequential=sequential,
            threads=config.threads if config.threads else "auto",
            timings=timings,
            workload=workload,
        )
        stack.callback(frames.close)
        for frame, result in frames:
            t0 = clock()
            keep_going = True
            for sink in all_sinks:
                keep_going = sink.write(frame, result) is not False and keep_going
            timings["write"] += clock() - t0
            summary.frames += 1
            summary.instances += len(result)
            if config.keep_results:
                summary.results.append(result)
            progress.advance()
            if not keep_going:
                summary.stopped = True
                break
    if config.lift is not None and config.render and "render" in paths:
        from posecli.inference.lifting import render_lifted

        render_lifted(paths["json"].parent, config.lift.skeleton)
    summary.seconds = clock() - t_start
    summary.threads = predictor.thread_report or (str(config.threads) if config.threads else None)
    summary.failed = sorted(src.failed)
    if summary.failed:
        log.warning(
            "%s: %d frame(s) failed to decode and were skipped", src.name, len(summary.failed)
        )
    return summary
