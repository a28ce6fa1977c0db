"""A 3D skeleton view drawn with OpenCV (no display needed), for ``predict --lift --render``.

Poses are root-relative camera-axis coordinates (x right, y down, z forward). The view turns
them into a world frame (X = x, Y = z, Z = -y: up), rotates by a fixed azimuth about the vertical
and tilts by a fixed elevation, and projects orthographically. A ground grid lies under the
lowest joint of the whole video, so the view does not jump from frame to frame.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np

GRID_COLOR = (90, 90, 90)
BACKGROUND = (255, 255, 255)


def to_view(points: np.ndarray, azimuth: float, elevation: float) -> np.ndarray:
    """Camera-axis points ``(..., 3)`` → view coordinates ``(..., 2)`` (u right, v up)."""
    x, y, z = points[..., 0], points[..., 2], -points[..., 1]  # world: Y forward, Z up
    a, e = np.deg2rad(azimuth), np.deg2rad(elevation)
    u = x * np.cos(a) - y * np.sin(a)
    depth = x * np.sin(a) + y * np.cos(a)
    v = z * np.cos(e) - depth * np.sin(e)
    return np.stack([u, v], axis=-1)


class View3D:
    """Draws poses of one video at a fixed scale, azimuth and elevation.

    Args:
        all_poses: every pose of the video ``(N, K, 3)`` (fixes scale and ground height).
        size: view side in pixels.
        links, link_colors: skeleton bones (index pairs) and their RGB colours.
        azimuth, elevation: view angles in degrees.
    """

    def __init__(
        self,
        all_poses: np.ndarray,
        size: int,
        links: Sequence[tuple[int, int]],
        link_colors: np.ndarray | None = None,
        azimuth: float = 45.0,
        elevation: float = 20.0,
    ) -> None:
        pts = np.asarray(all_poses, np.float64).reshape(-1, 3)
        pts = pts[np.isfinite(pts).all(1)]
        self.extent = float(np.percentile(np.abs(pts), 99)) if len(pts) else 1.0
        self.extent = max(self.extent, 1e-6)
        self.ground = float(np.percentile(-pts[:, 1], 1)) if len(pts) else -self.extent
        self.size, self.azimuth, self.elevation = int(size), float(azimuth), float(elevation)
        self.links = [tuple(int(i) for i in link) for link in links]
        n = len(self.links)
        colors = np.asarray(link_colors if link_colors is not None else [[0, 120, 255]] * n)
        self.colors = [tuple(int(c) for c in rgb[::-1]) for rgb in colors.reshape(-1, 3)[:n]]

    def _px(self, uv: np.ndarray, scale: float) -> np.ndarray:
        c = self.size / 2
        return np.stack([c + scale * uv[..., 0], c + 0.1 * self.size - scale * uv[..., 1]], -1)

    def draw(self, poses: Sequence[np.ndarray]) -> np.ndarray:
        """A ``(size, size, 3)`` BGR image of the poses ``[(K, 3), ...]`` side by side."""
        img = np.full((self.size, self.size, 3), BACKGROUND, np.uint8)
        n = max(1, len(poses))
        span = 2.4 * self.extent
        scale = 0.8 * self.size / (span * n)
        e = self.extent * 1.2 * n
        g = np.linspace(-e, e, 7)
        for t in g:  # ground grid at the lowest joint height
            for a, b in (((t, -e), (t, e)), ((-e, t), (e, t))):
                seg = np.array([[a[0], -self.ground, a[1]], [b[0], -self.ground, b[1]]])
                p = self._px(to_view(seg, self.azimuth, self.elevation), scale).astype(int)
                cv2.line(img, tuple(p[0]), tuple(p[1]), GRID_COLOR, 1, cv2.LINE_AA)
        for slot, pose in enumerate(poses):
            pts = np.asarray(pose, np.float64).copy()
            pts[:, 0] += (slot - (n - 1) / 2) * span
            p = self._px(to_view(pts, self.azimuth, self.elevation), scale)
            ok = np.isfinite(p).all(1)
            for (i, j), col in zip(self.links, self.colors, strict=False):
                if ok[i] and ok[j]:
                    cv2.line(
                        img, tuple(p[i].astype(int)), tuple(p[j].astype(int)), col, 2, cv2.LINE_AA
                    )
            for q in p[ok]:
                cv2.circle(img, tuple(q.astype(int)), 3, (40, 40, 40), -1, cv2.LINE_AA)
        label = f"3D  az {self.azimuth:g}  el {self.elevation:g}"
        cv2.putText(img, label, (8, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
        return img


def render_side_by_side(
    video: Path, doc: dict[str, Any], skeleton: Any, azimuth: float = 45.0, elevation: float = 20.0
) -> Path:
    """Rewrite the rendered 2D ``video`` with the 3D view of each frame's lifted poses on its
    right (same height); frames follow ``doc["frames"]`` in order."""
    from posecli.inference.writers import VideoWriter

    frames = doc.get("frames", [])
    per_frame = [
        [
            np.asarray(i["keypoints_3d"], np.float64)
            for i in fr.get("instances", [])
            if "keypoints_3d" in i
        ]
        for fr in frames
    ]
    flat = [p for ps in per_frame for p in ps]
    k = flat[0].shape[0] if flat else 1
    cap = cv2.VideoCapture(str(video))
    if not cap.isOpened():
        from posecli.errors import PoseCliError

        raise PoseCliError(f"{video}: cannot read the rendered video")
    fps = cap.get(cv2.CAP_PROP_FPS) or 25.0
    w, h = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
    view = View3D(
        np.stack(flat) if flat else np.zeros((1, k, 3)),
        h,
        getattr(skeleton, "links", ()) or (),
        getattr(skeleton, "link_colors", None),
        azimuth,
        elevation,
    )
    writer = VideoWriter(video, fps, (w + h, h), force=True)
    try:
        i = 0
        while True:
            ok, frame = cap.read()
            if not ok:
                break
            poses = per_frame[i] if i < len(per_frame) else []
            writer.write(np.hstack([frame, view.draw(poses)]))
            i += 1
    finally:
        cap.release()
        writer.close()
    return video


__all__ = ["View3D", "render_side_by_side", "to_view"]
