"""MMPose ``KeypointPartitionMetric``: one metric evaluated on named subsets of the keypoints.

Each partition gets its own copy of the wrapped metric, fed the predictions and ground truth of
its keypoints only (``keypoints[:, ids]``, scores and visibility alike); its values are reported
as ``<partition>/<name>`` (``body/coco/AP``, ``face/NME``). As in MMPose, ``coco_ap`` inside a
partition builds its ground truth from the batches (an ``ann_file`` is refused) and rescoring and
OKS-NMS run part by part; NME needs ``norm_mode = "use_norm_item"``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from posecli.errors import BuildError
from posecli.evaluation.metrics import Arrays, Metric, _skeleton_value

_SUPPORTED = ("coco_ap", "pck", "auc", "epe", "nme")
_KEYPOINT_KEYS = ("keypoints", "keypoints_visible", "scores", "keypoint_scores")


class KeypointPartition(Metric):
    """A metric per keypoint partition.

    Args:
        metric: The wrapped metric table (``{name = "coco_ap", ...}``; ``coco_ap``, ``pck``,
            ``auc``, ``epe`` or ``nme``).
        partitions: ``{partition name: [keypoint indices]}``.
        sigmas: OKS sigmas of all keypoints (default: the skeleton's); each partition's
            ``coco_ap`` uses its slice.
    """

    name = "keypoint_partition"

    def __init__(
        self,
        metric: Mapping[str, Any],
        partitions: Mapping[str, Sequence[int]],
        sigmas: Sequence[float] | None = None,
    ) -> None:
        super().__init__()
        from posecli.evaluation import build_metric
        from posecli.plugins import registry

        table = dict(metric)
        if "name" not in table:
            raise ValueError("metric needs a 'name'")
        kind = registry("metrics").get(str(table["name"])).name
        if kind not in _SUPPORTED:
            raise ValueError(f"metric {kind!r} cannot be partitioned (one of {_SUPPORTED})")
        if kind == "coco_ap" and table.get("ann_file") is not None:
            raise ValueError("coco_ap inside a partition builds its ground truth from the batches")
        if kind == "nme" and table.get("norm_mode") != "use_norm_item":
            raise ValueError("nme inside a partition needs norm_mode = 'use_norm_item'")
        if not partitions:
            raise ValueError("partitions must name at least one keypoint subset")
        self.partitions = {str(p): np.asarray(list(ids), np.int64) for p, ids in partitions.items()}
        all_sigmas = None if sigmas is None else np.asarray(sigmas, np.float64)
        self.metrics: dict[str, Metric] = {}
        for part, ids in self.partitions.items():
            if ids.size == 0:
                raise ValueError(f"partition {part!r} has no keypoints")
            sub = {"sigmas": all_sigmas[ids].tolist()} if all_sigmas is not None else None
            try:
                self.metrics[part] = build_metric(table, sub, path=f"partitions.{part}")
            except BuildError as exc:
                raise ValueError(str(exc)) from None

    @classmethod
    def skeleton_defaults(cls, skeleton: Any, arguments: Mapping[str, Any]) -> dict[str, Any]:
        sigmas = _skeleton_value(skeleton, "sigmas")
        if "sigmas" not in arguments and sigmas is not None and len(sigmas) > 0:
            return {"sigmas": list(np.asarray(sigmas, np.float64))}
        return {}

    def reported_names(self) -> list[str]:
        return [f"{p}/{n}" for p, m in self.metrics.items() for n in m.reported_names()]

    def _extract(self, predictions: Arrays, batch_meta: Arrays) -> dict[str, np.ndarray]:
        """Every partition's extract under ``<partition>/<key>`` keys (one dict per batch, so
        distributed gathering of :attr:`results` covers the partitions too)."""
        out: dict[str, np.ndarray] = {}
        for part, ids in self.partitions.items():
            pred = {
                k: (_cols(v, ids) if k in _KEYPOINT_KEYS else v) for k, v in predictions.items()
            }
            meta = {k: (_cols(v, ids) if k in _KEYPOINT_KEYS else v) for k, v in batch_meta.items()}
            sub = self.metrics[part]._extract(pred, meta)
            out.update({f"{part}/{k}": v for k, v in sub.items()})
        return out

    def compute(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for part, m in self.metrics.items():
            prefix = f"{part}/"
            m.results = [
                {k[len(prefix) :]: v for k, v in r.items() if k.startswith(prefix)}
                for r in self.results
            ]
            out.update({f"{part}/{k}": v for k, v in m.compute().items()})
        return out

    def _compute(self, data: dict[str, np.ndarray]) -> dict[str, float]:
        return self.compute()


def _cols(value: Any, ids: np.ndarray) -> np.ndarray:
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    return np.asarray(value)[:, ids]


__all__ = ["KeypointPartition"]
