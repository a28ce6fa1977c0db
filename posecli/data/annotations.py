"""The in-memory annotation table every reader produces and every writer and dataset consumes.

Instances are stored column-wise (one array per field, M instances in all) so that loading and
indexing 100k instances stays fast. Images are a list of :class:`ImageRecord`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from posecli.data.metainfo import Skeleton
from posecli.errors import DataError


@dataclass
class ImageRecord:
    """One image (or video frame).

    Attributes:
        id: image id (COCO ``image_id``).
        file_name: path relative to the annotation root (or absolute).
        width / height: pixels (0 when unknown).
        frame_idx: frame number in ``video``; None for plain images.
        video: video file (relative to the root, or absolute) holding the frame, used when
            ``file_name`` (where the frame would be extracted to) does not exist.
    """

    id: int
    file_name: str
    width: int = 0
    height: int = 0
    frame_idx: int | None = None
    video: str | None = None


@dataclass
class PoseAnnotations:
    """Images and keypoint instances of one dataset.

    Attributes:
        skeleton: keypoint definition (K keypoints).
        images: the images, any order.
        root: folder that relative ``file_name``s start from.
        source: file the annotations were read from (for error messages).
        image_index: (M,) int64 index into ``images`` of each instance.
        keypoints: (M, K, 2) float64 image pixels (float64 keeps source values exact); unlabelled keypoints hold 0.
        visibility: (M, K) int8 COCO ``v``: 0 unlabelled, 1 labelled but occluded, 2 visible.
        bbox: (M, 4) float64 ``x, y, w, h`` (COCO), NaN where the source has no box.
        ids: (M,) int64 instance ids; category_id: (M,) int64; iscrowd: (M,) int8;
        area: (M,) float64, NaN when missing; score: (M,) float32 (1 for ground truth);
        track_id: (M,) int64, -1 when untracked.
        categories: COCO categories to write back (``id``, ``name``...).
        extras: per-instance columns some formats carry, each with M rows (``center (M, 2)``
            and ``scale (M,)`` of MMPose's centre/scale boxes, NME/PCK normalisers
            ``box_size (M,)``, ``head_size (M,)``; ``box_from_keypoints (M,)`` 1 where the box
            is the keypoints' extent, not the file's).
        clip_boxes: clip boxes to the image when building samples (False for formats whose
            boxes come from a centre and scale, which MMPose uses unclipped).
    """

    skeleton: Skeleton
    images: list[ImageRecord]
    root: Path = Path(".")
    source: str = ""
    image_index: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    keypoints: np.ndarray = field(default_factory=lambda: np.zeros((0, 0, 2), np.float64))
    visibility: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.int8))
    bbox: np.ndarray = field(default_factory=lambda: np.zeros((0, 4), np.float64))
    ids: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    category_id: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    iscrowd: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int8))
    area: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float64))
    score: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    track_id: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    track_names: list[str] = field(default_factory=list)
    categories: list[dict] = field(default_factory=list)
    extras: dict[str, np.ndarray] = field(default_factory=dict)
    clip_boxes: bool = True

    @property
    def num_instances(self) -> int:
        return int(self.image_index.shape[0])

    @property
    def num_keypoints(self) -> int:
        return self.skeleton.num_keypoints

    def image_path(self, i: int) -> Path:
        """Absolute-or-root-relative path of image ``i``."""
        p = Path(self.images[i].file_name)
        return p if p.is_absolute() else self.root / p

    def image_source(self, i: int) -> tuple[Path, int | None]:
        """``(file, frame_idx)`` to decode image ``i``: the image file, else its video frame."""
        rec = self.images[i]
        path = self.image_path(i)
        if rec.video is not None and rec.frame_idx is not None and not path.exists():
            video = Path(rec.video)
            return (video if video.is_absolute() else self.root / video), int(rec.frame_idx)
        return path, None

    def instances_of(self) -> list[np.ndarray]:
        """Instance indices per image (list aligned with ``images``), in stored order."""
        order = np.argsort(self.image_index, kind="stable")
        counts = np.bincount(self.image_index, minlength=len(self.images))
        return np.split(order, np.cumsum(counts)[:-1])

    def subset_images(self, keep: Sequence[int] | np.ndarray) -> PoseAnnotations:
        """A copy holding only the images at indices ``keep`` (and their instances)."""
        keep = np.asarray(keep, np.int64)
        remap = np.full(len(self.images), -1, np.int64)
        remap[keep] = np.arange(len(keep))
        mask = remap[self.image_index] >= 0 if self.num_instances else np.zeros(0, bool)
        return self.select(mask, images=[self.images[i] for i in keep], image_map=remap)

    def select(
        self,
        mask: np.ndarray,
        *,
        images: list[ImageRecord] | None = None,
        image_map: np.ndarray | None = None,
    ) -> PoseAnnotations:
        """A copy with the instances where ``mask`` is true."""
        idx = self.image_index[mask]
        if image_map is not None:
            idx = image_map[idx]
        return replace(
            self,
            images=list(self.images) if images is None else images,
            image_index=idx,
            keypoints=self.keypoints[mask],
            visibility=self.visibility[mask],
            bbox=self.bbox[mask],
            ids=self.ids[mask],
            category_id=self.category_id[mask],
            iscrowd=self.iscrowd[mask],
            area=self.area[mask],
            score=self.score[mask],
            track_id=self.track_id[mask],
            extras={k: v[mask] for k, v in self.extras.items()},
        )

    def with_boxes_from_keypoints(self, *, overwrite: bool = False, pad: float = 0.0) -> None:
        """Fill NaN boxes (or all, with ``overwrite``) with the labelled keypoints' extent."""
        todo = np.isnan(self.bbox).any(axis=1) | overwrite
        if not todo.any():
            return
        self.bbox[todo] = keypoint_extent(self.keypoints[todo], self.visibility[todo] > 0, pad)
        derived = self.extras.get("box_from_keypoints", np.zeros(self.num_instances))
        self.extras["box_from_keypoints"] = np.maximum(derived, todo.astype(np.float64))

    def fill_missing(self) -> None:
        """Compute NaN areas as box ``w·h`` (COCO eval needs them) and zero unlabelled points."""
        self.keypoints[self.visibility <= 0] = 0.0
        missing = ~np.isfinite(self.area) | (self.area <= 0)
        self.area[missing] = self.bbox[missing, 2] * self.bbox[missing, 3]

    def validate(self) -> None:
        """Raise :class:`DataError` on shapes or values no dataset can use."""
        m, k = self.num_instances, self.num_keypoints
        if self.keypoints.shape != (m, k, 2) or self.visibility.shape != (m, k):
            raise DataError(
                f"{self.source}: keypoints {self.keypoints.shape} / visibility "
                f"{self.visibility.shape} do not match {m} instances × {k} keypoints"
            )
        labelled = self.visibility > 0
        bad = labelled & ~np.isfinite(self.keypoints).all(axis=-1)
        if bad.any():
            i, j = np.argwhere(bad)[0]
            raise DataError(
                f"{self.source}: instance id={self.ids[i]} "
                f"({self.images[self.image_index[i]].file_name}): keypoint "
                f"{self.skeleton.keypoint_names[j]!r} is labelled but not a finite number"
            )
        neg = (self.bbox[:, 2] < 0) | (self.bbox[:, 3] < 0)
        if neg.any():
            i = int(np.flatnonzero(neg)[0])
            raise DataError(
                f"{self.source}: instance id={self.ids[i]} "
                f"({self.images[self.image_index[i]].file_name}): negative box size "
                f"{self.bbox[i].tolist()}"
            )


