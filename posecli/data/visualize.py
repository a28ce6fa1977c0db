"""Rendering pipeline samples (``posecli visualize dataset``): the augmented crop with its
keypoints and skeleton beside the encoded target, so users see what the model sees."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np

from posecli.data.io import write_image
from posecli.data.metainfo import Skeleton


def draw_pose(
    img: np.ndarray, keypoints: np.ndarray, visible: np.ndarray, skeleton: Skeleton, radius: int = 2
) -> np.ndarray:
    """Draw links and keypoints ``(K, 2)`` (visible > 0 only) on a BGR copy of ``img``."""
    out = np.ascontiguousarray(img).copy()
    vis = np.asarray(visible) > 0
    kp = np.asarray(keypoints, np.float64)
    shift = 4  # sub-pixel drawing
    pts = np.round(kp * (1 << shift)).astype(np.int64)
    for j, (a, b) in enumerate(skeleton.links):
        if vis[a] and vis[b]:
            col = (
                tuple(int(c) for c in skeleton.link_colors[j][::-1])
                if len(skeleton.link_colors)
                else (255, 255, 255)
            )
            cv2.line(out, tuple(pts[a]), tuple(pts[b]), col, 1, cv2.LINE_AA, shift)
    for i in np.flatnonzero(vis):
        col = (
            tuple(int(c) for c in skeleton.keypoint_colors[i][::-1])
            if len(skeleton.keypoint_colors)
            else (0, 255, 0)
        )
        cv2.circle(out, tuple(pts[i]), radius << shift, col, -1, cv2.LINE_AA, shift)
    return out


def target_image(sample: dict[str, Any], size: tuple[int, int]) -> np.ndarray | None:
    """A BGR picture ``size = (w, h)`` of the encoded target (max over keypoints), or None."""
    maps = None
    if "heatmaps" in sample:
        hm = sample["heatmaps"]
        hm = hm[0] if isinstance(hm, list) else hm
        maps = np.asarray(hm, np.float32).reshape(-1, *np.shape(hm)[-2:]).max(axis=0)
    elif "keypoint_x_labels" in sample and "keypoint_y_labels" in sample:
        x = np.asarray(sample["keypoint_x_labels"], np.float32).reshape(
            -1, np.shape(sample["keypoint_x_labels"])[-1]
        )
        y = np.asarray(sample["keypoint_y_labels"], np.float32).reshape(
            -1, np.shape(sample["keypoint_y_labels"])[-1]
        )
        maps = np.einsum("ki,kj->kij", y, x).max(axis=0)
    if maps is None:
        return None
    maps = maps - maps.min()
    if maps.max() > 0:
        maps = maps / maps.max()
    img = cv2.applyColorMap((maps * 255).astype(np.uint8), cv2.COLORMAP_JET)
    return cv2.resize(img, size, interpolation=cv2.INTER_NEAREST)


def render_sample(sample: dict[str, Any], skeleton: Skeleton) -> np.ndarray:
    """The crop with keypoints and skeleton, and (if encoded) the target beside it."""
    img = sample["img"]
    if img.dtype != np.uint8:
        img = np.clip(img, 0, 255).astype(np.uint8)
    kp = np.asarray(sample.get("transformed_keypoints", sample["keypoints"]))[0]
    vis = np.asarray(sample["keypoints_visible"])[0]
    panel = draw_pose(img, kp, vis, skeleton)
    tgt = target_image(sample, (img.shape[1], img.shape[0]))
    if tgt is not None:
        blend = cv2.addWeighted(img, 0.4, tgt, 0.6, 0)
        panel = np.concatenate([panel, blend], axis=1)
    return panel


def visualize_dataset(
    recipe_path: str | Path,
    *,
    split: str = "train",
    n: int = 16,
    out: str | Path = "vis",
    seed: int | None = None,
    overrides: list[str] | None = None,
    force: bool = False,
) -> list[Path]:
    """Run ``n`` samples of ``split`` through the recipe's pipeline and write PNGs to ``out``,
    plus ``grid.png`` with all of them. Refuses to overwrite existing files without ``force``."""
    from posecli.data.loader import build_torch_dataset
    from posecli.errors import DataError
    from posecli.recipe import load_recipe

    recipe = load_recipe(recipe_path, overrides or [])
    ds = build_torch_dataset(recipe, split, seed=seed)
    out = Path(out)
    count = min(n, len(ds))
    targets = [out / f"{split}_{i:03d}.png" for i in range(count)] + [out / "grid.png"]
    if not force and (existing := [p for p in targets if p.exists()]):
        raise DataError(f"{existing[0]}: exists; pass --force to overwrite")
    panels = []
    for i in range(count):
        index = int(np.linspace(0, len(ds) - 1, count).round()[i]) if count > 1 else 0
        sample = ds[(index, 0)]
        panel = render_sample(sample, ds.dataset.skeleton)
        write_image(targets[i], panel)
        panels.append(panel)
    if panels:
        cols = min(4, len(panels))
        h, w = panels[0].shape[:2]
        rows = -(-len(panels) // cols)
        grid = np.zeros((rows * h, cols * w, 3), np.uint8)
        for i, p in enumerate(panels):
            r, c = divmod(i, cols)
            grid[r * h : r * h + p.shape[0], c * w : c * w + p.shape[1]] = p[:h, :w]
        write_image(targets[-1], grid)
    return targets[:count] + ([targets[-1]] if panels else [])


__all__ = ["draw_pose", "render_sample", "target_image", "visualize_dataset"]
