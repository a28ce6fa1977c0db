"""Evaluation metrics: library functions and the accumulating :class:`Metric` objects.

Recipe tables (``[[eval.metrics]]``) name a metric and its arguments::

    {name = "pck", thr = 0.05, norm = "bbox"}   → PCK
    {name = "auc", norm_factor = 30}            → AUC
    {name = "epe"}                              → EPE
    {name = "nme", dataset = "wflw"}            → NME
    {name = "mpii_pck"}                         → Head PCK, ... Ankle PCK, PCK, PCK@0.1 (MPII)
    {name = "coco_ap", ann_file = "..."}        → coco/AP, coco/AP .5, ... coco/AR (L)

MMPose class names (``PCKAccuracy``, ``MpiiPCKAccuracy``, ``AUC``, ``EPE``, ``NME``,
``CocoMetric``) are aliases.
Metrics are a plugin kind (``posecli_register_metrics``; ``posecli list metrics``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from posecli.errors import BuildError, UnknownNameError
from posecli.evaluation.coco import coco_ap, oks, oks_nms, rescore
from posecli.evaluation.keypoints import auc, epe, nme, pck
from posecli.evaluation.metrics import AUC, EPE, NME, PCK, CocoAP, Metric
from posecli.registry import check_kwargs

__all__ = [
    "AUC",
    "EPE",
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
    "reported_names",
    "rescore",
]


def build_metric(
    table: Mapping[str, Any], skeleton: Any = None, *, path: str = "eval.metrics"
) -> Metric:
    """Build one metric from ``{name = ..., **arguments}`` through the ``metrics`` registry.

    The skeleton (an object or mapping with ``sigmas`` and ``name``) supplies arguments the
    metric asks of it (:meth:`Metric.skeleton_defaults`: COCO's OKS sigmas, NME's dataset
    preset) unless the table gives them.
    """
    from posecli.plugins import registry

    if "name" not in table:
        raise BuildError(f"{path}: missing key 'name' (see posecli list metrics)")
    try:
        entry = registry("metrics").get(str(table["name"]))
    except UnknownNameError as exc:
        raise BuildError(f"{path}.name: {exc}") from None
    kwargs = {k: v for k, v in table.items() if k != "name"}
    factory = entry.factory
    if isinstance(factory, type) and issubclass(factory, Metric):
        kwargs.update(factory.skeleton_defaults(skeleton, kwargs))
    check_kwargs(factory, kwargs, path=path, what=f"metric {entry.name!r}")
    try:
        metric = factory(**kwargs)
    except (TypeError, ValueError) as exc:
        raise BuildError(f"{path}: {exc}") from exc
    if not isinstance(metric, Metric):
        raise BuildError(f"{path}: metric {entry.name!r} did not build a posecli Metric")
    return metric


def build_metrics(tables: Iterable[Any], skeleton: Any = None) -> list[Metric]:
    """Build the metrics of a recipe's ``eval.metrics`` (dicts or ``Component`` objects)."""
    metrics = []
    for i, table in enumerate(tables):
        data = table.as_dict() if hasattr(table, "as_dict") else dict(table)
        metrics.append(build_metric(data, skeleton, path=f"eval.metrics[{i}]"))
    return metrics


def reported_names(metrics: Iterable[Metric]) -> list[str]:
    """Every value name the given metrics will report, in order."""
    return [name for metric in metrics for name in metric.reported_names()]
