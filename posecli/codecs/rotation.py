"""Rotation-test helpers: quarter turns of square crops and SimCC outputs turned back.

A top-down model trained with full rotations (animals filmed from above) can be run on its
crop turned by ``k`` quarter turns, ``k`` in 1–3, and the outputs turned back into the plain
frame and averaged with the plain ones (``model.test.rotation_test``), as the flip test does
for a mirrored crop. A quarter turn maps a square ``n × n`` crop onto itself, so the turned
crop is exact (no resampling) and, for SimCC vectors, turning back is a swap of the x and y
vectors and a reversal of one of them:

- turn ``k`` is ``numpy.rot90(crop, k)`` on the ``(H, W)`` axes (counter-clockwise as
  displayed), the same as ``torch.rot90(images, k, dims=(-2, -1))`` on NCHW;
- a pixel ``(x, y)`` of the plain crop lands at ``(y, n-1-x)`` after one turn,
  ``(n-1-x, n-1-y)`` after two and ``(n-1-y, x)`` after three (pixel-centre coordinates);
- SimCC bin ``b`` stands for input coordinate ``b / r`` (``r`` = ``simcc_split_ratio``), so
  the coordinate reversal ``c → n-1-c`` is the bin reversal followed by a shift of ``r - 1``
  bins (:func:`posecli.codecs.flip.simcc_flip_shift`): exact, not MMPose's flip bias.

Keypoint identities do not change under a rotation (no left/right swap). Works on numpy
arrays and torch tensors alike (the same kind is returned).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from posecli.codecs.flip import _shift_left, _xp_flip
from posecli.codecs.utils.backend import is_tensor

#: The quarter turns of a rotation test: the plain crop first.
QUARTER_TURNS = (0, 1, 2, 3)


def rotate_crops(crops: Any, k: int) -> Any:
    """Square crops turned by ``k`` quarter turns: NHWC numpy ``(B, n, n, 3)`` or NCHW torch
    ``(B, 3, n, n)`` (each in its own layout)."""
    k = int(k) % 4
    if is_tensor(crops):
        return crops.rot90(k, dims=(-2, -1)) if k else crops
    return np.ascontiguousarray(np.rot90(crops, k, axes=(1, 2))) if k else crops


def _reverse(v: Any, shift_bins: float) -> Any:
    out = _xp_flip(v, -1)
    return _shift_left(out, shift_bins) if shift_bins else out


def unrotate_simcc(simcc_x: Any, simcc_y: Any, k: int, shift_bins: float) -> tuple[Any, Any]:
    """SimCC vectors ``(N, K, W)`` predicted on crops turned ``k`` quarter turns → the plain
    frame (see the module docstring; ``shift_bins`` = ``simcc_split_ratio - 1`` is exact).

    Raises:
        ValueError: the x and y vectors differ in length (the crop is not square).
    """
    if simcc_x.shape[-1] != simcc_y.shape[-1]:
        raise ValueError(
            "the rotation test needs a square input (SimCC x and y vectors of one length), "
            f"got {simcc_x.shape[-1]} and {simcc_y.shape[-1]} bins"
        )
    k = int(k) % 4
    if k == 0:
        return simcc_x, simcc_y
    if k == 1:  # x' = y, y' = n-1-x
        return _reverse(simcc_y, shift_bins), simcc_x
    if k == 2:  # x' = n-1-x, y' = n-1-y
        return _reverse(simcc_x, shift_bins), _reverse(simcc_y, shift_bins)
    return simcc_y, _reverse(simcc_x, shift_bins)  # k == 3: x' = n-1-y, y' = x


def average_views(views: list[Any]) -> Any:
    """The element-wise mean of several views' outputs: arrays/tensors, or tuples/lists of
    them (item by item), numpy or torch alike."""
    if isinstance(views[0], (tuple, list)):
        return type(views[0])(sum(parts) / len(views) for parts in zip(*views, strict=True))
    return sum(views) / len(views)


__all__ = ["QUARTER_TURNS", "average_views", "rotate_crops", "unrotate_simcc"]
