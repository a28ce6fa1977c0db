"""The codec contract shared by every codec.

A codec turns keypoints into training targets (``encode``) and model outputs back into keypoints
(``decode`` for one sample, ``batch_decode`` for a whole batch).

Conventions (as in MMPose): sizes are ``(w, h)``; keypoints ``(N, K, 2)`` float32 in pixel-centre
coordinates of the model **input** (pixel i covers [i-0.5, i+0.5]); visibility ``(N, K)``.
Encoded targets use MMPose's key names (``heatmaps``, ``keypoint_weights``,
``keypoint_x_labels``...). Decoded keypoints are in input space.

``batch_decode`` accepts numpy arrays or torch tensors and returns the same kind (tensors come
back on the input's device); the numerics run in numpy/OpenCV on the CPU, vectorised over the
whole batch.
"""

from __future__ import annotations

import inspect
from typing import Any, ClassVar

import numpy as np

from posecli.codecs.utils.backend import is_tensor, to_numpy


class BaseCodec:
    """Base class of all codecs: argument capture, input checks and the decode contract.

    Class attributes:
        name: the registry name (``"msra_heatmap"``).
        mmpose_name: MMPose's class name (``"MSRAHeatmap"``).
        single_instance: ``encode`` accepts exactly one instance (N == 1).
    """

    name: ClassVar[str] = ""
    mmpose_name: ClassVar[str] = ""
    single_instance: ClassVar[bool] = False

    _params: dict[str, Any]

    def _capture(self, frame_locals: dict[str, Any]) -> None:
        """Remember the constructor arguments (call first in ``__init__`` with ``locals()``)."""
        sig = inspect.signature(type(self).__init__)
        self._params = {
            p: _plain(frame_locals[p]) for p in list(sig.parameters)[1:] if p in frame_locals
        }

    @property
    def params(self) -> dict[str, Any]:
        """Constructor arguments as plain Python values (lists, floats, bools, None)."""
        return dict(self._params)

    def to_dict(self) -> dict[str, Any]:
        """``{"name": ..., **params}``: a recipe table that rebuilds this codec."""
        return {"name": self.name, **self.params}

    @property
    def flip_config(self) -> dict[str, Any]:
        """How a head flips this codec's outputs back for flip test (``mode`` and options)."""
        return {"mode": None}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self._params.items())
        return f"{type(self).__name__}({args})"

    # -- contract ------------------------------------------------------------------------
    def encode(
        self, keypoints: np.ndarray, keypoints_visible: np.ndarray | None = None, **aux: Any
    ) -> dict[str, np.ndarray]:
        """Keypoints (N, K, 2) in input space → dict of targets (MMPose key names)."""
        raise TypeError(f"{type(self).__name__} does not implement encode")

    def decode(self, *outputs: Any) -> tuple[Any, ...]:
        """Model outputs of one sample → ``(keypoints (N, K, 2), scores (N, K))``.

        Top-down codecs: one sample is one instance, so this is ``batch_decode`` on a batch of
        one and N = 1 (MMPose's per-instance ``decode``).
        """
        return self.batch_decode(*(_add_batch(o) for o in outputs))

    def batch_decode(self, *outputs: Any) -> tuple[Any, ...]:
        """Model outputs of a batch of B instances → ``(keypoints (B, K, 2), scores (B, K))``."""
        raise TypeError(f"{type(self).__name__} does not implement batch_decode")

    # -- input checks --------------------------------------------------------------------
    def _check_keypoints(
        self,
        keypoints: Any,
        keypoints_visible: Any,
        *,
        dims: tuple[int, ...] = (2,),
    ) -> tuple[np.ndarray, np.ndarray]:
        """Validate and normalise ``encode`` inputs → float32 ``(N, K, D)`` and ``(N, K)``.

        Invisible keypoints may be NaN (they are replaced by 0); a NaN visible keypoint, a
        wrong shape or (for single-instance codecs) N != 1 raises ``ValueError``.
        """
        cls = type(self).__name__
        kp = to_numpy(keypoints, np.float32)
        if kp.ndim != 3 or kp.shape[-1] not in dims:
            want = "|".join(str(d) for d in dims)
            raise ValueError(
                f"{cls}.encode: keypoints must have shape (N, K, {want}), got {kp.shape}"
            )
        if keypoints_visible is None:
            vis = np.ones(kp.shape[:2], np.float32)
        else:
            vis = to_numpy(keypoints_visible, np.float32)
            if vis.ndim == 3 and vis.shape[-1] == 1:
                vis = vis[..., 0]
            if vis.shape != kp.shape[:2]:
                raise ValueError(
                    f"{cls}.encode: keypoints_visible must have shape {kp.shape[:2]}, got {vis.shape}"
                )
        if self.single_instance and kp.shape[0] != 1:
            raise ValueError(
                f"{cls} encodes a single instance (N=1), got N={kp.shape[0]}; "
                "use one sample per instance (top-down)"
            )
        bad = np.isnan(kp).any(axis=-1)
        if bad.any():
            if (bad & (vis > 0)).any():
                n, k = np.argwhere(bad & (vis > 0))[0]
                raise ValueError(f"{cls}.encode: keypoint [{n}, {k}] is NaN but marked visible")
            kp = np.where(bad[..., None], 0, kp).astype(np.float32)
        if np.isnan(vis).any():
            raise ValueError(f"{cls}.encode: keypoints_visible contains NaN")
        return kp, vis


def _plain(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _add_batch(x: Any) -> Any:
    if is_tensor(x):
        return x.unsqueeze(0)
    return np.asarray(x)[None]


def check_ndim(cls: str, what: str, x: Any, ndim: int, shape_doc: str) -> None:
    """Raise ``ValueError`` unless ``x`` has ``ndim`` dimensions."""
    if x.ndim != ndim:
        raise ValueError(f"{cls}: {what} must have shape {shape_doc}, got {tuple(x.shape)}")


def pair(value: Any, what: str) -> tuple[float, float]:
    """``(a, b)`` from a scalar or a 2-sequence; ``ValueError`` otherwise."""
    arr = np.asarray(value, dtype=np.float64).reshape(-1)
    if arr.size == 1:
        return float(arr[0]), float(arr[0])
    if arr.size == 2:
        return float(arr[0]), float(arr[1])
    raise ValueError(f"{what} must be a number or a pair, got {value!r}")


def size2(value: Any, what: str) -> tuple[int, int]:
    """A ``(w, h)`` pair of positive integers; ``ValueError`` otherwise."""
    try:
        w, h = (int(v) for v in value)
    except (TypeError, ValueError):
        raise ValueError(f"{what} must be a (w, h) pair of integers, got {value!r}") from None
    if w <= 0 or h <= 0 or [w, h] != [float(v) for v in value]:
        raise ValueError(f"{what} must be positive integers (w, h), got {value!r}")
    return w, h


def heatmap_scale(input_size: tuple[int, int], heatmap_size: tuple[int, int]) -> np.ndarray:
    """Input pixels per heatmap pixel ``(2,)`` float32: ``input_size / heatmap_size``."""
    return (np.array(input_size, np.float32) / np.array(heatmap_size, np.float32)).astype(
        np.float32
    )
