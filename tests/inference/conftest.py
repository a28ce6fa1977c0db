"""Shared helpers of the inference tests: tiny synthetic videos and the bundled data paths."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]


def frame_value(index: int) -> int:
    """Grey level encoding a frame index in synthetic videos (robust to JPEG/MPEG loss)."""
    return (index * 10) % 250


def make_video(
    path: Path,
    n: int = 20,
    fps: float = 10.0,
    size: tuple[int, int] = (64, 48),
    fourcc: str = "MJPG",
) -> Path:
    """Write a video whose frame ``i`` is uniformly grey at :func:`frame_value` ``(i)``."""
    vw = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, size)
    assert vw.isOpened()
    for i in range(n):
        vw.write(np.full((size[1], size[0], 3), frame_value(i), np.uint8))
    vw.release()
    return path


def corrupt_mjpeg_frame(path: Path, index: int) -> None:
    """Destroy the JPEG header of frame ``index`` of an MJPG AVI so that it cannot decode."""
    data = bytearray(path.read_bytes())
    starts = [i for i in range(len(data) - 2) if data[i : i + 3] == b"\xff\xd8\xff"]
    start = starts[index]
    data[start : start + 200] = bytes(200)
    path.write_bytes(bytes(data))


@pytest.fixture
def video_path(tmp_path: Path) -> Path:
    return make_video(tmp_path / "synthetic.avi")