def keypoint_extent(keypoints: np.ndarray, labelled: np.ndarray, pad: float = 0.0) -> np.ndarray:
    """``(M, 4)`` boxes ``x, y, w, h`` around the labelled keypoints (NaN if none), padded."""
    kp = np.where(labelled[..., None], keypoints, np.nan)
    with np.errstate(all="ignore"), _quiet_nan():
        lo = np.nanmin(kp, axis=1)
        hi = np.nanmax(kp, axis=1)
    wh = hi - lo
    return np.concatenate([lo - pad, wh + 2 * pad], axis=1)


class _quiet_nan:
    def __enter__(self) -> None:
        import warnings

        self._ctx = warnings.catch_warnings()
        self._ctx.__enter__()
        warnings.simplefilter("ignore", RuntimeWarning)

    def __exit__(self, *exc: object) -> None:
        self._ctx.__exit__(*exc)


def empty_like_columns(m: int, k: int) -> dict[str, np.ndarray]:
    """Default column arrays for ``m`` instances of ``k`` keypoints."""
    return {
        "image_index": np.zeros(m, np.int64),
        "keypoints": np.zeros((m, k, 2), np.float64),
        "visibility": np.zeros((m, k), np.int8),
        "bbox": np.full((m, 4), np.nan, np.float64),
        "ids": np.arange(1, m + 1, dtype=np.int64),
        "category_id": np.ones(m, np.int64),
        "iscrowd": np.zeros(m, np.int8),
        "area": np.full(m, np.nan, np.float64),
        "score": np.ones(m, np.float32),
        "track_id": np.full(m, -1, np.int64),
    }


__all__ = ["ImageRecord", "PoseAnnotations", "empty_like_columns", "keypoint_extent"]
