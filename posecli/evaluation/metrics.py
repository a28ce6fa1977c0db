"""Accumulating metrics for the evaluation loop: ``process`` each batch, then ``compute``.

Every metric receives, per batch of ``N`` instances with ``K`` keypoints:

``predictions``
    ``keypoints (N, K, 2)`` and ``scores (N, K)`` (or ``keypoint_scores``), image pixels.
``batch_meta``
    ``keypoints (N, K, 2)``, ``keypoints_visible (N, K)``, ``bbox (N, 4)`` xyxy (ground truth);
    per metric also ``head_size (N,)``, ``image_size (N, 2)`` ``(w, h)``, a NME norm item such
    as ``box_size (N,)``; for COCO ``img_id``, ``id``, ``bbox_score``, ``input_scale (N, 2)``,
    ``category_id`` and optionally ``area`` (all ``(N,)`` unless said).

Results are kept per batch in :attr:`Metric.results` (plain numpy dicts) so that distributed
evaluation can gather them (:func:`posecli.engine.distributed.sync_metric`).
"""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from posecli.errors import DataError
from posecli.evaluation import coco as _coco
from posecli.evaluation import keypoints as _kp

__all__ = ["AUC", "EPE", "NME", "PCK", "CocoAP", "Metric"]

Arrays = Mapping[str, Any]


def _get(meta: Arrays, key: str, metric: str) -> np.ndarray:
    if key not in meta or meta[key] is None:
        raise DataError(f"metric {metric}: the batch lacks {key!r}")
    value = meta[key]
    if hasattr(value, "detach"):  # a torch tensor
        value = value.detach().cpu().numpy()
    return np.asarray(value)


def batch_head_size(meta: Arrays, metric: str) -> np.ndarray:
    """The batch's ``head_size (N,)`` (PCKh's normaliser); the error says where it comes from."""
    if meta.get("head_size") is None:
        raise DataError(
            f"metric {metric}: the batch lacks 'head_size' (MPII: give the mpii dataset "
            "headbox_file = mpii_gt_val.mat)"
        )
    return _get(meta, "head_size", metric).reshape(-1).astype(np.float64)


def _skeleton_value(skeleton: Any, key: str) -> Any:
    if skeleton is None:
        return None
    if isinstance(skeleton, Mapping):
        return skeleton.get(key)
    return getattr(skeleton, key, None)


def labels_of_found_instances(dataset: Any) -> Any:
    """The annotations of ``dataset`` (a ``PoseTorchDataset``/``PoseDataset``) when its
    instances are found rather than given (a bottom-up model, detected boxes): the truth a
    metric then scores against; ``None`` when the batches carry the labels."""
    pose_dataset = getattr(dataset, "dataset", dataset)
    found = getattr(pose_dataset, "detections", None) or (
        getattr(pose_dataset, "mode", "topdown") == "bottomup"
    )
    return getattr(pose_dataset, "ann", None) if found else None


def skeleton_sigmas(skeleton: Any, arguments: Mapping[str, Any]) -> dict[str, Any]:
    """``{"sigmas": ...}`` from the skeleton's OKS sigmas unless the recipe gives them."""
    sigmas = _skeleton_value(skeleton, "sigmas")
    if "sigmas" not in arguments and sigmas is not None and len(sigmas) > 0:
        return {"sigmas": list(sigmas)}
    return {}


def _pred_scores(pred: Arrays, metric: str) -> np.ndarray:
    key = "scores" if "scores" in pred else "keypoint_scores"
    return _get(pred, key, metric)


