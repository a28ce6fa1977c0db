"""Parity of an exported file with the PyTorch model: raw outputs and decoded keypoints.

The exported file is run through :mod:`posecli.deploy` (onnxruntime / torch.jit) on crops
``(N,h,w,3)`` BGR uint8 — random noise and, when available, frames of the bundled video warped
like the test pipeline — and compared with ``model.predict_outputs`` + ``head.decode``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch

BUNDLED_VIDEO = Path(__file__).resolve().parents[2] / "examples/mirror-mouse/videos/test_vid.mp4"


@dataclass(frozen=True)
class CheckReport:
    """Max absolute differences exported vs PyTorch (keypoints in input-crop pixels)."""

    max_abs_raw: float
    max_abs_keypoints: float
    max_abs_scores: float
    num_random: int
    num_real: int
    tolerance: float

    @property
    def passed(self) -> bool:
        worst = max(self.max_abs_raw, self.max_abs_keypoints, self.max_abs_scores)
        return bool(worst <= self.tolerance)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "passed": self.passed}

    def summary(self) -> str:
        return (
            f"max |Δ| raw {self.max_abs_raw:.3g}, keypoints {self.max_abs_keypoints:.3g} px, "
            f"scores {self.max_abs_scores:.3g} on {self.num_random} random + {self.num_real} real "
            f"crops (tolerance {self.tolerance:g})"
        )


def max_abs_diff(a: np.ndarray, b: np.ndarray) -> float:
    """Largest ``|a - b|``; positions where both are NaN count as equal, one NaN as infinite."""
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    if a.shape != b.shape:
        return float("inf")
    both = np.isnan(a) & np.isnan(b)
    d = np.abs(np.where(both, 0.0, a - b))
    d = np.where(np.isnan(d), np.inf, d)
    return float(d.max()) if d.size else 0.0


def random_crops(n: int, input_size: tuple[int, int], seed: int = 0) -> np.ndarray:
    """``n`` noise crops ``(n,h,w,3)`` uint8."""
    w, h = input_size
    return np.random.default_rng(seed).integers(0, 256, (n, h, w, 3), dtype=np.uint8)


def video_crops(
    video: str | Path,
    input_size: tuple[int, int],
    n: int,
    padding: float = 1.25,
    use_udp: bool = False,
) -> np.ndarray:
    """Whole-frame boxes of the first ``n`` frames of ``video`` warped to ``(n,h,w,3)``."""
    from posecli.deploy import bbox_center_scale, fix_aspect_ratio, warp_matrix

    w, h = input_size
    cap = cv2.VideoCapture(str(video))
    crops: list[np.ndarray] = []
    try:
        while len(crops) < n:
            ok, frame = cap.read()
            if not ok:
                break
            fh, fw = frame.shape[:2]
            c, s = bbox_center_scale(np.array([[0, 0, fw, fh]], np.float32), padding)
            s = fix_aspect_ratio(s, w / h)
            m = warp_matrix(c[0], s[0], (w, h), use_udp)
            crops.append(cv2.warpAffine(frame, m, (w, h), flags=cv2.INTER_LINEAR))
    finally:
        cap.release()
    return np.stack(crops) if crops else np.zeros((0, h, w, 3), np.uint8)


@torch.no_grad()
def reference(
    model: Any, codec: Any, crops: np.ndarray, flip_test: bool
) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    """PyTorch raw outputs (after ``head.postprocess``/flip merge), keypoints, scores."""
    x = torch.from_numpy(np.ascontiguousarray(crops)).permute(0, 3, 1, 2).float()
    raw = model.predict_outputs(x, model.flip_indices if flip_test else None, flip_test=flip_test)
    kp, scores = model.head.decode(raw, codec)
    raw_t = raw if isinstance(raw, (tuple, list)) else (raw,)
    return [r.float().numpy() for r in raw_t], kp.numpy(), scores.numpy()


def check_exported(
    path: str | Path,
    model: Any,
    codec: Any,
    *,
    flip_test: bool = False,
    tolerance: float = 1e-4,
    num_random: int = 4,
    num_real: int = 4,
    video: str | Path | None = BUNDLED_VIDEO,
    padding: float = 1.25,
    use_udp: bool = False,
) -> CheckReport:
    """Run the exported file and the PyTorch ``model`` on the same crops and compare."""
    from posecli.deploy import load

    runner = load(path, providers=["CPUExecutionProvider"])
    size = runner.input_size
    crops = [random_crops(num_random, size)]
    real = 0
    if video is not None and Path(video).is_file() and num_real > 0:
        vc = video_crops(video, size, num_real, padding, use_udp)
        crops.append(vc)
        real = len(vc)
    batch = np.concatenate(crops)
    out = runner.run(runner.inputs(batch))
    kp, scores = runner.decode_outputs(out)
    ref_raw, ref_kp, ref_scores = reference(model, codec, batch, flip_test)
    raw_names = [n for n in runner.output_names if n not in ("keypoints", "scores")]
    raw_diff = max(
        (max_abs_diff(out[n], r) for n, r in zip(raw_names, ref_raw, strict=True)), default=0.0
    )
    return CheckReport(
        max_abs_raw=raw_diff,
        max_abs_keypoints=max_abs_diff(kp, ref_kp),
        max_abs_scores=max_abs_diff(scores, ref_scores),
        num_random=num_random,
        num_real=real,
        tolerance=tolerance,
    )


__all__ = [
    "BUNDLED_VIDEO",
    "CheckReport",
    "check_exported",
    "max_abs_diff",
    "random_crops",
    "reference",
    "video_crops",
]
