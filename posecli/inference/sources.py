"""Frame sources: an image, a folder, a glob, a video file, ``webcam:N`` or a stream URL.

Every source yields :class:`Frame` objects holding a BGR ``uint8`` ``(H, W, 3)`` image. Images
with an alpha channel lose it, greyscale images are expanded to three channels and 16-bit images
are scaled to 8 bits, so downstream code only ever sees BGR uint8.

Video is decoded ahead of the consumer in a background thread with a bounded queue
(``prefetch`` frames), so decoding overlaps with inference. A frame that fails to decode in the
middle of a video is logged, counted in :attr:`FrameSource.failed` and skipped; the indices of
the frames that follow stay those of the video (a frame's index is derived from its timestamp),
so outputs remain aligned with the video even with holes.

Example::

    with open_source("video.mp4") as source:
        print(source.fps, source.frame_count)
        for frame in source:
            ...  # frame.index, frame.time_s, frame.image
"""

from __future__ import annotations

import glob as _glob
import logging
import queue
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

from posecli._closing import Closing
from posecli.errors import DataError
from posecli.runtime.frames import Frame, read_image, to_bgr_uint8

__all__ = [
    "IMAGE_EXTENSIONS",
    "VIDEO_EXTENSIONS",
    "Frame",
    "FrameSource",
    "ImageSource",
    "VideoSource",
    "open_source",
    "read_image",
    "to_bgr_uint8",
]

log = logging.getLogger(__name__)

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"})
VIDEO_EXTENSIONS = frozenset(
    {".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv", ".flv", ".mjpeg"}
)
_GLOB_CHARS = re.compile(r"[*?\[]")
_MAX_CONSECUTIVE_FAILURES = 25


class FrameSource(Closing):
    """Base class: an iterable of :class:`Frame` with optional ``fps`` and ``frame_count``.

    Attributes:
        name: what the source was opened from (path, ``webcam:0`` or URL).
        fps: frames per second for video, ``None`` for images.
        frame_count: number of frames if known (images: files found; video: container count;
            cameras and streams: ``None``).
        failed: indices of frames that could not be read and were skipped.
    """

    name: str
    fps: float | None = None
    frame_count: int | None = None

    def __init__(self) -> None:
        self.failed: list[int] = []

    def __iter__(self) -> Iterator[Frame]:
        raise TypeError(f"{type(self).__name__} is not iterable")

    def __len__(self) -> int:
        if self.frame_count is None:
            raise TypeError(f"{self.name}: live source has no length")
        return self.frame_count

    @property
    def is_video(self) -> bool:
        return self.fps is not None

    def close(self) -> None:
        """Release the underlying resources; safe to call more than once."""


class ImageSource(FrameSource):
    """Images from a list of files, yielded in the given order (index = position in the list).

    An unreadable file among several is logged, counted in :attr:`failed` and skipped; a single
    unreadable image raises :class:`DataError`.
    """

    def __init__(self, paths: list[Path], name: str | None = None) -> None:
        super().__init__()
        if not paths:
            raise DataError(f"{name or 'images'}: no image files found")
        self.paths = [Path(p) for p in paths]
        self.name = name or str(self.paths[0])
        self.frame_count = len(self.paths)

    def __iter__(self) -> Iterator[Frame]:
        self.failed = []
        for index, path in enumerate(self.paths):
            try:
                image = read_image(path)
            except DataError:
                if len(self.paths) == 1:
                    raise
                log.warning("%s: cannot read image, skipped", path)
                self.failed.append(index)
                continue
            yield Frame(index, None, image, path.name, path)


_END = object()