class Metric(abc.ABC):
    """Base class: accumulate per-batch numpy results, compute named floats at the end.

    A metric registered through ``posecli_register_metrics`` declares what it reports
    (:meth:`reported_names`) so that ``train.save_best`` and ``early_stopping.monitor`` are
    checked when the recipe is, before any work starts.
    """

    name: ClassVar[str] = "metric"
    #: The metric scores found instances against the dataset's own labels (``bind_dataset``),
    #: so it holds with detected boxes; per-box metrics (PCK, EPE...) need the labelled boxes.
    scores_found_instances: ClassVar[bool] = False

    def __init__(self) -> None:
        self.results: list[dict[str, np.ndarray]] = []

    @abc.abstractmethod
    def reported_names(self) -> list[str]:
        """The keys :meth:`compute` returns, for this metric's arguments."""

    @classmethod
    def skeleton_defaults(cls, skeleton: Any, arguments: Mapping[str, Any]) -> dict[str, Any]:
        """Arguments taken from the recipe's skeleton unless the recipe gives them."""
        return {}

    def bind_dataset(self, dataset: Any) -> None:
        """Called by the evaluation loop with the dataset about to be evaluated (a
        ``PoseTorchDataset``/``PoseDataset``), for metrics needing more than the batches."""
        return None

    def reset(self) -> None:
        """Forget everything processed so far."""
        self.results = []

    def process(self, predictions: Arrays, batch_meta: Arrays) -> None:
        """Keep what :meth:`compute` needs from one batch."""
        self.results.append(self._extract(predictions, batch_meta))

    def compute(self) -> dict[str, float]:
        """Metric values named as MMPose names them."""
        if not self.results:
            raise DataError(f"metric {self.name}: nothing was evaluated")
        keys = self.results[0].keys()
        merged = {k: np.concatenate([r[k] for r in self.results], axis=0) for k in keys}
        return self._compute(merged)

    @abc.abstractmethod
    def _extract(self, predictions: Arrays, batch_meta: Arrays) -> dict[str, np.ndarray]:
        """Arrays of one batch, each with the instances on axis 0."""

    @abc.abstractmethod
    def _compute(self, data: dict[str, np.ndarray]) -> dict[str, float]:
        """Values from the concatenated arrays of all batches."""

    def _base(self, predictions: Arrays, batch_meta: Arrays) -> dict[str, np.ndarray]:
        return {
            "pred": _get(predictions, "keypoints", self.name).astype(np.float64),
            "gt": _get(batch_meta, "keypoints", self.name).astype(np.float64),
            "mask": _get(batch_meta, "keypoints_visible", self.name) > 0,
        }


class PCK(Metric):
    """PCK@thr with a bbox (``PCK``), head (``PCKh``), torso (``tPCK``) or image (``PCK_img``)
    normaliser; a list of thresholds names each value ``PCK@thr``.

    Args:
        thr: Threshold(s) as a fraction of the normaliser.
        norm: ``bbox`` (max side of the GT box), ``head`` (``head_size``), ``torso`` (distance of
            GT keypoints ``torso_indices``), ``image`` (max side of ``image_size``); or a list.
        torso_indices: Keypoints spanning the torso (JHMDB: 4, 5).
    """

    name = "pck"
    _NAMES: ClassVar[dict[str, str]] = {
        "bbox": "PCK",
        "head": "PCKh",
        "torso": "tPCK",
        "image": "PCK_img",
    }

    def __init__(
        self,
        thr: float | Sequence[float] = 0.05,
        norm: str | Sequence[str] = "bbox",
        torso_indices: Sequence[int] = (4, 5),
    ) -> None:
        super().__init__()
        self.norms = [norm] if isinstance(norm, str) else list(norm)
        for item in self.norms:
            if item not in self._NAMES:
                raise ValueError(f"norm must be one of {', '.join(self._NAMES)}, got {item!r}")
        self.thrs = [float(thr)] if isinstance(thr, int | float) else [float(t) for t in thr]
        self.single_thr = isinstance(thr, int | float)
        self.torso_indices = tuple(torso_indices)

    def reported_names(self) -> list[str]:
        return [
            self._NAMES[item] if self.single_thr else f"{self._NAMES[item]}@{thr:g}"
            for item in self.norms
            for thr in self.thrs
        ]

    def _extract(self, predictions: Arrays, batch_meta: Arrays) -> dict[str, np.ndarray]:
        out = self._base(predictions, batch_meta)
        for item in self.norms:
            if item == "bbox":
                out["bbox"] = _kp.bbox_size(_get(batch_meta, "bbox", self.name))
            elif item == "head":
                out["head"] = batch_head_size(batch_meta, self.name)
            elif item == "torso":
                out["torso"] = _kp.torso_size(out["gt"], out["pred"], self.torso_indices)
            else:
                out["image"] = _get(batch_meta, "image_size", self.name).reshape(-1, 2).max(1)
        return out

    def _compute(self, data: dict[str, np.ndarray]) -> dict[str, float]:
        values: dict[str, float] = {}
        for item in self.norms:
            base = self._NAMES[item]
            for thr in self.thrs:
                key = base if self.single_thr else f"{base}@{thr:g}"
                values[key] = _kp.pck(data["pred"], data["gt"], data["mask"], data[item], thr)
        return values


