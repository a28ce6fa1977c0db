"""Sequence sampling for lifting datasets: which frames form each sample.

Frames are grouped into videos (Human3.6M: subject, action, camera); every sample is a list of
frame indices into the annotation arrays. MMPose 1.3.2 semantics:

- ``pad_video_seq``: one sample per frame; the window of ``seq_len`` frames ``seq_step`` apart
  is centred on it (causal: ends on it) and repeated edge frames pad it at the video ends.
- otherwise: every full window inside the video (no padding).
- ``multiple_target = T``: consecutive, non-overlapping clips of ``T`` frames (MotionBERT),
  ``multiple_target_step`` apart when given; videos shorter than ``T`` are padded with their last
  frame in test mode so every frame is predicted once.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def window_indices(
    n_frame: int, seq_len: int, seq_step: int = 1, *, causal: bool = False, pad: bool = True
) -> np.ndarray:
    """Positions ``(S, seq_len)`` inside one video of ``n_frame`` frames.

    With ``pad`` there is one window per frame (``S = n_frame``): positions are
    ``i + step·offset`` clipped to the video, offsets ``-(L-1)..0`` (causal) or
    ``-(L-1)/2..(L-1)/2``. Clipping equals MMPose's edge padding: positions before the start
    repeat frame 0, after the end the last frame.
    """
    if seq_len < 1 or seq_step < 1:
        raise ValueError(f"seq_len and seq_step must be ≥ 1, got {seq_len}, {seq_step}")
    span = (seq_len - 1) * seq_step + 1
    if pad:
        left = seq_len - 1 if causal else (seq_len - 1) // 2
        offsets = (np.arange(seq_len) - left) * seq_step
        pos = np.arange(n_frame)[:, None] + offsets[None, :]
        return np.clip(pos, 0, n_frame - 1)
    starts = np.arange(max(0, n_frame - span + 1))
    return starts[:, None] + np.arange(seq_len)[None, :] * seq_step


def clip_indices(
    n_frame: int, length: int, step: int | None = None, *, pad_last: bool = False
) -> np.ndarray:
    """Positions ``(S, length)`` of clips of ``length`` consecutive frames every ``step``
    (default ``length``); only whole clips unless ``pad_last`` (last frame repeated)."""
    step = step or length
    if pad_last:
        starts = np.arange(0, n_frame, step)
        return np.clip(starts[:, None] + np.arange(length)[None, :], 0, n_frame - 1)
    starts = np.arange(0, max(0, n_frame - length + 1), step)
    return starts[:, None] + np.arange(length)[None, :]


def build_sequences(
    groups: Sequence[np.ndarray],
    seq_len: int = 1,
    seq_step: int = 1,
    *,
    causal: bool = False,
    pad_video_seq: bool = False,
    multiple_target: int = 0,
    multiple_target_step: int | None = None,
    pad_clips: bool = False,
) -> np.ndarray:
    """Frame indices ``(S, L)`` of every sample over all videos (``groups``: sorted frame
    indices of each video, in the order the samples should come)."""
    out = []
    for frames in groups:
        frames = np.asarray(frames, np.int64)
        n = len(frames)
        if multiple_target:
            pos = clip_indices(n, multiple_target, multiple_target_step, pad_last=pad_clips)
        elif seq_len == 1:
            pos = np.arange(n)[:, None]
        else:
            pos = window_indices(n, seq_len, seq_step, causal=causal, pad=pad_video_seq)
        if len(pos):
            out.append(frames[pos])
    length = multiple_target or seq_len
    return np.concatenate(out) if out else np.zeros((0, length), np.int64)


__all__ = ["build_sequences", "clip_indices", "window_indices"]
