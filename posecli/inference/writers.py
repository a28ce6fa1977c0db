"""Streaming result writers: predictions JSON, COCO results, DeepLabCut CSV, video and images.

Every writer streams frame by frame into a temporary file beside its target and makes the final
file appear atomically (flush, fsync, rename) when closed; an existing target is never replaced
unless ``force=True``. Closing happens on ``with`` exit even after an exception, so a run stopped
by Ctrl-C or an error still leaves complete, valid files holding every frame it finished.

A *hard* stop (killed process, power loss) leaves the temporary file instead:

- ``predictions.json`` is written as JSON Lines to ``predictions.json.partial.jsonl`` (first
  line: the header, then one frame record per line, flushed after each frame) and assembled into
  ``predictions.json`` at close. :func:`load_predictions` reads either file and, for the partial
  one, returns every complete line with ``"complete": false``;
- the CSV's ``.part`` file is a valid CSV of the finished rows; COCO's ``.part`` is the JSON
  array without its closing bracket; video ``.part.mp4`` files are usually unplayable.

``predictions.json`` layout::

    {"format": "posecli-predictions", "version": 1, "complete": true, "bbox_format": "xyxy",
     "source": ..., "fps": ..., "frame_count": ..., "skeleton": {...} | null,
     "frames": [{"frame": 0, "time_s": 0.0, "name": ...,
                 "instances": [{"keypoints": [[x, y], ...], "keypoint_scores": [...],
                                "bbox": [x1, y1, x2, y2], "bbox_score": s, "track_id": id | null}]}]}

Keypoints are image pixels (pixel-centre convention), rounded to ``decimals``.
"""

from __future__ import annotations

import abc
import csv
import io
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Protocol, runtime_checkable

import cv2
import numpy as np

from posecli._closing import Closing
from posecli.errors import DataError, PoseCliError
from posecli.runtime.frames import Frame
from posecli.runtime.result import FramePrediction, nan_to_none

__all__ = [
    "CocoResultsWriter",
    "DlcCsvWriter",
    "ImageWriter",
    "PredictionsWriter",
    "Sink",
    "VideoWriter",
    "check_writable",
    "load_predictions",
    "partial_path",
    "skeleton_to_dict",
]

FORMAT_NAME = "posecli-predictions"
FORMAT_VERSION = 1


@runtime_checkable
class Sink(Protocol):
    """Where ``posecli predict`` sends each frame: result files, a rendered video, a window.

    ``write(frame, result)`` gets every frame in order (``frame`` is the decoded
    :class:`~posecli.runtime.frames.Frame`, ``None`` when writing saved results);
    ``close()`` finalises. A sink returning ``False`` from ``write`` stops the run.
    """

    def write(self, frame: Frame | None, prediction: FramePrediction) -> bool | None: ...

    def close(self) -> None: ...


def skeleton_to_dict(skeleton: Any) -> dict[str, Any] | None:
    """A JSON-ready dict of a skeleton object (``keypoint_names``, ``links``, colours...) or dict."""
    if skeleton is None:
        return None
    if isinstance(skeleton, Mapping):
        items = dict(skeleton)
    else:
        fields = (
            "name",
            "keypoint_names",
            "links",
            "keypoint_colors",
            "link_colors",
            "flip_indices",
            "sigmas",
        )
        items = {f: getattr(skeleton, f) for f in fields if getattr(skeleton, f, None) is not None}
        if getattr(skeleton, "detail_ids", ()):  # face/hand points drawn finer
            items["detail_ids"] = list(skeleton.detail_ids)
    return {k: (v.tolist() if isinstance(v, np.ndarray) else _listify(v)) for k, v in items.items()}


