"""The dataset every format builds: raw sample dicts from a :class:`PoseAnnotations`.

Top-down mode yields one sample per instance, bottom-up one per image (all its instances).
Training (``test_mode=False``) drops crowd instances, instances with no labelled keypoint and
empty boxes (reference §2). Boxes are clipped to the image: ``x1 = clip(x, 0, W-1)``,
``x2 = clip(x+w, 0, W-1)`` (same for y), except for formats whose boxes MMPose uses unclipped
(``PoseAnnotations.clip_boxes``: centre/scale and whole-image boxes); a missing area becomes ``max(box area · 0.53, 1)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from posecli.data.annotations import PoseAnnotations
from posecli.data.metainfo import Skeleton
from posecli.errors import DataError

SPLITS = ("train", "val", "all")

#: Per-instance extra columns handed to samples (normalisers of PCKh / NME, hand types).
SAMPLE_EXTRAS = frozenset({"head_size", "box_size", "hand_type"})


def split_images(
    ann: PoseAnnotations,
    split: str = "all",
    *,
    val_every: int | None = None,
    val_fraction: float | None = None,
    val_list: str | Path | None = None,
    val_last: int | None = None,
    seed: int = 0,
) -> np.ndarray:
    """Indices of the images in ``split`` under one rule (images sorted by file name):

    - ``val_every = n``: validation = every n-th image (the n-th, 2n-th, ...);
    - ``val_fraction = f``: validation = ``round(f·N)`` images drawn with ``seed``;
    - ``val_list = file``: validation = the file names listed (one per line);
    - ``val_last = n``: validation = the last n images (a held-out stretch of a video whose
      frames are named by index, as SLEAP's are).
    """
    if split not in SPLITS:
        raise DataError(f"split must be one of {', '.join(SPLITS)}, not {split!r}")
    order = np.array(
        sorted(range(len(ann.images)), key=lambda i: ann.images[i].file_name), np.int64
    )
    rules = sum(x is not None for x in (val_every, val_fraction, val_list, val_last))
    if split == "all":
        return order
    if rules != 1:
        raise DataError(
            f"{ann.source}: split {split!r} needs exactly one of val_every, val_fraction, val_list, val_last"
        )
    is_val = np.zeros(len(order), bool)
    if val_every is not None:
        if int(val_every) < 2:
            raise DataError(f"{ann.source}: val_every must be ≥ 2")
        is_val[int(val_every) - 1 :: int(val_every)] = True
    elif val_last is not None:
        if not 0 < int(val_last) < len(order):
            raise DataError(f"{ann.source}: val_last must be between 1 and {len(order) - 1}")
        is_val[len(order) - int(val_last) :] = True
    elif val_fraction is not None:
        if not 0 < float(val_fraction) < 1:
            raise DataError(f"{ann.source}: val_fraction must be between 0 and 1")
        n_val = max(1, round(float(val_fraction) * len(order)))
        is_val[np.random.default_rng(seed).permutation(len(order))[:n_val]] = True
    else:
        try:
            names = {ln.strip() for ln in Path(val_list).read_text().splitlines() if ln.strip()}
        except OSError as exc:
            raise DataError(f"{val_list}: cannot read validation list: {exc}") from None
        is_val = np.array([ann.images[i].file_name in names for i in order], bool)
    return order[is_val] if split == "val" else order[~is_val]


class PoseDataset:
    """Raw samples (see :mod:`posecli.data.sample`) of one split of a dataset.

    Args:
        ann: the annotations.
        images: image indices of this split (default all, sorted by file name).
        mode: ``"topdown"`` (one sample per instance) or ``"bottomup"`` (one per image).
        test_mode: keep every instance with a valid box (evaluation) instead of the training filter.
        detections: ``image_id → [(bbox xywh, score)]`` to use instead of ground-truth boxes
            (top-down evaluation with detected boxes).
    """

    def __init__(
        self,
        ann: PoseAnnotations,
        images: Sequence[int] | np.ndarray | None = None,
        *,
        mode: str = "topdown",
        test_mode: bool = False,
        detections: dict[int, list[tuple[list[float], float]]] | None = None,
    ) -> None:
        if mode not in ("topdown", "bottomup"):
            raise DataError(f"mode must be 'topdown' or 'bottomup', not {mode!r}")
        if images is not None:
            ann = ann.subset_images(images)
        self.ann = ann
        self.mode = mode
        self.test_mode = test_mode
        self._prepare_boxes()
        keep = (
            np.isfinite(self.xyxy).all(axis=1)
            & (self.xyxy[:, 2] > self.xyxy[:, 0])
            & (self.xyxy[:, 3] > self.xyxy[:, 1])
        )
        if not test_mode:
            labelled = (ann.visibility > 0).any(axis=1) & (
                np.abs(ann.keypoints).sum(axis=(1, 2)) > 0
            )
            keep &= (ann.iscrowd == 0) & labelled
        self.keep = np.flatnonzero(keep)
        self.detections = detections
        if detections is not None:
            self._items = self._detection_items(detections)
        elif mode == "topdown":
            self._items = [("inst", int(i)) for i in self.keep]
        else:
            per = ann.instances_of()
            kept = set(self.keep.tolist())
            self._items = [
                ("image", i, [j for j in per[i] if j in kept]) for i in range(len(ann.images))
            ]

    @property
    def skeleton(self) -> Skeleton:
        return self.ann.skeleton

    def _prepare_boxes(self) -> None:
        ann = self.ann
        b = ann.bbox
        x1, y1 = b[:, 0], b[:, 1]
        x2, y2 = b[:, 0] + b[:, 2], b[:, 1] + b[:, 3]
        wh = np.array([[r.width, r.height] for r in ann.images], np.float64).reshape(-1, 2)[
            ann.image_index
        ]
        known = (wh > 0).all(axis=1) & ann.clip_boxes
        wmax = np.where(known, wh[:, 0] - 1, np.inf)
        hmax = np.where(known, wh[:, 1] - 1, np.inf)
        lo = np.where(known, 0.0, -np.inf)
        self.xyxy = np.stack(
            [
                np.clip(x1, lo, wmax),
                np.clip(y1, lo, hmax),
                np.clip(x2, lo, wmax),
                np.clip(y2, lo, hmax),
            ],
            axis=1,
        ).astype(np.float32)
        area = ann.area.astype(np.float64).copy()
        missing = ~np.isfinite(area) | (area <= 0)
        box_area = (self.xyxy[:, 2] - self.xyxy[:, 0]) * (self.xyxy[:, 3] - self.xyxy[:, 1])
        area[missing] = np.maximum(box_area[missing] * 0.53, 1.0)
        self.area = area.astype(np.float32)

    def _detection_items(self, dets: dict[int, list[tuple[list[float], float]]]) -> list[tuple]:
        by_id = {r.id: i for i, r in enumerate(self.ann.images)}
        items = []
        for img_id, boxes in dets.items():
            if img_id in by_id:
                items += [("det", by_id[img_id], box, score) for box, score in boxes]
        return items

    def __len__(self) -> int:
        return len(self._items)

    def image_key(self, index: int) -> tuple[str, int | None]:
        """``(path, frame)`` of the image of sample ``index`` (for the image cache)."""
        item = self._items[index]
        img_i = int(self.ann.image_index[item[1]]) if item[0] == "inst" else int(item[1])
        path, frame = self.ann.image_source(img_i)
        return str(path), frame

    def __getitem__(self, index: int) -> dict[str, Any]:
        item = self._items[index]
        if item[0] == "inst":
            j = item[1]
            return self._sample(int(self.ann.image_index[j]), np.array([j]))
        if item[0] == "image":
            return self._sample(item[1], np.asarray(item[2], np.int64), bottom_up=True)
        _, img_i, box, score = item
        return self._det_sample(img_i, box, score, index)

    def _base(self, img_i: int) -> dict[str, Any]:
        ann, skel = self.ann, self.ann.skeleton
        rec = ann.images[img_i]
        path, frame = ann.image_source(img_i)
        return {
            "img_path": str(path),
            "frame_idx": frame,
            "img_id": rec.id,
            "ori_shape": (rec.height, rec.width),
            "flip_indices": list(skel.flip_indices),
            "upper_body_ids": list(skel.upper_body_ids),
            "lower_body_ids": list(skel.lower_body_ids),
            "dataset_keypoint_weights": skel.joint_weights,
        }

    def _sample(self, img_i: int, inst: np.ndarray, bottom_up: bool = False) -> dict[str, Any]:
        ann = self.ann
        s = self._base(img_i)
        vis = ann.visibility[inst]
        s.update(
            id=[int(x) for x in ann.ids[inst]] if bottom_up else int(ann.ids[inst[0]]),
            category_id=int(ann.category_id[inst[0]]) if len(inst) else 1,
            bbox=self.xyxy[inst].copy(),
            bbox_score=np.ones(len(inst), np.float32),
            keypoints=ann.keypoints[inst].astype(np.float32),
            keypoints_visible=np.minimum(vis, 1).astype(np.float32),
            num_keypoints=int((vis > 0).sum()),
            area=self.area[inst].copy(),
            iscrowd=ann.iscrowd[inst].astype(np.int64),
            track_id=ann.track_id[inst].copy(),
        )
        for key, col in ann.extras.items():
            if key in SAMPLE_EXTRAS:
                s[key] = col[inst[0]] if not bottom_up else col[inst].copy()
        return s

    def _det_sample(self, img_i: int, box: list[float], score: float, index: int) -> dict[str, Any]:
        s = self._base(img_i)
        k = self.ann.num_keypoints
        x, y, w, h = box
        s.update(
            id=index,
            category_id=1,
            bbox=np.array([[x, y, x + w, y + h]], np.float32),
            bbox_score=np.array([score], np.float32),
            keypoints=np.zeros((1, k, 2), np.float32),
            keypoints_visible=np.ones((1, k), np.float32),
            num_keypoints=0,
            area=np.array([w * h], np.float32),
            iscrowd=np.zeros(1, np.int64),
            track_id=np.full(1, -1, np.int64),
        )
        return s


__all__ = ["SPLITS", "PoseDataset", "split_images"]
