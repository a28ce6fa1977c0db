"""One metric per source of a ``combined`` validation set (MMPose's ``MultiDatasetEvaluator``).

The batches of a combined dataset carry ``dataset_name`` per instance; this wrapper keeps one
copy of the wrapped metric per named source, feeds it that source's instances only, and reports
``<source>/<name>`` (``coco/coco/AP``, ``aic/PCK``)::

    [[eval.metrics]]
    name = "per_dataset"
    metric = { name = "pck", thr = 0.05 }
    datasets = ["coco", "aic"]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from posecli.errors import BuildError, DataError
from posecli.evaluation.metrics import Arrays, Metric


class PerDataset(Metric):
    """The wrapped metric computed separately on each source of a combined dataset.

    Args:
        metric: The wrapped metric table (``{name = ..., ...}``).
        datasets: Source names (the combined dataset's entry aliases or format names).
        skeleton: Skeleton handed to the wrapped metric (default: the recipe's).
    """

    name = "per_dataset"

    def __init__(
        self, metric: Mapping[str, Any], datasets: Sequence[str], skeleton: Any = None
    ) -> None:
        super().__init__()
        from posecli.evaluation import build_metric

        if not datasets:
            raise ValueError("datasets must name at least one source")
        self.metrics: dict[str, Metric] = {}
        for ds in datasets:
            try:
                self.metrics[str(ds)] = build_metric(dict(metric), skeleton, path=f"datasets.{ds}")
            except BuildError as exc:
                raise ValueError(str(exc)) from None

    @classmethod
    def skeleton_defaults(cls, skeleton: Any, arguments: Mapping[str, Any]) -> dict[str, Any]:
        return {} if "skeleton" in arguments or skeleton is None else {"skeleton": skeleton}

    def reported_names(self) -> list[str]:
        return [f"{d}/{n}" for d, m in self.metrics.items() for n in m.reported_names()]

    def bind_dataset(self, dataset: Any) -> None:
        """Refuse, before any batch runs, sources the (combined) dataset does not have."""
        names = getattr(dataset, "names", None)
        if names is not None:
            missing = [d for d in self.metrics if d not in names]
            if missing:
                raise DataError(
                    f"metric per_dataset: {missing[0]!r} is not a source of the validation "
                    f"dataset (its sources: {', '.join(map(str, names))})"
                )
        for m in self.metrics.values():
            m.bind_dataset(None)

    def _extract(self, predictions: Arrays, batch_meta: Arrays) -> dict[str, np.ndarray]:
        """Each source's extract of its rows under ``<source>/<key>`` (sources absent from the
        batch add nothing), so distributed gathering of :attr:`results` covers them."""
        if batch_meta.get("dataset_name") is None:
            raise DataError(
                "metric per_dataset: the batch lacks 'dataset_name' (validate on a combined dataset)"
            )
        names = np.asarray(batch_meta["dataset_name"]).reshape(-1).astype(str)
        n = names.shape[0]
        out: dict[str, np.ndarray] = {}
        for ds, metric in self.metrics.items():
            rows = names == ds
            if rows.any():
                sub = metric._extract(_rows(predictions, rows, n), _rows(batch_meta, rows, n))
                out.update({f"{ds}/{k}": v for k, v in sub.items()})
        return out

    def compute(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for ds, m in self.metrics.items():
            prefix = f"{ds}/"
            m.results = [
                {k[len(prefix) :]: v for k, v in r.items() if k.startswith(prefix)}
                for r in self.results
                if any(k.startswith(prefix) for k in r)
            ]
            if not m.results:
                raise DataError(f"metric per_dataset: no validation samples from {ds!r}")
            out.update({f"{ds}/{k}": v for k, v in m.compute().items()})
        return out

    def _compute(self, data: dict[str, np.ndarray]) -> dict[str, float]:
        return self.compute()


def _rows(arrays: Arrays, rows: np.ndarray, n: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in arrays.items():
        if hasattr(value, "detach"):
            value = value.detach().cpu().numpy()
        arr = np.asarray(value) if not isinstance(value, str) else None
        out[key] = arr[rows] if arr is not None and arr.ndim and arr.shape[0] == n else value
    return out


__all__ = ["PerDataset"]
