"""Matched-instance metrics (SLEAP's evaluation of multi-animal models): recall, precision and
the mean keypoint error of the predictions matched to labelled instances.

Per image, predictions are taken by decreasing instance score (mean keypoint score) and each
is matched to the unmatched labelled instance of highest OKS with it, if that OKS is at least
``oks_thr`` (COCO's greedy rule). OKS is ``mean_k exp(-d² / (2 · area · (2σ_k)²))`` over the
labelled keypoints, with ``area`` the box of the labelled points (``w · h``, SLEAP's
convention; :func:`posecli.evaluation.coco.oks`).

Reported: ``match/recall`` (matched labelled instances / labelled instances), ``match/precision``
(matched predictions / predictions), ``match/error`` (mean pixel distance over the labelled
keypoints of matched pairs) and ``match/oks`` (their mean OKS).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from posecli.errors import DataError
from posecli.evaluation import coco as _coco
from posecli.evaluation.metrics import (
    Arrays,
    Metric,
    _get,
    _pred_scores,
    labels_of_found_instances,
    skeleton_sigmas,
)

__all__ = ["InstanceMatch", "match_instances"]


def match_instances(
    pred: np.ndarray,
    pred_scores: np.ndarray,
    gt: np.ndarray,
    gt_visible: np.ndarray,
    gt_area: np.ndarray,
    sigmas: np.ndarray,
    oks_thr: float = 0.1,
) -> list[tuple[int, int, float]]:
    """Greedy OKS matching of one image's instances.

    Args:
        pred: ``(N, K, 2)`` predicted keypoints; pred_scores: ``(N,)`` instance scores.
        gt: ``(M, K, 2)`` labelled keypoints; gt_visible: ``(M, K)``; gt_area: ``(M,)``.
        sigmas: ``(K,)``. oks_thr: least OKS of a match.

    Returns:
        ``(prediction index, labelled index, OKS)`` of every match.
    """
    if len(pred) == 0 or len(gt) == 0:
        return []
    sim = _coco.oks(pred, gt, gt_area, sigmas, gt_visible)  # (N, M)
    taken = np.zeros(len(gt), bool)
    matches = []
    for i in np.argsort(-np.asarray(pred_scores), kind="stable"):
        row = np.where(taken, -1.0, sim[i])
        j = int(np.argmax(row))
        if row[j] >= oks_thr:
            taken[j] = True
            matches.append((int(i), j, float(sim[i, j])))
    return matches


def _by_image(gt_img: np.ndarray, pred_img: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per image id (of either side): ``(labelled rows, prediction rows)``, grouped in one sort."""
    _, inverse = np.unique(np.concatenate([gt_img, pred_img]), return_inverse=True)
    n_images = int(inverse.max()) + 1 if len(inverse) else 0

    def groups(of: np.ndarray) -> list[np.ndarray]:
        order = np.argsort(of, kind="stable")
        return np.split(order, np.cumsum(np.bincount(of, minlength=n_images))[:-1])

    return list(zip(groups(inverse[: len(gt_img)]), groups(inverse[len(gt_img) :]), strict=True))


