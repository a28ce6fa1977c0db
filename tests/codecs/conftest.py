"""Fixtures of the codec tests: the reference keypoints of reference §1."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture
def ref_keypoints() -> tuple[np.ndarray, np.ndarray]:
    kp = np.array(
        [[[10, 20], [95.3, 130.7], [150.2, 33.9], [0.4, 255.6], [191, 0], [60.6, 200.2]]],
        np.float32,
    )
    vis = np.array([[1, 1, 1, 1, 1, 0]], np.float32)
    return kp, vis
