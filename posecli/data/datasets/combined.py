"""Several datasets as one, every sample mapped onto the recipe's skeleton (MMPose
``CombinedDataset`` + ``KeypointConverter``).

Recipe example (COCO people and AI Challenger people trained as COCO's 17 keypoints)::

    [data.train.dataset]
    name = "combined"
    datasets = [
      { name = "coco", ann_file = "coco/train.json", images = "coco/train2017" },
      { name = "aic", ann_file = "aic/train.json", ratio = 0.5,
        mapping = [[0, 6], [1, 8], [2, 10], [3, 5], [4, 7], [5, 9],
                   [6, 12], [7, 14], [8, 16], [9, 11], [10, 13], [11, 15]] },
    ]

Each entry is a dataset table plus, optionally, ``mapping`` and ``ratio``:

* ``mapping``: ``[[source, target], ...]`` keypoint indices, where a source may be a pair
  ``[a, b]`` (the target is their midpoint, visible only when both are; KeypointConverter's
  ``[(a, b), t]``), or ``"names"`` (default: keypoints with equal names). A target keypoint with
  no source is unlabelled: coordinates 0 and visibility 0 (it adds no loss), never a guessed
  position.
* ``ratio``: samples drawn from this dataset per epoch as a fraction of its length (MMPose's
  ``sample_ratio_factor``): ``round(ratio · n)`` indices from a seeded permutation, repeated
  when the ratio exceeds 1.

Samples carry ``dataset_name`` (the entry's ``alias``, else its format name) so that
``per_dataset`` metrics report each source separately.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from posecli.data.datasets.base import PoseDataset
from posecli.data.metainfo import Skeleton, load_skeleton
from posecli.errors import DataError


class KeypointMapping:
    """KeypointConverter: source keypoints ``(..., K_src, 2)`` → target ``(..., K_tgt, 2)``.

    Args:
        num_target: ``K_tgt``.
        pairs: ``(source, target)`` with ``source`` an index or a pair of indices (midpoint).
    """

    def __init__(self, num_target: int, pairs: Sequence[tuple[int | Sequence[int], int]]):
        self.num_target = int(num_target)
        src_a, src_b, tgt = [], [], []
        for source, target in pairs:
            a, b = (source, source) if isinstance(source, int) else tuple(source)
            src_a.append(int(a))
            src_b.append(int(b))
            tgt.append(int(target))
        if len(set(tgt)) != len(tgt):
            raise DataError("keypoint mapping: a target keypoint is given twice")
        if any(t < 0 or t >= self.num_target for t in tgt):
            raise DataError(f"keypoint mapping: targets must lie in 0..{self.num_target - 1}")
        self.a = np.asarray(src_a, np.int64)
        self.b = np.asarray(src_b, np.int64)
        self.target = np.asarray(tgt, np.int64)

    @classmethod
    def by_names(cls, source: Skeleton, target: Skeleton) -> KeypointMapping:
        """Keypoints with equal names (case-insensitive)."""
        names = {n.lower(): i for i, n in enumerate(source.keypoint_names)}
        pairs = [
            (names[n.lower()], j) for j, n in enumerate(target.keypoint_names) if n.lower() in names
        ]
        if not pairs:
            raise DataError(
                f"skeletons {source.name!r} and {target.name!r} share no keypoint name; "
                "give a mapping"
            )
        return cls(target.num_keypoints, pairs)

    def check_source(self, num_source: int, what: str) -> None:
        if (
            max(self.a.max(initial=0), self.b.max(initial=0)) >= num_source
            or min(self.a.min(initial=0), self.b.min(initial=0)) < 0
        ):
            raise DataError(f"{what}: mapping sources must lie in 0..{num_source - 1}")

    def keypoints(self, kp: np.ndarray) -> np.ndarray:
        """``(..., K_src, 2)`` → ``(..., K_tgt, 2)``; unmapped targets hold 0."""
        out = np.zeros((*kp.shape[:-2], self.num_target, kp.shape[-1]), kp.dtype)
        out[..., self.target, :] = (kp[..., self.a, :] + kp[..., self.b, :]) * 0.5
        return out

    def visibility(self, vis: np.ndarray) -> np.ndarray:
        """``(..., K_src)`` → ``(..., K_tgt)``; a midpoint is visible when both ends are."""
        out = np.zeros((*vis.shape[:-1], self.num_target), vis.dtype)
        out[..., self.target] = np.minimum(vis[..., self.a], vis[..., self.b])
        return out


class CombinedDataset:
    """Samples of several :class:`PoseDataset` s on one skeleton (see the module docstring).

    Args:
        parts: ``(name, dataset, mapping, ratio)`` per source.
        skeleton: the target skeleton.
        seed: seed of the ratio subsampling.
    """

    def __init__(
        self,
        parts: Sequence[tuple[str, PoseDataset, KeypointMapping, float | None]],
        skeleton: Skeleton,
        seed: int = 0,
    ) -> None:
        if not parts:
            raise DataError("combined dataset: 'datasets' is empty")
        self.parts = list(parts)
        self._skeleton = skeleton
        self.names = [p[0] for p in parts]
        index: list[np.ndarray] = []
        which: list[np.ndarray] = []
        for d, (_, ds, _, ratio) in enumerate(self.parts):
            n = len(ds)
            idx = np.arange(n)
            if ratio is not None and n:
                want = round(float(ratio) * n)
                perm = np.random.default_rng([seed, d]).permutation(n)
                idx = np.resize(perm, want)
            index.append(idx)
            which.append(np.full(len(idx), d, np.int64))
        self._inner = np.concatenate(index).astype(np.int64)
        self._which = np.concatenate(which)

    @property
    def skeleton(self) -> Skeleton:
        return self._skeleton

    @property
    def datasets(self) -> list[PoseDataset]:
        return [p[1] for p in self.parts]

    def __len__(self) -> int:
        return int(self._inner.shape[0])

    def lengths(self) -> dict[str, int]:
        """Samples per source in one epoch."""
        counts = np.bincount(self._which, minlength=len(self.parts))
        return {name: int(c) for name, c in zip(self.names, counts, strict=True)}

    def image_key(self, index: int) -> tuple[str, int | None]:
        d, j = int(self._which[index]), int(self._inner[index])
        return self.parts[d][1].image_key(j)

    def __getitem__(self, index: int) -> dict[str, Any]:
        d, j = int(self._which[index]), int(self._inner[index])
        name, ds, mapping, _ = self.parts[d]
        s = ds[j]
        skel = self._skeleton
        s["keypoints"] = mapping.keypoints(np.asarray(s["keypoints"], np.float32))
        s["keypoints_visible"] = mapping.visibility(np.asarray(s["keypoints_visible"], np.float32))
        s["num_keypoints"] = int((s["keypoints_visible"] > 0).sum())
        s["flip_indices"] = list(skel.flip_indices)
        s["upper_body_ids"] = list(skel.upper_body_ids)
        s["lower_body_ids"] = list(skel.lower_body_ids)
        s["dataset_keypoint_weights"] = skel.joint_weights
        s["dataset_name"] = name
        return s


def _mapping(spec: Any, source: Skeleton, target: Skeleton, what: str) -> KeypointMapping:
    if spec is None or spec == "names":
        return KeypointMapping.by_names(source, target)
    if spec == "identity":
        if source.num_keypoints != target.num_keypoints:
            raise DataError(f"{what}: identity mapping needs equal keypoint counts")
        return KeypointMapping(target.num_keypoints, [(i, i) for i in range(target.num_keypoints)])
    try:
        pairs = [(s if isinstance(s, int) else tuple(s), int(t)) for s, t in spec]
    except (TypeError, ValueError):
        raise DataError(
            f"{what}: mapping must be 'names', 'identity' or [[source, target], ...]"
        ) from None
    mapping = KeypointMapping(target.num_keypoints, pairs)
    mapping.check_source(source.num_keypoints, what)
    return mapping


def combined(
    datasets: Sequence[Mapping[str, Any]],
    skeleton: str | None = None,
    seed: int = 0,
    test_mode: bool = False,
    root: str | None = None,
) -> CombinedDataset:
    """Several datasets mapped onto ``skeleton`` (default: the first dataset's).

    Args:
        datasets: dataset tables (``name`` + arguments) with optional ``mapping``, ``ratio``
            and ``alias`` (the name its samples and per-dataset metrics carry).
        skeleton: target skeleton (the recipe's ``data.skeleton`` when the recipe gives one).
        seed: seed of the ``ratio`` subsampling.
        test_mode / root: passed to every dataset that takes them.
    """
    import inspect

    from posecli.plugins import registry

    reg = registry("datasets")
    built: list[tuple[str, PoseDataset, Any, float | None]] = []
    for i, table in enumerate(datasets):
        what = f"datasets[{i}]"
        table = dict(table)
        if "name" not in table:
            raise DataError(f"{what}: missing key 'name' (the dataset format)")
        if table["name"] == "combined":
            raise DataError(f"{what}: a combined dataset cannot nest another")
        spec = table.pop("mapping", None)
        ratio = table.pop("ratio", None)
        alias = str(table.pop("alias", table["name"]))
        params = inspect.signature(reg.get(table["name"]).factory).parameters
        extra: dict[str, Any] = {}
        if "root" in params and "root" not in table and root is not None:
            extra["root"] = root
        if "test_mode" in params and "test_mode" not in table:
            extra["test_mode"] = test_mode
        ds = reg.build_from(table, path=what, **extra)
        built.append((alias, ds, spec, None if ratio is None else float(ratio)))
    if len({b[0] for b in built}) != len(built):
        raise DataError("combined dataset: two entries share a name; give each an 'alias'")
    target = load_skeleton(skeleton) if skeleton else built[0][1].skeleton
    parts = [
        (alias, ds, _mapping(spec, ds.skeleton, target, f"datasets[{i}] ({alias})"), ratio)
        for i, (alias, ds, spec, ratio) in enumerate(built)
    ]
    return CombinedDataset(parts, target, seed=seed)


__all__ = ["CombinedDataset", "KeypointMapping", "combined"]
