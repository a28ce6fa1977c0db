"""Torch ``Dataset`` and ``DataLoader`` built from a recipe split, with an optional in-memory
image cache and reproducible per-sample random generators.

Each sample draws from ``numpy.random.default_rng([seed, epoch, index])``, so a run is the
same whatever the number of workers. The :class:`EpochSampler` (shuffle, distributed
sharding) yields ``(index, epoch)`` pairs, so the epoch reaches workers, persistent or not.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from posecli.data.collate import collate
from posecli.data.datasets.base import PoseDataset
from posecli.data.io import gray_plane, read_image
from posecli.data.transforms.compose import Compose, build_pipeline
from posecli.errors import DataError, RecipeError

log = logging.getLogger(__name__)


class ImageCache:
    """Decoded images kept in memory (per process), keyed by ``(path, frame)``.

    Transforms never modify ``img`` in place before TopdownAffine creates the crop, so cached
    arrays are shared without copies. Grayscale PNGs are kept as one plane behind a read-only
    ``(H, W, 3)`` view (:func:`posecli.data.io.read_image` with ``gray_view``).
    """

    def __init__(self) -> None:
        self._images: dict[tuple[str, int | None], np.ndarray] = {}
        self._lock = threading.Lock()

    def get(self, path: str, frame: int | None, record: str = "") -> np.ndarray:
        key = (path, frame)
        img = self._images.get(key)
        if img is None:
            img = read_image(path, frame, record=record, gray_view=True)
            img.setflags(write=False)
            with self._lock:
                self._images[key] = img
        return img

    def __len__(self) -> int:
        return len(self._images)

    @property
    def nbytes(self) -> int:
        """Memory held by the cached pixels (one plane for a grayscale view)."""
        return sum(
            a.nbytes if (plane := gray_plane(a)) is None else plane.nbytes
            for a in self._images.values()
        )


class PoseTorchDataset(Dataset):
    """A :class:`PoseDataset` with its pipeline: ``ds[i]`` or ``ds[(i, epoch)]`` → sample."""

    def __init__(
        self,
        dataset: PoseDataset,
        pipeline: Compose | Sequence[Any],
        *,
        seed: int = 0,
        cache_images: bool = False,
        skip_bad_samples: bool = False,
    ) -> None:
        self.dataset = dataset
        self.pipeline = pipeline if isinstance(pipeline, Compose) else Compose(list(pipeline))
        self.seed = int(seed)
        self.epoch = 0
        self.cache = ImageCache() if cache_images else None
        self._filled_videos: set[str] = set()
        self.skip_bad_samples = skip_bad_samples
        self.skipped = 0  # bad samples skipped in this process

    def __len__(self) -> int:
        return len(self.dataset)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def set_pipeline(self, pipeline: Compose) -> None:
        """Replace the pipeline (RTMPose's stage-2 switch; rebuild the loader's workers)."""
        self.pipeline = pipeline

    def _fill_video(self, path: str) -> None:
        """Decode every frame of video ``path`` this dataset uses, in frame order: one forward
        pass instead of a seek per shuffled sample (80 ms → 7 ms a 1024² frame)."""
        assert self.cache is not None
        self._filled_videos.add(path)
        keys = {self.dataset.image_key(i) for i in range(len(self.dataset))}
        for frame in sorted(f for p, f in keys if p == path and f is not None):
            self.cache.get(path, frame, record=f"frame {frame}")

    def raw(self, index: int) -> dict[str, Any]:
        """The dataset sample before the pipeline (image from the cache when enabled; a
        video's frames are cached all at once, read forward)."""
        sample = self.dataset[index]
        if self.cache is not None:
            if (
                sample.get("frame_idx") is not None
                and sample["img_path"] not in self._filled_videos
            ):
                self._fill_video(sample["img_path"])
            sample["img"] = self.cache.get(
                sample["img_path"],
                sample.get("frame_idx"),
                record=f"image id={sample.get('img_id')}",
            )
        return sample

    def _mix_source(self, rng: np.random.Generator) -> dict[str, Any]:
        """The raw sample of a random index (mixed-image transforms, ``posecli.data.
        transforms.mix``)."""
        return self.raw(int(rng.integers(len(self))))

    def __getitem__(self, key: int | tuple[int, int]) -> dict[str, Any]:
        index, epoch = key if isinstance(key, tuple) else (key, self.epoch)
        rng = np.random.default_rng([self.seed, int(epoch), int(index)])
        try:
            sample = self.raw(int(index))
            sample["mix_source"] = self._mix_source  # Mosaic / MixUp draw partners from it
            out = self.pipeline(sample, rng)
            out.pop("mix_source", None)
            return out
        except DataError as exc:
            if not self.skip_bad_samples or len(self) < 2:
                raise
            self.skipped += 1
            log.warning("skipping bad sample %d: %s", index, exc)
            return self[((int(index) + 1) % len(self), epoch)]


class EpochSampler(Sampler):
    """Indices for one epoch as ``(index, epoch)`` pairs; shuffled with ``(seed, epoch)``;
    sharded round-robin across ``num_replicas`` (padding to equal length). Each ``iter()``
    moves to the next epoch unless :meth:`set_epoch` was called."""

    def __init__(
        self, n: int, *, shuffle: bool, seed: int = 0, num_replicas: int = 1, rank: int = 0
    ) -> None:
        self.n, self.shuffle, self.seed = n, shuffle, seed
        self.num_replicas, self.rank = num_replicas, rank
        self.epoch = 0
        self._explicit = False

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)
        self._explicit = True

    def __len__(self) -> int:
        return -(-self.n // self.num_replicas)

    def __iter__(self) -> Iterator[tuple[int, int]]:
        epoch = self.epoch
        order = np.arange(self.n)
        if self.shuffle:
            order = np.random.default_rng([self.seed, epoch]).permutation(self.n)
        total = len(self) * self.num_replicas
        if total > self.n and self.n:
            order = np.concatenate([order, order[: total - self.n]])
        shard = order[self.rank :: self.num_replicas]
        if not self._explicit:
            self.epoch += 1
        self._explicit = False
        return iter([(int(i), epoch) for i in shard])


def _split_cfg(recipe: Any, split: str) -> Any:
    cfg = getattr(recipe.data, split, None)
    if cfg is None:
        raise RecipeError(f"recipe has no [data.{split}] section")
    return cfg


def build_dataset(recipe: Any, split: str, *, root: str | Path | None = None) -> PoseDataset:
    """The raw :class:`PoseDataset` of ``recipe.data.<split>`` (paths relative to ``data.root``)."""
    from posecli.plugins import registry

    cfg = _split_cfg(recipe, split)
    table: dict[str, Any] = cfg.dataset.as_dict()
    reg = registry("datasets")
    import inspect

    params = inspect.signature(reg.get(table["name"]).factory).parameters
    extra: dict[str, Any] = {}
    base = root if root is not None else recipe.data.root
    if "root" in params and "root" not in table and base is not None:
        extra["root"] = str(base)
    if "skeleton" in params and "skeleton" not in table and recipe.data.skeleton:
        extra["skeleton"] = recipe.data.skeleton
    if "test_mode" in params and "test_mode" not in table:
        extra["test_mode"] = split != "train"
    dataset = reg.build_from(table, path=f"data.{split}.dataset", **extra)
    if cfg.max_images is not None:
        dataset = first_images(dataset, cfg.max_images, f"data.{split}.max_images")
    return dataset


def first_images(dataset: Any, n: int, where: str) -> PoseDataset:
    """``dataset`` limited to its first ``n`` images (the split's order: by file name)."""
    if not isinstance(dataset, PoseDataset):
        raise DataError(f"{where}: works on a single dataset, not {type(dataset).__name__}")
    keep = np.arange(min(int(n), len(dataset.ann.images)))
    return PoseDataset(
        dataset.ann,
        keep,
        mode=dataset.mode,
        test_mode=dataset.test_mode,
        detections=dataset.detections,
    )


def pipeline_defaults(recipe: Any) -> dict[str, Any]:
    """Arguments transforms take from the recipe when their table leaves them out."""
    codec = recipe.codec.as_dict()
    size = list(recipe.input_size) if "input_size" in codec else None  # lifting codecs: none
    return {"input_size": size, "encoder": codec}


def build_torch_dataset(
    recipe: Any,
    split: str,
    *,
    seed: int | None = None,
    root: str | Path | None = None,
    pipeline: Sequence[Mapping[str, Any]] | None = None,
) -> PoseTorchDataset:
    """Dataset + pipeline of ``recipe.data.<split>`` (``pipeline`` overrides the recipe's)."""
    cfg = _split_cfg(recipe, split)
    dataset = build_dataset(recipe, split, root=root)
    tables = pipeline if pipeline is not None else [c.as_dict() for c in cfg.pipeline]
    pipe = build_pipeline(tables, path=f"data.{split}.pipeline", defaults=pipeline_defaults(recipe))
    return PoseTorchDataset(
        dataset,
        pipe,
        seed=recipe.seed if seed is None else seed,
        cache_images=cfg.cache_images,
        skip_bad_samples=recipe.data.skip_bad_samples,
    )


def build_dataloader(
    recipe: Any,
    split: str,
    *,
    seed: int | None = None,
    batch_size: int | None = None,
    num_workers: int | None = None,
    shuffle: bool | None = None,
    num_replicas: int = 1,
    rank: int = 0,
    root: str | Path | None = None,
    dataset: PoseTorchDataset | None = None,
) -> DataLoader:
    """A ``DataLoader`` for ``recipe.data.<split>`` yielding :func:`collate` batches.

    Shuffles the training split by default; ``loader.sampler.set_epoch(e)`` (or simply
    iterating again) moves to the next epoch. ``num_replicas``/``rank`` shard for DDP.
    """
    cfg = _split_cfg(recipe, split)
    ds = dataset or build_torch_dataset(recipe, split, seed=seed, root=root)
    if len(ds) == 0:
        raise DataError(f"data.{split}: the dataset has no samples")
    shuffle = cfg.shuffle if shuffle is None else shuffle
    if shuffle is None:
        shuffle = split == "train"
    sampler = EpochSampler(
        len(ds), shuffle=shuffle, seed=ds.seed, num_replicas=num_replicas, rank=rank
    )
    workers = cfg.num_workers if num_workers is None else num_workers
    return DataLoader(
        ds,
        batch_size=batch_size or cfg.batch_size,
        sampler=sampler,
        num_workers=workers,
        collate_fn=collate,
        drop_last=cfg.drop_last,
        persistent_workers=bool(cfg.persistent_workers and workers > 0),
        pin_memory=torch.cuda.is_available(),
    )


__all__ = [
    "EpochSampler",
    "ImageCache",
    "PoseTorchDataset",
    "build_dataloader",
    "build_dataset",
    "build_torch_dataset",
    "pipeline_defaults",
]