class AUC(Metric):
    """Area under the PCK curve (``AUC``), thresholds ``i / num_thrs`` of ``norm_factor`` px."""

    name = "auc"

    def __init__(self, norm_factor: float = 30.0, num_thrs: int = 20) -> None:
        super().__init__()
        self.norm_factor = float(norm_factor)
        self.num_thrs = int(num_thrs)

    def reported_names(self) -> list[str]:
        return ["AUC"]

    def _extract(self, predictions: Arrays, batch_meta: Arrays) -> dict[str, np.ndarray]:
        return self._base(predictions, batch_meta)

    def _compute(self, data: dict[str, np.ndarray]) -> dict[str, float]:
        value = _kp.auc(data["pred"], data["gt"], data["mask"], self.norm_factor, self.num_thrs)
        return {"AUC": value}


class EPE(Metric):
    """End-point error (``EPE``): mean pixel distance over visible keypoints."""

    name = "epe"

    def reported_names(self) -> list[str]:
        return ["EPE"]

    def _extract(self, predictions: Arrays, batch_meta: Arrays) -> dict[str, np.ndarray]:
        return self._base(predictions, batch_meta)

    def _compute(self, data: dict[str, np.ndarray]) -> dict[str, float]:
        return {"EPE": _kp.epe(data["pred"], data["gt"], data["mask"])}


#: Skeletons whose NME is normalised by a per-instance value (MMPose: AFLW by ``box_size``).
NME_NORM_ITEMS: dict[str, str] = {"aflw": "box_size"}


class NME(Metric):
    """Normalised mean error (``NME``).

    Args:
        norm_mode: ``keypoint_distance`` (distance of two GT keypoints: ``keypoint_indices`` or
            the preset of ``dataset``: 300w 36/45, wflw 60/72, cofw 8/9, lapa 66/79, horse10
            0/1) or
            ``use_norm_item`` (a per-instance value from the batch; ``bbox_size`` is the max side
            of the GT box, as MMPose uses for AFLW).
        norm_item: Batch key of the normaliser for ``use_norm_item``.
        keypoint_indices: Two keypoint indices for ``keypoint_distance``.
        dataset: Dataset name selecting preset indices.
    """

    name = "nme"

    def __init__(
        self,
        norm_mode: str = "keypoint_distance",
        norm_item: str | None = None,
        keypoint_indices: Sequence[int] | None = None,
        dataset: str | None = None,
    ) -> None:
        super().__init__()
        if norm_mode not in ("keypoint_distance", "use_norm_item"):
            raise ValueError("norm_mode must be 'keypoint_distance' or 'use_norm_item'")
        self.norm_mode = norm_mode
        self.norm_item = norm_item or "bbox_size"
        if norm_mode == "keypoint_distance" and keypoint_indices is None:
            key = (dataset or "").lower()
            if key not in _kp.NME_KEYPOINT_INDICES:
                known = ", ".join(_kp.NME_KEYPOINT_INDICES)
                raise ValueError(
                    f"NME needs keypoint_indices or a dataset with a preset ({known}); got {dataset!r}"
                )
            keypoint_indices = _kp.NME_KEYPOINT_INDICES[key]
        self.keypoint_indices = tuple(keypoint_indices) if keypoint_indices is not None else None

    def reported_names(self) -> list[str]:
        return ["NME"]

    @classmethod
    def skeleton_defaults(cls, skeleton: Any, arguments: Mapping[str, Any]) -> dict[str, Any]:
        name = _skeleton_value(skeleton, "name")
        if name in NME_NORM_ITEMS and not {"norm_mode", "keypoint_indices"} & set(arguments):
            return {"norm_mode": "use_norm_item", "norm_item": NME_NORM_ITEMS[str(name)]}
        keypoint_mode = arguments.get("norm_mode", "keypoint_distance") == "keypoint_distance"
        if keypoint_mode and name and not {"keypoint_indices", "dataset"} & set(arguments):
            return {"dataset": str(name)}
        return {}

    def _extract(self, predictions: Arrays, batch_meta: Arrays) -> dict[str, np.ndarray]:
        out = self._base(predictions, batch_meta)
        if self.norm_mode == "keypoint_distance":
            assert self.keypoint_indices is not None
            out["norm"] = _kp.interocular(out["gt"], self.keypoint_indices)
        elif self.norm_item == "bbox_size" and "bbox_size" not in batch_meta:
            out["norm"] = _kp.bbox_size(_get(batch_meta, "bbox", self.name))
        else:
            out["norm"] = _get(batch_meta, self.norm_item, self.name).reshape(-1).astype(float)
        return out

    def _compute(self, data: dict[str, np.ndarray]) -> dict[str, float]:
        return {"NME": _kp.nme(data["pred"], data["gt"], data["mask"], data["norm"])}