class InstanceMatch(Metric):
    """Recall, precision and matched mean error (``match/recall``, ``match/precision``,
    ``match/error``, ``match/oks``); see the module docstring.

    Args:
        sigmas: OKS sigmas ``(K,)``; default the skeleton's (SLEAP: 0.025 for every keypoint).
        oks_thr: least OKS of a match.
        score_thr: predictions whose instance score is below this are dropped first.
    """

    name = "instance_match"
    scores_found_instances = True
    NAMES = ("match/recall", "match/precision", "match/error", "match/oks")

    def __init__(
        self, sigmas: Sequence[float] | None = None, oks_thr: float = 0.1, score_thr: float = 0.0
    ) -> None:
        super().__init__()
        self.sigmas = None if sigmas is None else np.asarray(sigmas, np.float64)
        self.oks_thr = float(oks_thr)
        self.score_thr = float(score_thr)
        self._dataset_gt: dict[str, np.ndarray] | None = None

    def reported_names(self) -> list[str]:
        return list(self.NAMES)

    @classmethod
    def skeleton_defaults(cls, skeleton: Any, arguments: Mapping[str, Any]) -> dict[str, Any]:
        return skeleton_sigmas(skeleton, arguments)

    def bind_dataset(self, dataset: Any) -> None:
        """Bottom-up models and detected boxes find instances, not given ones: the labelled
        instances then come from the dataset, not the batches."""
        ann = labels_of_found_instances(dataset)
        self._dataset_gt = None
        if ann is not None:
            keep = ann.iscrowd == 0
            ids = np.array([r.id for r in ann.images])
            box = np.asarray(ann.bbox, np.float64)
            self._dataset_gt = {
                "img_id": ids[ann.image_index][keep],
                "gt": np.asarray(ann.keypoints, np.float64)[keep],
                "gt_visible": (np.asarray(ann.visibility) > 0)[keep],
                "gt_area": (box[:, 2] * box[:, 3])[keep],
                "gt_key": np.flatnonzero(keep),
            }

    def _extract(self, predictions: Arrays, batch_meta: Arrays) -> dict[str, np.ndarray]:
        kps = _get(predictions, "keypoints", self.name).astype(np.float64)
        n = len(kps)
        out = {
            "pred": kps,
            "score": _pred_scores(predictions, self.name).astype(np.float64).reshape(n, -1).mean(1),
            "img_id": _get(batch_meta, "img_id", self.name).reshape(-1),
        }
        if self._dataset_gt is None:
            box = _get(batch_meta, "bbox", self.name).reshape(n, 4).astype(np.float64)
            has_ids = batch_meta.get("id") is not None
            out["gt"] = _get(batch_meta, "keypoints", self.name).astype(np.float64)
            out["gt_visible"] = _get(batch_meta, "keypoints_visible", self.name) > 0
            out["gt_area"] = (box[:, 2] - box[:, 0]) * (box[:, 3] - box[:, 1])
            out["gt_key"] = (
                _get(batch_meta, "id", self.name).reshape(-1) if has_ids else np.full(n, -1)
            )
        return out

    def _labelled(self, data: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        if self._dataset_gt is not None:
            return self._dataset_gt
        keys = data["gt_key"]
        rows = (
            np.sort(np.unique(keys, return_index=True)[1])
            if np.all(keys >= 0)
            else np.arange(len(keys))
        )
        return {k: data[k][rows] for k in ("img_id", "gt", "gt_visible", "gt_area")}

    def _compute(self, data: dict[str, np.ndarray]) -> dict[str, float]:
        k = data["pred"].shape[1]
        sigmas = self.sigmas
        if sigmas is None:
            if k != len(_coco.COCO_SIGMAS):
                raise DataError(f"metric {self.name}: no OKS sigmas for {k} keypoints (set sigmas)")
            sigmas = _coco.COCO_SIGMAS
        gt = self._labelled(data)
        kept = np.flatnonzero(data["score"] >= self.score_thr)
        n_pred, n_gt = len(kept), len(gt["gt"])
        errors, oks_values, matched = [], [], 0
        for g, rows in _by_image(gt["img_id"], data["img_id"][kept]):
            p = kept[rows]
            pairs = match_instances(
                data["pred"][p],
                data["score"][p],
                gt["gt"][g],
                gt["gt_visible"][g],
                gt["gt_area"][g],
                sigmas,
                self.oks_thr,
            )
            for i, j, value in pairs:
                vis = gt["gt_visible"][g[j]]
                d = np.linalg.norm(data["pred"][p[i]] - gt["gt"][g[j]], axis=-1)
                errors.append(d[vis])
                oks_values.append(value)
            matched += len(pairs)
        all_errors = np.concatenate(errors) if errors else np.zeros(0)
        return {
            "match/recall": matched / n_gt if n_gt else 0.0,
            "match/precision": matched / n_pred if n_pred else 0.0,
            "match/error": float(all_errors.mean()) if len(all_errors) else float("nan"),
            "match/oks": float(np.mean(oks_values)) if oks_values else 0.0,
        }
