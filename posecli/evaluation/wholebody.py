"""COCO-WholeBody AP/AR (MMPose ``CocoWholeBodyMetric``): body, feet, face, hands and whole body.

Predictions ``(N, 133, 2)`` are rescored and OKS-NMS'd once with the 133 whole-body sigmas
(MMPose's ``CocoMetric`` steps); then each part is evaluated as its own COCO keypoint task
(pycocotools, ``iouType="keypoints"``) on its slice of the keypoints and sigmas, and the whole
body on all 133 — what xtcocotools' ``keypoints_body|foot|face|lefthand|righthand|wholebody``
similarity types compute. A ground-truth instance is ignored when the file's ``num_keypoints``
(its *body* count in COCO-WholeBody) is 0, in every part, as in xtcocotools.

Reported: ``coco-wholebody/AP`` ... ``coco-wholebody/AR (L)`` (whole body, MMPose's names) and
``coco-wholebody/<part>/AP`` ... for each part (``body``, ``foot``, ``face``, ``lefthand``,
``righthand``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from posecli.errors import DataError
from posecli.evaluation import coco as _coco
from posecli.evaluation.metrics import CocoAP

#: COCO-WholeBody's parts and their keypoint counts, in keypoint order.
WHOLEBODY_PARTS: dict[str, int] = {
    "body": 17,
    "foot": 6,
    "face": 68,
    "lefthand": 21,
    "righthand": 21,
}
_FIELDS = {
    "body": "keypoints",
    "foot": "foot_kpts",
    "face": "face_kpts",
    "lefthand": "lefthand_kpts",
    "righthand": "righthand_kpts",
}
_STATS = tuple(name.split("/", 1)[1] for name in _coco.COCO_METRIC_NAMES)


def wholebody_gt(source: str | Path | Mapping[str, Any]) -> dict[str, Any]:
    """A COCO-WholeBody ground truth with each annotation's ``keypoints`` holding all 133
    (``keypoints + foot_kpts + face_kpts + lefthand_kpts + righthand_kpts``); files already
    flat (133 in ``keypoints``) pass through."""
    data = _coco.load_coco_gt(source)
    for ann in data.get("annotations", []):
        if "foot_kpts" in ann:
            ann["keypoints"] = [v for part in _FIELDS.values() for v in ann.get(part, [])]
    return data


def part_gt(data: Mapping[str, Any], lo: int, hi: int) -> dict[str, Any]:
    """The ground truth restricted to keypoints ``lo:hi`` (``num_keypoints`` kept)."""
    anns = [{**a, "keypoints": a["keypoints"][3 * lo : 3 * hi]} for a in data["annotations"]]
    return {**data, "annotations": anns}


def part_results(results: Sequence[Mapping[str, Any]], lo: int, hi: int) -> list[dict[str, Any]]:
    """COCO results restricted to keypoints ``lo:hi``."""
    return [{**r, "keypoints": r["keypoints"][3 * lo : 3 * hi]} for r in results]


class CocoWholeBody(CocoAP):
    """COCO-WholeBody AP/AR of body, foot, face, hands and the whole body.

    Args:
        ann_file: COCO-WholeBody annotation file (its separate part fields are joined). Without
            it the ground truth is built from the batches (all 133 keypoints per instance).
        sigmas: ``(133,)`` OKS sigmas; default the skeleton's.
        score_thr / score_mode / nms_thr: as :class:`~posecli.evaluation.metrics.CocoAP`.
        parts: part names and keypoint counts (default COCO-WholeBody's 17/6/68/21/21).
    """

    name = "coco_wholebody"
    PREFIX: ClassVar[str] = "coco-wholebody"

    def __init__(
        self,
        ann_file: str | Path | None = None,
        sigmas: Sequence[float] | None = None,
        score_thr: float = 0.2,
        score_mode: str = "bbox_keypoint",
        nms_thr: float | None = 0.9,
        parts: Mapping[str, int] | None = None,
    ) -> None:
        super().__init__(
            ann_file=ann_file,
            sigmas=sigmas,
            score_thr=score_thr,
            score_mode=score_mode,
            nms_thr=nms_thr,
        )
        self.parts = dict(parts or WHOLEBODY_PARTS)

    def bind_dataset(self, dataset: Any) -> None:
        """With detected boxes the batches hold no ground truth: use the dataset's annotations
        (133 keypoints each) unless ``ann_file`` is given."""
        pose_dataset = getattr(dataset, "dataset", dataset)
        ann = getattr(pose_dataset, "ann", None)
        self._wholebody_gt: dict[str, Any] | None = None
        if self.ann_file is None and ann is not None and getattr(pose_dataset, "detections", None):
            from posecli.data.converters.coco import coco_dict

            self._wholebody_gt = self._body_counts(coco_dict(ann))

    def _body_counts(self, gt: dict[str, Any]) -> dict[str, Any]:
        body = next(iter(self.parts.values()))
        for a in gt["annotations"]:
            vis = np.asarray(a["keypoints"][2 : 3 * body : 3])
            a["num_keypoints"] = int((vis > 0).sum())
        return gt

    def reported_names(self) -> list[str]:
        whole = [f"{self.PREFIX}/{s}" for s in _STATS]
        return whole + [f"{self.PREFIX}/{p}/{s}" for p in self.parts for s in _STATS]

    def _compute(self, data: dict[str, np.ndarray]) -> dict[str, float]:
        k = data["pred"].shape[1]
        if sum(self.parts.values()) != k:
            raise DataError(
                f"metric coco_wholebody: parts hold {sum(self.parts.values())} keypoints, "
                f"predictions {k}"
            )
        if self.sigmas is None or len(self.sigmas) != k:
            raise DataError(f"metric coco_wholebody: needs {k} OKS sigmas (set sigmas)")
        sigmas = self.sigmas
        ids = data["id"] if np.all(data["id"] >= 0) else None
        area = data["area"]
        if np.isnan(area).any():
            span = data["pred"].max(axis=1) - data["pred"].min(axis=1)
            area = np.where(np.isnan(area), span[:, 0] * span[:, 1], area)
        self.coco_results = _coco.make_results(
            data["pred"],
            data["scores"],
            data["img_id"],
            sigmas=sigmas,
            bbox_scores=data["bbox_score"],
            areas=area,
            ids=ids,
            category_ids=data["category_id"],
            score_thr=self.score_thr,
            score_mode=self.score_mode,
            nms_thr=self.nms_thr,
        )
        bound: dict[str, Any] | None = getattr(self, "_wholebody_gt", None)
        if self.ann_file is not None:
            gt = wholebody_gt(self.ann_file)
        elif bound is not None:
            gt = bound
        else:
            gt = self._body_counts(self._gt_from_batches(data, ids))
        return self.evaluate_parts(gt, self.coco_results, sigmas)

    def evaluate_parts(
        self, gt: Mapping[str, Any], results: Sequence[Mapping[str, Any]], sigmas: np.ndarray
    ) -> dict[str, float]:
        """Whole-body and per-part AP/AR of COCO ``results`` (133 keypoints) against ``gt``."""
        out: dict[str, float] = {}
        whole = _coco.evaluate_coco(gt, results, sigmas)
        out.update({f"{self.PREFIX}/{s}": whole[f"coco/{s}"] for s in _STATS})
        lo = 0
        for part, n in self.parts.items():
            hi = lo + n
            values = _coco.evaluate_coco(
                part_gt(gt, lo, hi), part_results(results, lo, hi), sigmas[lo:hi]
            )
            out.update({f"{self.PREFIX}/{part}/{s}": values[f"coco/{s}"] for s in _STATS})
            lo = hi
        return out


__all__ = ["WHOLEBODY_PARTS", "CocoWholeBody", "part_gt", "part_results", "wholebody_gt"]
