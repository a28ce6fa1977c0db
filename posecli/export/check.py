"""Parity of an exported file with its checkpoint's own predict path.

Both run through :class:`posecli.runtime.Predictor` with the same spec — the exported file on
its runtime (ONNX Runtime / TorchScript), the model on the PyTorch backend — so the comparison
covers everything ``posecli predict`` does: crops, the flip test (when the recipe has it),
decode and the mapping to image pixels. Raw outputs are compared on noise crops, keypoints and
scores on whole-frame boxes of the bundled video's first frames.

Keypoints are compared where their decode is well conditioned: a keypoint that moves by more
than ``tolerance_px`` when the reference's raw outputs are perturbed by ``tolerance`` (ties
between maxima, as an untrained model's flat outputs have) would differ between any two
numerically equal runtimes; such keypoints are left out of the keypoint comparison and
counted (:attr:`CheckReport.num_unstable`), while the raw outputs still bound them.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

BUNDLED_VIDEO = Path(__file__).resolve().parents[2] / "examples/mirror-mouse/videos/test_vid.mp4"


@dataclass(frozen=True)
class CheckReport:
    """Largest differences exported vs PyTorch (keypoints in image pixels).

    Attributes:
        max_abs_raw: raw outputs on noise crops (no flip).
        max_abs_keypoints: keypoints on real frames, image pixels (flip test as exported).
        max_abs_scores: keypoint scores on real frames.
        num_random, num_real: noise crops and video frames compared.
        tolerance: bound for raw outputs and scores.
        tolerance_px: bound for keypoints (pixels).
        num_unstable: keypoints left out of the keypoint comparison because a perturbation of
            the raw outputs by ``tolerance`` moves them by more than ``tolerance_px``.
        flip_test: whether the flip test ran.
    """

    max_abs_raw: float
    max_abs_keypoints: float
    max_abs_scores: float
    num_random: int
    num_real: int
    tolerance: float
    tolerance_px: float = 1e-3
    num_unstable: int = 0
    flip_test: bool = False

    @property
    def passed(self) -> bool:
        return bool(
            max(self.max_abs_raw, self.max_abs_scores) <= self.tolerance
            and self.max_abs_keypoints <= self.tolerance_px
        )

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "passed": self.passed}

    def summary(self) -> str:
        flip = "with" if self.flip_test else "without"
        return (
            f"max |Δ| keypoints {self.max_abs_keypoints:.2g} px, scores {self.max_abs_scores:.2g} "
            f"on {self.num_real} video frames ({flip} flip test), raw {self.max_abs_raw:.2g} on "
            f"{self.num_random} noise crops (tolerance {self.tolerance_px:g} px / {self.tolerance:g})"
            + (
                f"; {self.num_unstable} keypoints with tied maxima not compared"
                if self.num_unstable
                else ""
            )
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


class _Perturbed:
    """A backend whose raw outputs get ``±scale`` uniform noise (stability of the decode).

    The wrapped backend runs once per distinct batch of crops; later trials reuse its outputs.
    """

    def __init__(self, backend: Any, scale: float) -> None:
        self.backend = backend
        self.name, self.device, self.threads = backend.name, backend.device, backend.threads
        self.scale = scale
        self.rng = np.random.default_rng(0)
        self._cache: dict[bytes, list[np.ndarray]] = {}

    def run(self, crops: np.ndarray) -> list[np.ndarray]:
        key = hashlib.sha1(np.ascontiguousarray(crops).tobytes()).digest()
        if key not in self._cache:
            self._cache[key] = self.backend.run(crops)
        return [
            (o + self.rng.uniform(-self.scale, self.scale, o.shape)).astype(o.dtype)
            for o in self._cache[key]
        ]

    def set_threads(self, threads: int) -> None:
        self.backend.set_threads(threads)


def _stable_mask(
    reference: Any, frames: list[np.ndarray], scale: float, px: float, trials: int = 8
) -> list[np.ndarray]:
    """Per frame, ``(N, K)`` True where none of ``trials`` perturbations of the raw outputs by
    ``±scale`` moves a keypoint by more than ``px`` (a near-tie is missed by one trial with
    probability about 1/2, by all of them with about ``2**-trials``)."""
    from posecli.runtime import Predictor

    baseline = reference.predict(frames)
    perturbed = Predictor(
        reference.spec, _Perturbed(reference.backend, scale), flip_test=reference.flip_test
    )
    stable = [np.ones(np.asarray(b.keypoints).shape[:-1], bool) for b in baseline]
    for _ in range(trials):
        for i, (a, b) in enumerate(zip(perturbed.predict(frames), baseline, strict=True)):
            moved = np.abs(np.asarray(a.keypoints) - np.asarray(b.keypoints)) > px
            stable[i] &= ~moved.any(axis=-1)
    return stable


def random_crops(n: int, input_size: tuple[int, int], seed: int = 0) -> np.ndarray:
    """``n`` noise crops ``(n,h,w,3)`` uint8."""
    w, h = input_size
    return np.random.default_rng(seed).integers(0, 256, (n, h, w, 3), dtype=np.uint8)


def video_frames(video: str | Path, n: int) -> list[np.ndarray]:
    """The first ``n`` frames of ``video`` (BGR uint8)."""
    cap = cv2.VideoCapture(str(video))
    frames: list[np.ndarray] = []
    try:
        while len(frames) < n:
            ok, frame = cap.read()
            if not ok:
                break
            frames.append(frame)
    finally:
        cap.release()
    return frames


def compare_predictors(
    exported: Any,
    reference: Any,
    *,
    num_random: int = 4,
    frames: list[np.ndarray] | None = None,
    tolerance: float = 1e-4,
    tolerance_px: float = 1e-3,
) -> CheckReport:
    """Compare two :class:`~posecli.runtime.Predictor`\\ s (same spec): raw outputs of their
    backends on noise crops, keypoints/scores of :meth:`predict` on ``frames``."""
    crops = random_crops(num_random, exported.input_size)
    raw = max(
        (
            max_abs_diff(a, b)
            for a, b in zip(exported.backend.run(crops), reference.backend.run(crops), strict=True)
        ),
        default=0.0,
    )
    frames = frames or []
    kp_diff = sc_diff = 0.0
    unstable = 0
    if frames:
        ours = exported.predict(frames)
        ref = reference.predict(frames)
        stable = _stable_mask(reference, frames, tolerance, tolerance_px)
        unstable = int(sum((~m).sum() for m in stable))
        kp_diff = max(
            max_abs_diff(np.asarray(a.keypoints)[m], np.asarray(b.keypoints)[m])
            for a, b, m in zip(ours, ref, stable, strict=True)
        )
        sc_diff = max(
            max_abs_diff(a.keypoint_scores, b.keypoint_scores)
            for a, b in zip(ours, ref, strict=True)
        )
    return CheckReport(
        max_abs_raw=raw,
        max_abs_keypoints=kp_diff,
        max_abs_scores=sc_diff,
        num_random=num_random,
        num_real=len(frames),
        tolerance=tolerance,
        tolerance_px=tolerance_px,
        flip_test=exported.flip_test,
        num_unstable=unstable,
    )


def check_exported(
    path: str | Path,
    model: Any,
    recipe: Any,
    *,
    metainfo: Any = None,
    tolerance: float = 1e-4,
    tolerance_px: float = 1e-3,
    num_random: int = 4,
    num_real: int = 4,
    video: str | Path | None = BUNDLED_VIDEO,
) -> CheckReport:
    """Run the exported file and the PyTorch ``model`` (its checkpoint's predict path, with
    the exported spec's flip test) on the same inputs and compare (see the module docstring)."""
    from posecli.runtime import Predictor, open_exported
    from posecli.runtime.backends import TorchBackend

    spec, runner = open_exported(path, device="cpu")
    exported = Predictor(spec, runner)
    reference = Predictor(
        spec.replace(normalize=False), TorchBackend(model, "cpu", channels_last=False)
    )
    frames = (
        video_frames(video, num_real)
        if video is not None and Path(video).is_file() and num_real > 0
        else []
    )
    return compare_predictors(
        exported,
        reference,
        num_random=num_random,
        frames=frames,
        tolerance=tolerance,
        tolerance_px=tolerance_px,
    )


__all__ = [
    "BUNDLED_VIDEO",
    "CheckReport",
    "check_exported",
    "compare_predictors",
    "max_abs_diff",
    "random_crops",
    "video_frames",
]