def _with_box_areas(gt: Mapping[str, Any]) -> dict[str, Any]:
    """A COCO ground truth whose annotations' ``area`` is their box's ``w·h``."""
    anns = [{**a, "area": float(a["bbox"][2] * a["bbox"][3])} for a in gt.get("annotations", [])]
    return {**gt, "annotations": anns}


class CocoAP(Metric):
    """COCO keypoint AP/AR (``coco/AP``, ``coco/AP .5``, ... ``coco/AR (L)``).

    Args:
        ann_file: COCO annotation file. Without it the ground truth is built from the batches
            (GT boxes only; ``area`` from the batch, else the box area with a warning).
        sigmas: OKS sigmas ``(K,)``; default the skeleton's, else COCO's 17.
        score_thr: Keypoint score threshold of the rescoring.
        score_mode: ``bbox_keypoint`` (MMPose), ``bbox`` or ``keypoint``.
        nms_thr: OKS-NMS threshold; ``None`` or 0 turns it off.
        use_area: OKS uses the ground truth's ``area`` (MMPose's default); ``False`` uses the
            GT box area ``w·h`` instead, for annotations without areas (CrowdPose, AIC).
    """

    name = "coco_ap"
    scores_found_instances = True

    def __init__(
        self,
        ann_file: str | Path | None = None,
        sigmas: Sequence[float] | None = None,
        score_thr: float = 0.2,
        score_mode: str = "bbox_keypoint",
        nms_thr: float | None = 0.9,
        use_area: bool = True,
    ) -> None:
        super().__init__()
        self.ann_file = ann_file
        self.use_area = bool(use_area)
        self.sigmas = None if sigmas is None else np.asarray(sigmas, dtype=np.float64)
        self.score_thr = float(score_thr)
        self.score_mode = score_mode
        self.nms_thr = nms_thr or None
        self.coco_results: list[dict[str, Any]] = []
        self._dataset_gt: dict[str, Any] | None = None

    def bind_dataset(self, dataset: Any) -> None:
        """With detected boxes the batches carry no ground truth: take the dataset's whole
        annotation file as the ground truth instead (as MMPose's ``ann_file`` does)."""
        ann = labels_of_found_instances(dataset)
        self._dataset_gt = None
        if self.ann_file is None and ann is not None:
            from posecli.data.converters.coco import coco_dict

            self._dataset_gt = coco_dict(ann)

    def reported_names(self) -> list[str]:
        return list(_coco.COCO_METRIC_NAMES)

    @classmethod
    def skeleton_defaults(cls, skeleton: Any, arguments: Mapping[str, Any]) -> dict[str, Any]:
        return skeleton_sigmas(skeleton, arguments)

    def _extract(self, predictions: Arrays, batch_meta: Arrays) -> dict[str, np.ndarray]:
        kps = _get(predictions, "keypoints", self.name).astype(np.float64)
        n = kps.shape[0]

        def opt(key: str, default: np.ndarray) -> np.ndarray:
            return _get(batch_meta, key, self.name) if batch_meta.get(key) is not None else default

        out = {
            "pred": kps,
            "scores": _pred_scores(predictions, self.name).astype(np.float64),
            "img_id": _get(batch_meta, "img_id", self.name).reshape(-1),
            "id": opt("id", np.full(n, -1)).reshape(-1),
            "bbox_score": opt("bbox_score", np.ones(n)).reshape(-1).astype(np.float64),
            "category_id": opt("category_id", np.ones(n, np.int64)).reshape(-1),
        }
        scale = batch_meta.get("input_scale")
        out["area"] = (
            np.prod(_get(batch_meta, "input_scale", self.name).reshape(n, 2), axis=1)
            if scale is not None
            else np.full(n, np.nan)
        )
        if self.ann_file is None and self._dataset_gt is None:
            out["gt"] = _get(batch_meta, "keypoints", self.name).astype(np.float64)
            out["gt_visible"] = _get(batch_meta, "keypoints_visible", self.name).astype(float)
            out["gt_bbox"] = _get(batch_meta, "bbox", self.name).reshape(n, 4).astype(float)
            out["gt_area"] = opt("area", np.zeros(n)).reshape(-1).astype(np.float64)
        return out

    def _sigmas(self, k: int) -> np.ndarray:
        if self.sigmas is not None:
            return self.sigmas
        if k == len(_coco.COCO_SIGMAS):
            return _coco.COCO_SIGMAS
        raise DataError(f"metric coco_ap: no OKS sigmas for {k} keypoints (set sigmas)")

    def _compute(self, data: dict[str, np.ndarray]) -> dict[str, float]:
        sigmas = self._sigmas(data["pred"].shape[1])
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
        gt: Any = self.ann_file if self.ann_file is not None else self._dataset_gt
        if gt is None:
            gt = self._gt_from_batches(data, ids)
        if not self.use_area:
            gt = _with_box_areas(_coco.load_coco_gt(gt))
        return _coco.evaluate_coco(gt, self.coco_results, sigmas)

    @staticmethod
    def _gt_from_batches(data: dict[str, np.ndarray], ids: np.ndarray | None) -> dict[str, Any]:
        n = data["gt"].shape[0]
        select = np.arange(n) if ids is None else np.sort(np.unique(ids, return_index=True)[1])
        vis = np.where(data["gt_visible"] > 0, 2.0, 0.0)
        flat = np.concatenate([data["gt"], vis[..., None]], axis=-1).reshape(n, -1)
        box = data["gt_bbox"]
        xywh = np.concatenate([box[:, :2], box[:, 2:] - box[:, :2]], axis=1)
        anns = []
        for number, j in enumerate(select, start=1):
            ann = {  # ids renumbered from 1: pycocotools reads a matched id 0 as "no match"
                "id": number,
                "image_id": _coco._py(data["img_id"][j]),
                "category_id": _coco._py(data["category_id"][j]),
                "keypoints": flat[j].tolist(),
                "bbox": xywh[j].tolist(),
                "iscrowd": 0,
            }
            if data["gt_area"][j] > 0:
                ann["area"] = float(data["gt_area"][j])
            anns.append(ann)
        images = [{"id": _coco._py(i)} for i in np.unique(data["img_id"])]
        cats = [{"id": _coco._py(c)} for c in np.unique(data["category_id"])]
        return _coco.load_coco_gt({"images": images, "annotations": anns, "categories": cats})
