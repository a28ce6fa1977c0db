"""Constants and helpers shared by the codec tests (imported by name; no package needed)."""

from __future__ import annotations

import numpy as np

INPUT = (192, 256)
HEATMAP = (48, 64)


def random_keypoints(
    rng: np.random.Generator, n: int, k: int = 17, margin: float = 0.0, size=INPUT
) -> np.ndarray:
    """(n, 1, k, 2) keypoints inside ``[margin, size-1-margin]``."""
    lo = [margin, margin]
    hi = [size[0] - 1 - margin, size[1] - 1 - margin]
    return rng.uniform(lo, hi, size=(n, 1, k, 2)).astype(np.float32)