def _listify(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return [_listify(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def check_writable(path: str | Path, force: bool) -> Path:
    """Refuse to replace an existing ``path`` unless ``force``; create its parent folder."""
    path = Path(path)
    if path.exists() and not force:
        raise PoseCliError(f"{path} already exists; pass --force to overwrite")
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def partial_path(path: str | Path) -> Path:
    """The JSON Lines file a :class:`PredictionsWriter` streams into while running."""
    path = Path(path)
    return path.with_name(path.name + ".partial.jsonl")


def _part_path(path: Path) -> Path:
    """Temporary path keeping the extension (containers are chosen by it): ``a.part.mp4``."""
    return (
        path.with_name(f"{path.stem}.part{path.suffix}")
        if path.suffix
        else path.with_name(path.name + ".part")
    )


def _fsync_close(fh: IO[Any]) -> None:
    fh.flush()
    os.fsync(fh.fileno())
    fh.close()


class _Writer(Closing, abc.ABC):
    """Context-manager plumbing: ``__exit__`` closes (finalises) even after an exception."""

    closed = False

    @abc.abstractmethod
    def close(self) -> None:
        """Finalise the output file(s); safe to call twice."""


class PredictionsWriter(_Writer):
    """Streams ``predictions.json`` (JSON Lines while running, one JSON document at close).

    Args:
        path: the final ``predictions.json``.
        skeleton: skeleton object or dict stored in the header.
        source, fps, frame_count: stored in the header.
        force: replace an existing file.
        decimals: rounding of coordinates.
        header_extra: more header entries (e.g. ``lifting``).
    """

    def __init__(
        self,
        path: str | Path,
        *,
        skeleton: Any = None,
        source: str | None = None,
        fps: float | None = None,
        frame_count: int | None = None,
        force: bool = False,
        decimals: int = 3,
        header_extra: dict[str, Any] | None = None,
    ) -> None:
        self.path = check_writable(path, force)
        self.partial = check_writable(partial_path(self.path), force)
        self.decimals = decimals
        self.frames_written = 0
        self.header = {
            "format": FORMAT_NAME,
            "version": FORMAT_VERSION,
            "bbox_format": "xyxy",
            "source": source,
            "fps": fps,
            "frame_count": frame_count,
            "skeleton": skeleton_to_dict(skeleton),
            **(header_extra or {}),
        }
        self._fh: IO[str] | None = self.partial.open("w", encoding="utf-8")
        self._fh.write(json.dumps({"header": self.header}) + "\n")
        self._fh.flush()

    def write(self, frame: Frame | None, prediction: FramePrediction) -> None:
        """Append one frame (flushed at once, so a killed run keeps it)."""
        if self._fh is None:
            raise PoseCliError(f"{self.path}: writer is closed")
        self._fh.write(
            json.dumps(prediction.to_record(self.decimals), separators=(",", ":")) + "\n"
        )
        self._fh.flush()
        self.frames_written += 1

    def close(self, complete: bool = True) -> None:
        """Assemble ``predictions.json`` from the JSON Lines file and remove the latter."""
        if self._fh is None:
            return
        _fsync_close(self._fh)
        self._fh = None
        _assemble(self.partial, self.path, complete=complete)
        self.partial.unlink()
        self.closed = True

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close(complete=exc_type is None)


def _read_jsonl(path: Path) -> tuple[dict[str, Any], list[str]]:
    """Header and the complete record lines of a partial file (a torn last line is dropped)."""
    header: dict[str, Any] = {}
    lines: list[str] = []
    with path.open("r", encoding="utf-8") as fh:
        for i, line in enumerate(fh):
            if not line.endswith("\n"):
                break  # torn write of a killed process
            if i == 0:
                try:
                    header = json.loads(line)["header"]
                except (json.JSONDecodeError, KeyError, TypeError) as exc:
                    raise DataError(
                        f"{path}: first line is not a posecli predictions header"
                    ) from exc
                continue
            lines.append(line.rstrip("\n"))
    return header, lines


def _assemble(partial: Path, final: Path, *, complete: bool) -> None:
    header, lines = _read_jsonl(partial)
    tmp = final.with_name(final.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as out:
        head = {**header, "complete": complete, "frames": []}
        text = json.dumps(head)
        out.write(text[: text.rindex("[")] + "[\n")
        for i, line in enumerate(lines):
            out.write(("," if i else "") + line + "\n")
        out.write("]}\n")
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, final)


def load_predictions(path: str | Path) -> dict[str, Any]:
    """Read a ``predictions.json``, or recover what an interrupted run left in its partial file.

    ``path`` may be the final file or the ``.partial.jsonl`` one; if the final file is missing
    and a partial one exists beside it, that one is read. Recovered documents have
    ``"complete": false``.

    Raises:
        DataError: no such file, or not a posecli predictions file.
    """
    path = Path(path)
    if not path.exists() and partial_path(path).exists():
        path = partial_path(path)
    if not path.exists():
        raise DataError(f"{path}: no such predictions file")
    if path.name.endswith(".jsonl"):
        header, lines = _read_jsonl(path)
        try:
            frames = [json.loads(line) for line in lines]
        except json.JSONDecodeError as exc:
            raise DataError(f"{path}: corrupt record: {exc}") from exc
        return {**header, "complete": False, "frames": frames}
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(f"{path}: cannot read predictions: {exc}") from exc
    if not isinstance(doc, dict) or doc.get("format") != FORMAT_NAME:
        raise DataError(f"{path}: not a posecli predictions file (no 'format': '{FORMAT_NAME}')")
    return doc


class _TextStream(_Writer):
    """A text file written to ``<target>.part`` and renamed over the target at close."""

    def __init__(self, path: str | Path, force: bool) -> None:
        self.path = check_writable(path, force)
        self.part = self.path.with_name(self.path.name + ".part")
        self._fh: IO[str] | None = self.part.open("w", encoding="utf-8", newline="")

    def _write(self, text: str) -> None:
        if self._fh is None:
            raise PoseCliError(f"{self.path}: writer is closed")
        self._fh.write(text)
        self._fh.flush()

    def _finish(self, tail: str = "") -> None:
        if self._fh is None:
            return
        self._fh.write(tail)
        _fsync_close(self._fh)
        self._fh = None
        os.replace(self.part, self.path)
        self.closed = True


class CocoResultsWriter(_TextStream):
    """COCO keypoint results list (``--format coco``), as read by ``COCO.loadRes``.

    Each instance becomes ``{"image_id", "category_id", "keypoints": [x, y, s] * K, "score",
    "bbox": [x, y, w, h], "track_id"?}``. ``score`` is ``bbox_score`` times the mean of the
    keypoint scores above ``kpt_thr`` (MMPose's rescoring; the mean is 0 when none is).

    Args:
        path: output JSON file.
        category_id: category of every instance.
        image_ids: file name → image id; frames not in it use their frame index.
        kpt_thr: keypoint score threshold of the rescoring.
        force: replace an existing file.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        category_id: int = 1,
        image_ids: Mapping[str, int] | None = None,
        kpt_thr: float = 0.2,
        force: bool = False,
    ) -> None:
        super().__init__(path, force)
        self.category_id, self.kpt_thr = category_id, kpt_thr
        self.image_ids = dict(image_ids or {})
        self.count = 0
        self._write("[")

    def write(self, frame: Frame | None, prediction: FramePrediction) -> None:
        """Append the instances of one frame."""
        image_id = self.image_ids.get(prediction.name or "", prediction.frame)
        sc = prediction.keypoint_scores
        above = sc > self.kpt_thr
        mean = np.where(above.any(1), (sc * above).sum(1) / np.maximum(above.sum(1), 1), 0.0)
        scores = prediction.bbox_scores * mean
        wh = prediction.bboxes[:, 2:] - prediction.bboxes[:, :2]
        for i in range(len(prediction)):
            flat = np.concatenate([prediction.keypoints[i], sc[i][:, None]], axis=1).reshape(-1)
            rec: dict[str, Any] = {
                "image_id": image_id,
                "category_id": self.category_id,
                "keypoints": nan_to_none(np.round(flat.astype(np.float64), 3).tolist()),
                "score": round(float(scores[i]), 5),
                "bbox": np.round(
                    np.concatenate([prediction.bboxes[i, :2], wh[i]]).astype(np.float64), 2
                ).tolist(),
            }
            if prediction.track_ids is not None:
                rec["track_id"] = int(prediction.track_ids[i])
            self._write(("," if self.count else "") + "\n" + json.dumps(rec, separators=(",", ":")))
            self.count += 1

    def close(self) -> None:
        self._finish("\n]\n")


class DlcCsvWriter(_TextStream):
    """DeepLabCut-style wide CSV (``--format csv``): one row per frame.

    Header rows: ``scorer``, (``individuals`` when ``individuals > 1``), ``bodyparts``,
    ``coords`` (``x, y, likelihood`` per keypoint). The first column is the frame index (video)
    or the image name. With one individual the best-scoring instance is written; with several,
    instances go to slots by track id (first seen, first slot; a new id reuses the slot of a
    track absent from the frame) or, without tracking, by decreasing box score. Missing values
    are empty cells.

    Args:
        path: output CSV.
        keypoint_names: the K body-part names.
        individuals: number of instance slots per row.
        scorer: value of the scorer row.
        force: replace an existing file.
    """

    def __init__(
        self,
        path: str | Path,
        keypoint_names: Sequence[str],
        *,
        individuals: int = 1,
        scorer: str = "posecli",
        force: bool = False,
    ) -> None:
        if individuals < 1:
            raise ValueError("individuals must be >= 1")
        super().__init__(path, force)
        self.names, self.n_ind = list(keypoint_names), int(individuals)
        self._slots: dict[int, int] = {}
        self._slot_seen: dict[int, int] = {}
        k = len(self.names)
        ind_names = [f"individual{i}" for i in range(self.n_ind)]
        rows = [["scorer"] + [scorer] * (3 * k * self.n_ind)]
        if self.n_ind > 1:
            rows.append(["individuals"] + [n for n in ind_names for _ in range(3 * k)])
        rows.append(
            ["bodyparts"] + [b for _ in range(self.n_ind) for b in self.names for _ in range(3)]
        )
        rows.append(["coords"] + ["x", "y", "likelihood"] * (k * self.n_ind))
        self._write_rows(rows)

    def _write_rows(self, rows: list[list[Any]]) -> None:
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\n").writerows(rows)
        self._write(buf.getvalue())

    def _slot_order(self, pred: FramePrediction) -> list[int | None]:
        """Instance index for each slot (``None``: empty)."""
        order = [int(i) for i in np.argsort(-pred.bbox_scores, kind="stable")]
        if pred.track_ids is None or self.n_ind == 1:
            return [*order[: self.n_ind], *[None] * max(0, self.n_ind - len(order))]
        slots: list[int | None] = [None] * self.n_ind
        pending = []
        for i in order:  # tracks that already own a slot
            slot = self._slots.get(int(pred.track_ids[i]))
            if slot is not None and slots[slot] is None:
                slots[slot] = i
            else:
                pending.append(i)
        for i in pending:  # new tracks take the least recently used free slot
            free = [s for s in range(self.n_ind) if slots[s] is None]
            if not free:
                break
            slot = min(free, key=lambda s: self._slot_seen.get(s, -1))
            self._slots = {t: s for t, s in self._slots.items() if s != slot}
            self._slots[int(pred.track_ids[i])] = slot
            slots[slot] = i
        for slot, inst in enumerate(slots):
            if inst is not None:
                self._slot_seen[slot] = pred.frame
        return slots

    def write(self, frame: Frame | None, prediction: FramePrediction) -> None:
        """Append the row of one frame."""
        k = len(self.names)
        if len(prediction) and prediction.keypoints.shape[1] != k:
            raise PoseCliError(
                f"{self.path}: {prediction.keypoints.shape[1]} keypoints, header has {k}"
            )
        label = (
            prediction.name if prediction.time_s is None and prediction.name else prediction.frame
        )
        row: list[Any] = [label]
        for inst in self._slot_order(prediction):
            if inst is None:
                row += [""] * (3 * k)
                continue
            vals = np.concatenate(
                [prediction.keypoints[inst], prediction.keypoint_scores[inst][:, None]], 1
            )
            row += [
                "" if not np.isfinite(v) else f"{v:.3f}" if j % 3 < 2 else f"{v:.4f}"
                for j, v in enumerate(vals.reshape(-1).tolist())
            ]
        self._write_rows([row])

    def close(self) -> None:
        self._finish()


class VideoWriter(_Writer):
    """Rendered video (``--render``): same fps and size as the input, ``mp4v`` by default.

    Args:
        path: output video (``.mp4``; the container follows the extension).
        fps: frames per second.
        size: ``(w, h)``; every frame must have this size.
        fourcc: four-character codec code.
        force: replace an existing file.

    Raises:
        PoseCliError: the target exists (without ``force``) or OpenCV cannot open a writer.
    """

    def __init__(
        self,
        path: str | Path,
        fps: float,
        size: tuple[int, int],
        *,
        fourcc: str = "mp4v",
        force: bool = False,
    ) -> None:
        self.path = check_writable(path, force)
        self.part = _part_path(self.path)
        self.size, self.fps = (int(size[0]), int(size[1])), float(fps)
        self._vw: cv2.VideoWriter | None = cv2.VideoWriter(
            str(self.part), cv2.VideoWriter.fourcc(*fourcc), self.fps, self.size
        )
        if not self._vw.isOpened():
            self._vw = None
            raise PoseCliError(f"{self.path}: OpenCV cannot write {fourcc!r} video here")
        self.frames_written = 0

    def write(self, image: np.ndarray) -> None:
        """Append a BGR uint8 ``(h, w, 3)`` frame."""
        if self._vw is None:
            raise PoseCliError(f"{self.path}: writer is closed")
        if (image.shape[1], image.shape[0]) != self.size:
            raise PoseCliError(
                f"{self.path}: frame size {image.shape[1]}x{image.shape[0]} is not {self.size[0]}x{self.size[1]}"
            )
        self._vw.write(np.ascontiguousarray(image))
        self.frames_written += 1

    def close(self) -> None:
        if self._vw is None:
            return
        self._vw.release()
        self._vw = None
        os.replace(self.part, self.path)
        self.closed = True


class ImageWriter(_Writer):
    """Rendered images (``--render`` for image sources): one file per frame in ``directory``.

    Files are named after the frame's image name (extension replaced by ``ext``) or
    ``frame_000123`` for video frames; each is written atomically.
    """

    def __init__(self, directory: str | Path, *, ext: str = ".jpg", force: bool = False) -> None:
        self.directory = Path(directory)
        self.ext, self.force = ext if ext.startswith(".") else "." + ext, force
        self.directory.mkdir(parents=True, exist_ok=True)
        self.written: list[Path] = []

    def write(self, image: np.ndarray, *, frame: int, name: str | None = None) -> Path:
        """Write one BGR uint8 image; returns its path."""
        stem = Path(name).stem if name and "#" not in name else f"frame_{frame:06d}"
        path = check_writable(self.directory / (stem + self.ext), self.force)
        ok, data = cv2.imencode(self.ext, image)
        if not ok:
            raise PoseCliError(f"{path}: OpenCV cannot encode {self.ext} images")
        tmp = path.with_name(path.name + ".part")
        with tmp.open("wb") as fh:
            fh.write(data.tobytes())
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        self.written.append(path)
        return path

    def close(self) -> None:
        self.closed = True