class VideoSource(FrameSource):
    """Frames of a video file, camera or stream, decoded ahead in a background thread.

    Args:
        target: a video path, a camera number, or a URL OpenCV can open.
        prefetch: size of the bounded queue between the decoding thread and the consumer.
        name: display name (defaults to ``str(target)``).

    Raises:
        DataError: the video cannot be opened or has no readable frame.
    """

    def __init__(self, target: str | Path | int, *, prefetch: int = 32, name: str | None = None):
        super().__init__()
        self.target = target
        self.name = name or str(target)
        self.path = (
            Path(target) if isinstance(target, (str, Path)) and Path(target).exists() else None
        )
        self.prefetch = max(1, int(prefetch))
        self.is_live = isinstance(target, int) or self.path is None
        cap = self._open()
        fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
        count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        self.width = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH))
        self.height = int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
        cap.release()
        self.rate: float = fps if fps > 0 and np.isfinite(fps) else 30.0
        self.fps = self.rate  # 30 when the container does not say
        self._fps_known = fps > 0 and np.isfinite(fps)
        self.frame_count = count if count > 0 and not self.is_live else None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def size(self) -> tuple[int, int]:
        """``(w, h)`` reported by the container."""
        return self.width, self.height

    def _open(self) -> cv2.VideoCapture:
        cap = cv2.VideoCapture(self.target)
        if not cap.isOpened():
            cap.release()
            raise DataError(f"{self.name}: cannot open video (unreadable file, codec or device)")
        return cap

    def _frame_index(self, cap: cv2.VideoCapture, expected: int) -> int:
        """Index of the frame just grabbed, from its timestamp when that is trustworthy."""
        if self.is_live or not self._fps_known:
            return expected
        ms = cap.get(cv2.CAP_PROP_POS_MSEC)
        index = round(ms * self.rate / 1000.0)
        return index if index >= expected else expected

    def _decode(self, out: queue.Queue[object]) -> None:
        """Producer thread: grab, index, retrieve and enqueue frames until the end or stop."""
        cap = None
        try:
            cap = self._open()
            expected, failures, got_any = 0, 0, False
            t0 = time.monotonic()
            while not self._stop.is_set():
                if not cap.grab():
                    failures += 1
                    known_end = self.frame_count is not None and expected >= self.frame_count
                    if known_end or failures > _MAX_CONSECUTIVE_FAILURES or self.is_live:
                        break
                    continue
                index = self._frame_index(cap, expected)
                if failures or index > expected:
                    skipped = list(range(expected, index))
                    if skipped:
                        log.warning("%s: frames %s failed to decode, skipped", self.name, skipped)
                        self.failed.extend(skipped)
                failures = 0
                ok, image = cap.retrieve()
                if not ok or image is None:
                    log.warning("%s: frame %d failed to decode, skipped", self.name, index)
                    self.failed.append(index)
                    expected = index + 1
                    continue
                got_any = True
                time_s = index / self.rate if not self.is_live else time.monotonic() - t0
                frame = Frame(
                    index, time_s, to_bgr_uint8(image), f"{Path(self.name).name}#{index}", self.path
                )
                expected = index + 1
                while not self._stop.is_set():
                    try:
                        out.put(frame, timeout=0.1)
                        break
                    except queue.Full:
                        continue
            if not got_any and not self._stop.is_set():
                raise DataError(f"{self.name}: no frame could be decoded")
            stopped = self._stop.is_set()
            if not stopped and self.frame_count is not None and expected < self.frame_count:
                log.warning(
                    "%s: decoding ended at frame %d, container reports %d frames",
                    self.name,
                    expected,
                    self.frame_count,
                )
            self._put_final(out, _END)
        except BaseException as exc:  # handed to the consumer thread
            self._put_final(out, exc)
        finally:
            if cap is not None:
                cap.release()

    def _put_final(self, out: queue.Queue[object], item: object) -> None:
        while not self._stop.is_set():
            try:
                out.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def __iter__(self) -> Iterator[Frame]:
        self.close()
        self._stop.clear()
        self.failed = []
        out: queue.Queue[object] = queue.Queue(maxsize=self.prefetch)
        self._thread = threading.Thread(
            target=self._decode, args=(out,), daemon=True, name=f"posecli-decode-{self.name}"
        )
        self._thread.start()
        try:
            while True:
                item = out.get()
                if item is _END:
                    return
                if isinstance(item, BaseException):
                    raise item
                assert isinstance(item, Frame)
                yield item
        finally:
            self.close()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5.0)
        self._thread = None


def _natural_key(path: Path) -> list[object]:
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", path.name)]


def _images_in(paths: list[Path]) -> list[Path]:
    return sorted(
        (p for p in paths if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS), key=_natural_key
    )


def open_source(spec: str | Path, *, prefetch: int = 32) -> FrameSource:
    """Open ``spec`` as a frame source.

    Args:
        spec: an image file, a folder of images (sorted naturally: ``img2`` before ``img10``), a
            glob (``"frames/*.png"``), a video file, ``"webcam:N"`` or a stream URL
            (``rtsp://...``, ``http://...``).
        prefetch: decoded video frames kept ready ahead of the consumer.

    Raises:
        DataError: nothing usable at ``spec`` (one line naming it).
    """
    text = str(spec)
    if text.startswith("webcam:"):
        number = text.partition(":")[2] or "0"
        if not number.isdigit():
            raise DataError(f"{text}: expected webcam:N with N a camera number")
        return VideoSource(int(number), prefetch=prefetch, name=text)
    if "://" in text:
        return VideoSource(text, prefetch=prefetch, name=text)
    path = Path(text)
    if path.is_dir():
        return ImageSource(_images_in(list(path.iterdir())), name=text)
    if path.is_file():
        if path.suffix.lower() in IMAGE_EXTENSIONS:
            return ImageSource([path], name=text)
        return VideoSource(path, prefetch=prefetch, name=text)
    if _GLOB_CHARS.search(text):
        matches = [Path(p) for p in _glob.glob(text, recursive=True)]
        return ImageSource(_images_in(matches), name=text)
    raise DataError(f"{text}: no such file, folder, glob match, webcam:N or URL")
