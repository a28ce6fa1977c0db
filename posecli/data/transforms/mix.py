"""Mixed-image augmentations of one-stage training (MMPose ``Mosaic`` and ``YOLOXMixUp``).

Both take other samples of the dataset: :class:`~posecli.data.loader.PoseTorchDataset` puts a
``mix_source(rng) -> raw sample`` into every sample it runs through its pipeline (the raw
sample of a random index, image from the cache when enabled), and each transform runs its
``pre_transform`` tables (``load_image``) on what it draws. Outside a dataset (the recipe
check's synthetic sample) a sample is mixed with copies of itself.

Instances are image-space ``bbox (N, 4)`` xyxy, ``keypoints (N, K, 2)``,
``keypoints_visible (N, K)``, ``area (N,)`` (scaled by the squared resize ratio) plus their
``bbox_score``, ``iscrowd``, ``track_id`` and ``id``; keypoints that land outside the new image
become invisible and boxes are clipped to it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import cv2
import numpy as np

from posecli.codecs.yolox_pose import keypoint_hull
from posecli.data.transforms.bottomup import clip_instances
from posecli.data.transforms.compose import Compose, build_pipeline

#: per-instance keys carried along (first axis N)
_PER_INSTANCE = (
    "bbox",
    "bbox_score",
    "keypoints",
    "keypoints_visible",
    "area",
    "iscrowd",
    "track_id",
)


def _instances(sample: Mapping[str, Any]) -> dict[str, np.ndarray]:
    kp = np.asarray(sample["keypoints"], np.float32)
    n, k = kp.shape[:2]
    vis = np.asarray(sample.get("keypoints_visible", np.ones((n, k))), np.float32)
    out = {"keypoints": kp.copy(), "keypoints_visible": vis.copy()}
    if "bbox" in sample:
        out["bbox"] = np.asarray(sample["bbox"], np.float32).reshape(-1, 4).copy()
    else:  # the visible keypoints' extents
        out["bbox"] = keypoint_hull(kp, vis)
    wh = np.clip(out["bbox"][:, 2:] - out["bbox"][:, :2], 0, None)
    out["area"] = np.asarray(sample.get("area", wh.prod(1)), np.float32).reshape(-1).copy()
    out["bbox_score"] = np.asarray(sample.get("bbox_score", np.ones(n)), np.float32).reshape(-1)
    out["iscrowd"] = np.asarray(sample.get("iscrowd", np.zeros(n)), np.int64).reshape(-1)
    out["track_id"] = np.asarray(sample.get("track_id", np.full(n, -1)), np.int64).reshape(-1)
    return out


def _scale_shift(inst: dict[str, np.ndarray], ratio: float, dx: float, dy: float) -> None:
    inst["keypoints"] = inst["keypoints"] * ratio + np.array([dx, dy], np.float32)
    inst["bbox"] = inst["bbox"] * ratio + np.array([dx, dy, dx, dy], np.float32)
    inst["area"] = inst["area"] * ratio**2


def _merge(sample: dict[str, Any], parts: Sequence[dict[str, np.ndarray]], ids: list[Any]) -> None:
    for key in _PER_INSTANCE:
        sample[key] = np.concatenate([p[key] for p in parts])
    sample["id"] = ids


def _ids(sample: Mapping[str, Any], n: int) -> list[Any]:
    ids = sample.get("id")
    return list(ids) if isinstance(ids, (list, tuple)) and len(ids) == n else [-1] * n


def _resize(img: np.ndarray, ratio: float) -> np.ndarray:
    h, w = img.shape[:2]
    return cv2.resize(
        img, (max(int(w * ratio), 1), max(int(h * ratio), 1)), interpolation=cv2.INTER_LINEAR
    )


class _MixBase:
    num_aux = 1

    def __init__(self, pre_transform: Sequence[Mapping[str, Any]] | None, prob: float) -> None:
        self.pre: Compose = build_pipeline(
            list(pre_transform or [{"name": "load_image"}]), path="pre_transform"
        )
        if not 0.0 <= float(prob) <= 1.0:
            raise ValueError(f"prob must be in [0, 1], got {prob!r}")
        self.prob = float(prob)

    def _aux(self, sample: dict[str, Any], rng: np.random.Generator) -> list[dict[str, Any]]:
        source = sample.get("mix_source")
        if source is None:
            return [dict(sample) for _ in range(self.num_aux)]
        return [self.pre(source(rng), rng) for _ in range(self.num_aux)]


class Mosaic(_MixBase):
    """Four images (this one top-left, three drawn) around a random centre of a
    ``2·img_scale`` canvas filled with ``pad_val``; each resized to fit ``img_scale``.

    Args:
        img_scale: ``(w, h)`` of one tile (default: the recipe's ``input_size``). center_range: the centre as a fraction of
            ``img_scale`` per axis. pad_val: canvas value. pre_transform: tables run on the
            drawn samples (default ``load_image``). prob: probability of applying it.
    """

    num_aux = 3

    def __init__(
        self,
        img_scale: Sequence[int] | None = None,
        center_range: Sequence[float] = (0.5, 1.5),
        pad_val: float = 114.0,
        pre_transform: Sequence[Mapping[str, Any]] | None = None,
        prob: float = 1.0,
        input_size: Sequence[int] = (640, 640),
    ) -> None:
        super().__init__(pre_transform, prob)
        scale = img_scale if img_scale is not None else input_size
        self.img_scale = (int(scale[0]), int(scale[1]))
        self.center_range = (float(center_range[0]), float(center_range[1]))
        self.pad_val = float(pad_val)

    def _place(
        self, loc: int, center: tuple[int, int], size: tuple[int, int]
    ) -> tuple[tuple[int, int, int, int], tuple[int, int, int, int]]:
        """Paste ``(x1, y1, x2, y2)`` on the canvas and crop of the tile for quadrant ``loc``
        (0 top-left, 1 top-right, 2 bottom-left, 3 bottom-right)."""
        cx, cy = center
        w, h = size
        sw, sh = 2 * self.img_scale[0], 2 * self.img_scale[1]
        if loc == 0:
            p = (max(cx - w, 0), max(cy - h, 0), cx, cy)
            return p, (w - (p[2] - p[0]), h - (p[3] - p[1]), w, h)
        if loc == 1:
            p = (cx, max(cy - h, 0), min(cx + w, sw), cy)
            return p, (0, h - (p[3] - p[1]), min(w, p[2] - p[0]), h)
        if loc == 2:
            p = (max(cx - w, 0), cy, cx, min(sh, cy + h))
            return p, (w - (p[2] - p[0]), 0, w, min(p[3] - p[1], h))
        p = (cx, cy, min(cx + w, sw), min(sh, cy + h))
        return p, (0, 0, min(w, p[2] - p[0]), min(p[3] - p[1], h))

    def __call__(self, sample: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
        if rng.random() >= self.prob:
            return sample
        tiles = [sample, *self._aux(sample, rng)]
        tw, th = self.img_scale
        img0 = np.asarray(sample["img"])
        canvas = np.full((2 * th, 2 * tw, *img0.shape[2:]), self.pad_val, dtype=img0.dtype)
        center = (
            int(rng.uniform(*self.center_range) * tw),
            int(rng.uniform(*self.center_range) * th),
        )
        parts, ids = [], []
        for loc, tile in enumerate(tiles):
            img = np.asarray(tile["img"])
            h, w = img.shape[:2]
            ratio = min(th / h, tw / w)
            img = _resize(img, ratio)
            (x1, y1, x2, y2), (u1, v1, u2, v2) = self._place(
                loc, center, (img.shape[1], img.shape[0])
            )
            canvas[y1:y2, x1:x2] = img[v1:v2, u1:u2]
            inst = _instances(tile)
            _scale_shift(inst, ratio, x1 - u1, y1 - v1)
            parts.append(inst)
            ids += _ids(tile, len(inst["keypoints"]))
        merged = {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}
        clip_instances(merged, 2 * tw, 2 * th)
        _merge(sample, [merged], ids)
        sample["img"] = canvas
        sample["img_shape"] = canvas.shape[:2]
        sample["ori_shape"] = canvas.shape[:2]
        return sample


class YOLOXMixUp(_MixBase):
    """Blend (0.5/0.5) with a drawn image resized to fit ``img_scale``, rescaled by a random
    factor in ``ratio_range``, flipped with probability ``1 - flip_ratio`` (as MMPose draws it)
    and cropped at a random offset to this image's size; the instances of both are kept.

    Args:
        img_scale: ``(w, h)`` the drawn image is fitted into (default: ``input_size``).
            ratio_range: its random rescale.
        flip_ratio: see above. pad_val: padding value. pre_transform, prob: as :class:`Mosaic`.
        flip_indices: left/right swap of the keypoints of a flipped drawn image (default: the
            sample's ``flip_indices``).
    """

    def __init__(
        self,
        img_scale: Sequence[int] | None = None,
        ratio_range: Sequence[float] = (0.5, 1.5),
        flip_ratio: float = 0.5,
        pad_val: float = 114.0,
        bbox_clip_border: bool = True,
        pre_transform: Sequence[Mapping[str, Any]] | None = None,
        prob: float = 1.0,
        flip_indices: Sequence[int] | None = None,
        input_size: Sequence[int] = (640, 640),
    ) -> None:
        super().__init__(pre_transform, prob)
        scale = img_scale if img_scale is not None else input_size
        self.img_scale = (int(scale[0]), int(scale[1]))
        self.ratio_range = (float(ratio_range[0]), float(ratio_range[1]))
        self.flip_ratio = float(flip_ratio)
        self.pad_val = float(pad_val)
        self.bbox_clip_border = bool(bbox_clip_border)
        self.flip_indices = list(flip_indices) if flip_indices is not None else None

    def __call__(self, sample: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
        if rng.random() >= self.prob:
            return sample
        aux = self._aux(sample, rng)[0]
        inst_aux = _instances(aux)
        if len(inst_aux["keypoints"]) == 0:
            return sample
        tw, th = self.img_scale
        aux_img = np.asarray(aux["img"])
        ratio = min(th / aux_img.shape[0], tw / aux_img.shape[1])
        resized = _resize(aux_img, ratio)
        out = np.full((th, tw, *aux_img.shape[2:]), self.pad_val, dtype=np.float32)
        out[: resized.shape[0], : resized.shape[1]] = resized
        jit = float(rng.uniform(*self.ratio_range))
        ratio *= jit
        out = _resize(out, jit)
        flip = float(rng.uniform(0, 1)) > self.flip_ratio
        if flip:
            out = out[:, ::-1]
        img = np.asarray(sample["img"])
        h, w = img.shape[:2]
        ah, aw = out.shape[:2]
        padded = np.full((max(ah, h), max(aw, w), *img.shape[2:]), self.pad_val, np.float32)
        padded[:ah, :aw] = out
        dy = int(rng.integers(0, max(0, padded.shape[0] - h) + 1))
        dx = int(rng.integers(0, max(0, padded.shape[1] - w) + 1))
        crop = padded[dy : dy + h, dx : dx + w]
        mixed = 0.5 * img.astype(np.float32) + 0.5 * crop

        _scale_shift(inst_aux, ratio, 0.0, 0.0)
        clip_instances(inst_aux, aw, ah)
        if flip:
            kp = inst_aux["keypoints"]
            kp[..., 0] = aw - kp[..., 0]
            fi = self.flip_indices or sample.get("flip_indices")
            if fi is not None:
                idx = list(fi)
                inst_aux["keypoints"] = kp[:, idx]
                inst_aux["keypoints_visible"] = inst_aux["keypoints_visible"][:, idx]
            box = inst_aux["bbox"]
            inst_aux["bbox"] = np.stack([aw - box[:, 2], box[:, 1], aw - box[:, 0], box[:, 3]], 1)
        _scale_shift(inst_aux, 1.0, -dx, -dy)
        inst = _instances(sample)
        merged = {key: np.concatenate([inst[key], inst_aux[key]]) for key in inst}
        if self.bbox_clip_border:
            clip_instances(merged, w, h)
        _merge(
            sample,
            [merged],
            _ids(sample, len(inst["keypoints"])) + _ids(aux, len(inst_aux["keypoints"])),
        )
        sample["img"] = mixed.astype(np.uint8)
        return sample


__all__ = ["Mosaic", "YOLOXMixUp"]
