"""Evaluation metrics: library functions and the accumulating :class:`Metric` objects.

Recipe tables (``[[eval.metrics]]``) name a metric and its arguments::

    {name = "pck", thr = 0.05, norm = "bbox"}   → PCK
    {name = "auc", norm_factor = 30}            → AUC
    {name = "epe"}                              → EPE
    {name = "nme", dataset = "wflw"}            → NME
    {name = "coco_ap", ann_file = "..."}        → coco/AP, coco/AP .5, ... coco/AR (L)

MMPose class names (``PCKAccuracy``, ``AUC``, ``EPE``, ``NME``, ``CocoMetric``) are aliases.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from posecli.errors import BuildError
from posecli.evaluation.coco import coco_ap, oks, oks_nms, rescore
from posecli.evaluation.keypoints import auc, epe, nme, pck
from posecli.evaluation.metrics import AUC, EPE, NME, PCK, CocoAP, Metric
from posecli.registry import check_kwargs

__all__ = [
    "AUC",
    "EPE",
    "METRICS",
    "NME",
    "PCK",
    "CocoAP",
    "Metric",
    "auc",
    "build_metric",
    "build_metrics",
    "coco_ap",
    "epe",
    "nme",
    "oks",
    "oks_nms",
    "pck",
    "rescore",
]

#: Metric name → class (metrics are not a plugin kind).
METRICS: dict[str, type[Metric]] = {
    "pck": PCK,
    "auc": AUC,
    "epe": EPE,
    "nme": NME,
    "coco_ap": CocoAP,
}
_ALIASES = {
    "pckaccuracy": "pck",
    "pck_accuracy": "pck",
    "cocometric": "coco_ap",
    "coco": "coco_ap",
}


def _skeleton_value(skeleton: Any, key: str) -> Any:
    if skeleton is None:
        return None
    if isinstance(skeleton, Mapping):
        return skeleton.get(key)
    return getattr(skeleton, key, None)


def build_metric(
    table: Mapping[str, Any], skeleton: Any = None, *, path: str = "eval.metrics"
) -> Metric:
    """Build one metric from ``{name = ..., **arguments}``.

    The skeleton (an object or mapping with ``sigmas`` and ``name``) supplies COCO's OKS sigmas
    and NME's dataset preset unless the table gives them.
    """
    if "name" not in table:
        raise BuildError(f"{path}: missing key 'name' (one of {', '.join(METRICS)})")
    raw = str(table["name"])
    key = _ALIASES.get(raw.lower(), raw.lower())
    if key not in METRICS:
        raise BuildError(f"{path}: unknown metric {raw!r} (one of {', '.join(METRICS)})")
    cls = METRICS[key]
    kwargs = {k: v for k, v in table.items() if k != "name"}
    if cls is CocoAP and "sigmas" not in kwargs:
        sigmas = _skeleton_value(skeleton, "sigmas")
        if sigmas is not None and len(sigmas) > 0:
            kwargs["sigmas"] = list(sigmas)
    if cls is NME and "keypoint_indices" not in kwargs and "dataset" not in kwargs:
        name = _skeleton_value(skeleton, "name")
        if kwargs.get("norm_mode", "keypoint_distance") == "keypoint_distance" and name:
            kwargs["dataset"] = str(name)
    check_kwargs(cls, kwargs, path=path, what=f"metric {key!r}")
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as exc:
        raise BuildError(f"{path}: {exc}") from exc


def build_metrics(tables: Iterable[Any], skeleton: Any = None) -> list[Metric]:
    """Build the metrics of a recipe's ``eval.metrics`` (dicts or ``Component`` objects)."""
    metrics = []
    for i, table in enumerate(tables):
        data = table.as_dict() if hasattr(table, "as_dict") else dict(table)
        metrics.append(build_metric(data, skeleton, path=f"eval.metrics[{i}]"))
    return metrics
