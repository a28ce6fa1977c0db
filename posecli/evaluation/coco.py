"""COCO keypoint AP: MMPose's rescoring and OKS-NMS, then pycocotools' COCOeval.

The pipeline (``reference/mmpose.md`` §4): per predicted instance, score =
``bbox_score × mean(keypoint scores above 0.2)`` (0 when none is above); per image, greedy
OKS-NMS at 0.9 with the dataset sigmas and prediction area ``prod(input_scale)``; then
``COCOeval(iouType="keypoints")`` with the same sigmas and the ground-truth areas. Ranges with
no ground truth report ``-1`` as pycocotools does.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from posecli.errors import DataError

__all__ = [
    "COCO_METRIC_NAMES",
    "COCO_SIGMAS",
    "coco_ap",
    "evaluate_coco",
    "load_coco_gt",
    "make_results",
    "oks",
    "oks_nms",
    "rescore",
]

#: OKS sigmas of the 17 COCO body keypoints.
COCO_SIGMAS = np.array(
    [0.026, 0.025, 0.025, 0.035, 0.035, 0.079, 0.079, 0.072, 0.072, 0.062, 0.062,
     0.107, 0.107, 0.087, 0.087, 0.089, 0.089]
)  # fmt: skip

#: Names of COCOeval's ten keypoint statistics, in its order, as MMPose reports them.
COCO_METRIC_NAMES = (
    "coco/AP", "coco/AP .5", "coco/AP .75", "coco/AP (M)", "coco/AP (L)",
    "coco/AR", "coco/AR .5", "coco/AR .75", "coco/AR (M)", "coco/AR (L)",
)  # fmt: skip


def oks(
    pred: np.ndarray,
    gt: np.ndarray,
    area: np.ndarray | float,
    sigmas: np.ndarray,
    visible: np.ndarray | None = None,
) -> np.ndarray:
    """Object keypoint similarity of every prediction with every ground truth.

    ``OKS = mean_k exp(-d² / (2 · area · (2σ_k)²))`` over the keypoints visible in ``gt``.

    Args:
        pred: Predicted keypoints ``(N, K, 2)``.
        gt: Reference keypoints ``(M, K, 2)``.
        area: Object scale ``(M,)``, ``(N, M)`` or a scalar.
        sigmas: Per-keypoint sigmas ``(K,)``.
        visible: Which reference keypoints count ``(M, K)``; all when ``None``.

    Returns:
        ``(N, M)`` similarities (0 for a reference with no visible keypoint).
    """
    pred = np.asarray(pred, dtype=np.float64)
    gt = np.asarray(gt, dtype=np.float64)
    variances = (2.0 * np.asarray(sigmas, dtype=np.float64)) ** 2  # (K,)
    d2 = ((pred[:, None] - gt[None]) ** 2).sum(-1)  # (N, M, K)
    area_nm = np.broadcast_to(np.asarray(area, dtype=np.float64), d2.shape[:2])
    e = d2 / variances / (area_nm[..., None] + np.spacing(1)) / 2.0
    vis = np.ones(gt.shape[:2], bool) if visible is None else np.asarray(visible) > 0
    count = vis.sum(-1)  # (M,)
    total = (np.exp(-e) * vis[None]).sum(-1)
    return np.where(count > 0, total / np.maximum(count, 1), 0.0)


def oks_nms(
    keypoints: np.ndarray,
    scores: np.ndarray,
    areas: np.ndarray,
    sigmas: np.ndarray,
    thr: float = 0.9,
) -> np.ndarray:
    """Greedy OKS non-maximum suppression (MMPose ``oks_nms``).

    The best-scoring instance is kept and every remaining instance whose OKS with it exceeds
    ``thr`` is dropped; OKS here uses all keypoints and the mean area of the two instances.

    Args:
        keypoints: ``(N, K, 2)``.
        scores: ``(N,)``.
        areas: ``(N,)``.
        sigmas: ``(K,)``.
        thr: Suppression threshold.

    Returns:
        Indices of the kept instances, best score first.
    """
    n = len(scores)
    if n == 0:
        return np.zeros((0,), dtype=np.int64)
    areas = np.asarray(areas, dtype=np.float64)
    pair_area = (areas[:, None] + areas[None, :]) / 2.0
    sim = oks(keypoints, keypoints, pair_area, sigmas)  # (N, N)
    order = np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")
    alive = np.ones(n, dtype=bool)
    keep: list[int] = []
    for i in order:
        if not alive[i]:
            continue
        keep.append(int(i))
        alive &= sim[i] <= thr
        alive[i] = False
    return np.asarray(keep, dtype=np.int64)


def rescore(
    bbox_scores: np.ndarray,
    keypoint_scores: np.ndarray,
    thr: float = 0.2,
    mode: str = "bbox_keypoint",
) -> np.ndarray:
    """Instance scores ``(N,)`` from box scores ``(N,)`` and keypoint scores ``(N, K)``.

    ``bbox_keypoint`` (MMPose's default): ``bbox_score × mean(s_k for s_k > thr)``, 0 when no
    keypoint score exceeds ``thr``; ``bbox``: the box score; ``keypoint``: mean keypoint score.
    """
    kps = np.asarray(keypoint_scores, dtype=np.float64)
    box = np.asarray(bbox_scores, dtype=np.float64).reshape(-1)
    if mode == "bbox":
        return box.copy()
    if mode == "keypoint":
        return kps.mean(axis=1)
    if mode != "bbox_keypoint":
        raise ValueError(f"unknown score_mode {mode!r} (bbox_keypoint, bbox, keypoint)")
    above = kps > thr
    count = above.sum(axis=1)
    mean = np.where(count > 0, (kps * above).sum(axis=1) / np.maximum(count, 1), 0.0)
    return box * mean


def load_coco_gt(source: str | Path | Mapping[str, Any]) -> dict[str, Any]:
    """Read a COCO keypoint annotation file (or copy a dict) and make it evaluable.

    Missing ``iscrowd`` becomes 0 and missing ``num_keypoints`` is counted. A missing or zero
    ``area`` would make every OKS 0 (AP 0): it is computed as the box area ``w × h`` (or the
    keypoints' extent when there is no box) with a warning.
    """
    if isinstance(source, Mapping):
        data = copy.deepcopy(dict(source))
    else:
        try:
            data = json.loads(Path(source).read_text())
        except (OSError, ValueError) as exc:
            raise DataError(f"{source}: cannot read COCO annotations: {exc}") from exc
    fixed = 0
    for ann in data.get("annotations", []):
        ann.setdefault("iscrowd", 0)
        kps = np.asarray(ann.get("keypoints", []), dtype=np.float64).reshape(-1, 3)
        if "num_keypoints" not in ann:
            ann["num_keypoints"] = int((kps[:, 2] > 0).sum())
        if float(ann.get("area") or 0.0) <= 0:
            ann["area"] = _fallback_area(ann, kps)
            fixed += 1
    if fixed:
        warnings.warn(
            f"{fixed} annotation(s) without a positive 'area': using the box area w*h "
            "(COCO AP would be 0 otherwise); add 'area' to the annotations to silence this",
            UserWarning,
            stacklevel=2,
        )
    data.setdefault("categories", [{"id": 1, "name": "person"}])
    return data


def _fallback_area(ann: Mapping[str, Any], kps: np.ndarray) -> float:
    bbox = ann.get("bbox")
    if bbox is not None and len(bbox) == 4 and bbox[2] * bbox[3] > 0:
        return float(bbox[2] * bbox[3])
    pts = kps[kps[:, 2] > 0, :2]
    if len(pts) == 0:
        return 0.0
    span = pts.max(axis=0) - pts.min(axis=0)
    return float(span[0] * span[1])


def make_results(
    keypoints: np.ndarray,
    keypoint_scores: np.ndarray,
    img_ids: np.ndarray,
    *,
    sigmas: np.ndarray,
    bbox_scores: np.ndarray | None = None,
    areas: np.ndarray | None = None,
    ids: np.ndarray | None = None,
    category_ids: np.ndarray | None = None,
    score_thr: float = 0.2,
    score_mode: str = "bbox_keypoint",
    nms_thr: float | None = 0.9,
) -> list[dict[str, Any]]:
    """Rescore, deduplicate (by ``ids``) and OKS-NMS predictions into COCO result dicts.

    Args:
        keypoints: ``(N, K, 2)`` image pixels.
        keypoint_scores: ``(N, K)``.
        img_ids: ``(N,)`` COCO image ids.
        sigmas: ``(K,)``.
        bbox_scores: ``(N,)``; 1 when ``None`` (ground-truth boxes).
        areas: ``(N,)`` prediction areas for NMS, ``prod(input_scale)`` in MMPose.
        ids: ``(N,)`` instance ids: repeated ids (distributed padding) are kept once.
        category_ids: ``(N,)``; 1 when ``None``.
        score_thr: Keypoint score threshold of the rescoring.
        score_mode: See :func:`rescore`.
        nms_thr: OKS-NMS threshold; ``None`` turns NMS off.

    Returns:
        COCO results: ``image_id``, ``category_id``, ``keypoints`` (flat x, y, score), ``score``.
    """
    keypoints = np.asarray(keypoints, dtype=np.float64)
    scores_k = np.asarray(keypoint_scores, dtype=np.float64)
    n, k = keypoints.shape[:2]
    if len(sigmas) != k:
        raise DataError(f"COCO AP: predictions have {k} keypoints but {len(sigmas)} sigmas")
    img_ids = np.asarray(img_ids).reshape(-1)
    bbox_scores = np.ones(n) if bbox_scores is None else np.asarray(bbox_scores).reshape(-1)
    if areas is None:
        span = keypoints.max(axis=1) - keypoints.min(axis=1)
        areas = span[:, 0] * span[:, 1]
    areas = np.asarray(areas, dtype=np.float64).reshape(-1)
    cats = np.ones(n, np.int64) if category_ids is None else np.asarray(category_ids).reshape(-1)
    select = np.arange(n)
    if ids is not None:
        _, first = np.unique(np.asarray(ids).reshape(-1), return_index=True)
        select = np.sort(first)
    inst_scores = rescore(bbox_scores, scores_k, score_thr, score_mode)
    results: list[dict[str, Any]] = []
    for img in np.unique(img_ids[select]):
        idx = select[img_ids[select] == img]
        if nms_thr is not None:
            idx = idx[oks_nms(keypoints[idx], inst_scores[idx], areas[idx], sigmas, nms_thr)]
        flat = np.concatenate([keypoints[idx], scores_k[idx, :, None]], axis=-1)
        for j, row in zip(idx, flat.reshape(len(idx), -1), strict=True):
            results.append(
                {
                    "image_id": _py(img),
                    "category_id": _py(cats[j]),
                    "keypoints": row.tolist(),
                    "score": float(inst_scores[j]),
                }
            )
    return results


def _py(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def evaluate_coco(
    gt: str | Path | Mapping[str, Any], results: Sequence[Mapping[str, Any]], sigmas: np.ndarray
) -> dict[str, float]:
    """Run pycocotools' COCOeval (``iouType="keypoints"``) and name its ten statistics.

    Args:
        gt: Annotation file or dict (passed through :func:`load_coco_gt`).
        results: COCO keypoint results, e.g. from :func:`make_results`.
        sigmas: ``(K,)`` OKS sigmas.

    Returns:
        ``{"coco/AP": ..., ..., "coco/AR (L)": ...}``; all 0 when there is no result.
    """
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    data = load_coco_gt(gt)
    sigmas = np.asarray(sigmas, dtype=np.float64)
    if not results:
        warnings.warn("COCO AP: no predictions to evaluate", UserWarning, stacklevel=2)
        return dict.fromkeys(COCO_METRIC_NAMES, 0.0)
    n_coords = len(results[0]["keypoints"])
    if n_coords != 3 * len(sigmas):
        raise DataError(
            f"COCO AP: predictions have {n_coords // 3} keypoints but {len(sigmas)} sigmas"
        )
    known = {img["id"] for img in data.get("images", [])}
    unknown = {r["image_id"] for r in results} - known
    if unknown:
        raise DataError(
            f"COCO AP: predictions for image ids not in the annotations: {sorted(unknown)[:5]}"
        )
    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO()
        coco_gt.dataset = data
        coco_gt.createIndex()
        coco_dt = coco_gt.loadRes([dict(r) for r in results])
        ev = COCOeval(coco_gt, coco_dt, "keypoints")
        ev.params.useSegm = None
        ev.params.kpt_oks_sigmas = sigmas
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return {name: float(v) for name, v in zip(COCO_METRIC_NAMES, ev.stats, strict=True)}


def coco_ap(
    gt: str | Path | Mapping[str, Any],
    keypoints: np.ndarray,
    keypoint_scores: np.ndarray,
    img_ids: np.ndarray,
    *,
    sigmas: np.ndarray | None = None,
    bbox_scores: np.ndarray | None = None,
    areas: np.ndarray | None = None,
    ids: np.ndarray | None = None,
    category_ids: np.ndarray | None = None,
    score_thr: float = 0.2,
    score_mode: str = "bbox_keypoint",
    nms_thr: float | None = 0.9,
) -> dict[str, float]:
    """COCO keypoint AP/AR of predictions against annotations, MMPose's way.

    Arguments as in :func:`make_results` (``sigmas`` default to COCO's 17); ``gt`` is an
    annotation file or dict. Returns the ten ``coco/...`` statistics.
    """
    sig = COCO_SIGMAS if sigmas is None else np.asarray(sigmas, dtype=np.float64)
    results = make_results(
        keypoints,
        keypoint_scores,
        img_ids,
        sigmas=sig,
        bbox_scores=bbox_scores,
        areas=areas,
        ids=ids,
        category_ids=category_ids,
        score_thr=score_thr,
        score_mode=score_mode,
        nms_thr=nms_thr,
    )
    return evaluate_coco(gt, results, sig)
