"""SimCC labels (RTMPose, SimCC): one 1-D classification vector per axis."""

from __future__ import annotations

from typing import Any

import numpy as np

from posecli.codecs.base import BaseCodec, check_ndim, pair, size2
from posecli.codecs.utils.backend import restorer, to_numpy
from posecli.codecs.utils.maxima import simcc_maximum
from posecli.codecs.utils.refine import refine_simcc_dark, refine_simcc_expectation

SMOOTHING_TYPES = ("gaussian", "standard")


def simcc_dark_kernel(sigma: float) -> int:
    """Blur kernel of the 1-D DARK decode for σ: ``int((20σ - 7) // 3)``, made odd."""
    k = int((sigma * 20 - 7) // 3)
    return k - 1 if k % 2 == 0 else k


class SimCCLabel(BaseCodec):
    """Keypoints → per-axis label vectors of ``round(w · ratio)`` / ``round(h · ratio)`` bins.

    Args:
        input_size: model input ``(w, h)``.
        smoothing_type: ``"gaussian"`` or ``"standard"`` (one-hot with label smoothing).
        sigma: σ in bins, a number or ``(σx, σy)``.
        simcc_split_ratio: bins per input pixel.
        label_smooth_weight: ``standard`` only, in [0, 1].
        normalize: divide gaussian labels by ``σ√(2π)``.
        use_dark: refine the argmax with 1-D DARK.
        soft_argmax_beta: refine the argmax with the mean of ``softmax(beta · output)`` over
            the bins within ``soft_argmax_window``·σ of it (a local soft-argmax; ``beta`` is
            the KL loss's temperature, 10 for RTMPose). Not with ``use_dark``. ``None``: off
            (MMPose).
        soft_argmax_window: half-width of that window in σ.
        decode_visibility: ``batch_decode`` also returns a visibility (softmax maximum).
        decode_beta: softmax temperature factor of the visibility (``x · beta · σ``).

    Encoded: ``keypoint_x_labels (N, K, Wx)``, ``keypoint_y_labels (N, K, Wy)``,
    ``keypoint_weights (N, K)``. Bin centres use numpy's round-half-to-even (MMPose).
    ``batch_decode(simcc_x (B, K, Wx), simcc_y (B, K, Wy))`` → ``(B, K, 2)``, scores ``(B, K)``
    = ``min(max_x, max_y)`` of the raw outputs (and visibility ``(B, K)`` when
    ``decode_visibility``).
    """

    name = "simcc"
    mmpose_name = "SimCCLabel"

    def __init__(
        self,
        input_size: tuple[int, int],
        smoothing_type: str = "gaussian",
        sigma: float | tuple[float, float] = 6.0,
        simcc_split_ratio: float = 2.0,
        label_smooth_weight: float = 0.0,
        normalize: bool = True,
        use_dark: bool = False,
        decode_visibility: bool = False,
        decode_beta: float = 150.0,
        soft_argmax_beta: float | None = None,
        soft_argmax_window: float = 6.0,
    ) -> None:
        self._capture(locals())
        self.input_size = size2(input_size, "input_size")
        if smoothing_type not in SMOOTHING_TYPES:
            raise ValueError(
                f"SimCCLabel got invalid smoothing_type {smoothing_type!r}; "
                f"should be one of {', '.join(SMOOTHING_TYPES)}"
            )
        if smoothing_type == "gaussian" and label_smooth_weight > 0:
            raise ValueError("label_smooth_weight is only used with smoothing_type='standard'")
        if not 0.0 <= label_smooth_weight <= 1.0:
            raise ValueError(f"label_smooth_weight must be in [0, 1], got {label_smooth_weight!r}")
        if not float(simcc_split_ratio) > 0:
            raise ValueError(f"simcc_split_ratio must be > 0, got {simcc_split_ratio!r}")
        self.smoothing_type = smoothing_type
        self.sigma = np.array(pair(sigma, "sigma"), np.float64)
        if not (self.sigma > 0).all():
            raise ValueError(f"sigma must be > 0, got {sigma!r}")
        self.simcc_split_ratio = float(simcc_split_ratio)
        self.label_smooth_weight = float(label_smooth_weight)
        self.normalize = bool(normalize)
        self.use_dark = bool(use_dark)
        if soft_argmax_beta is not None and not soft_argmax_beta > 0:
            raise ValueError(f"soft_argmax_beta must be > 0, got {soft_argmax_beta!r}")
        if soft_argmax_beta is not None and self.use_dark:
            raise ValueError("use_dark and soft_argmax_beta are two refinements: choose one")
        self.soft_argmax_beta = None if soft_argmax_beta is None else float(soft_argmax_beta)
        if not soft_argmax_window > 0:
            raise ValueError(f"soft_argmax_window must be > 0, got {soft_argmax_window!r}")
        self.soft_argmax_window = float(soft_argmax_window)
        self.decode_visibility = bool(decode_visibility)
        self.decode_beta = float(decode_beta)
        w, h = self.input_size
        self.simcc_size = (
            int(np.around(w * self.simcc_split_ratio)),
            int(np.around(h * self.simcc_split_ratio)),
        )
        self._label_tables = self._gaussian_tables() if smoothing_type == "gaussian" else None

    def _gaussian_tables(self) -> tuple[tuple[np.ndarray, int], tuple[np.ndarray, int]]:
        """Per axis, the float32 label value of every bin offset ``d = bin - mu`` a drawn
        keypoint can have (``|d| < size + 3σ + 1``), computed with the very expression of a
        direct evaluation (so the labels are bit-identical), and the index of ``d = 0``."""
        tables = []
        for size, sigma in zip(self.simcc_size, self.sigma, strict=True):
            reach = size + int(np.ceil(3 * sigma)) + 1
            d = np.arange(-reach, reach + 1, dtype=np.int64)
            t = np.exp(-(d**2) / (2 * sigma**2))
            if self.normalize:
                t = t / (sigma * np.sqrt(np.pi * 2))
            tables.append((t.astype(np.float32), reach))
        return tables[0], tables[1]

    @property
    def flip_config(self) -> dict[str, Any]:
        return {"mode": "simcc", "simcc_split_ratio": self.simcc_split_ratio}

    def encode(
        self, keypoints: Any, keypoints_visible: Any = None, **aux: Any
    ) -> dict[str, np.ndarray]:
        """Keypoints (N, K, 2) → x/y label vectors and ``keypoint_weights (N, K)``."""
        kp, vis = self._check_keypoints(keypoints, keypoints_visible)
        wx, wy = self.simcc_size
        mu = np.around(kp * self.simcc_split_ratio).astype(np.int64)  # half-to-even
        drawn = vis >= 0.5
        bins_x = np.arange(wx)
        bins_y = np.arange(wy)
        if self.smoothing_type == "gaussian":
            radius = self.sigma * 3
            low = mu - radius
            high = mu + radius + 1
            outside = (
                (low[..., 0] >= wx) | (low[..., 1] >= wy) | (high[..., 0] < 0) | (high[..., 1] < 0)
            )
            drawn_in = drawn & ~outside
            (tx, rx), (ty, ry) = self._label_tables
            # exp(-(bin - mu)² / 2σ²) looked up by offset; offsets beyond the table occur only
            # for keypoints not drawn (zeroed below), so clipping them is harmless
            x = np.take(tx, bins_x + (rx - mu[..., 0, None]), mode="clip")
            y = np.take(ty, bins_y + (ry - mu[..., 1, None]), mode="clip")
            x[~drawn_in] = 0.0
            y[~drawn_in] = 0.0
            weights = np.where(drawn & outside, 0, vis).astype(np.float32)
            return {"keypoint_x_labels": x, "keypoint_y_labels": y, "keypoint_weights": weights}
        outside = (mu[..., 0] >= wx) | (mu[..., 1] >= wy) | (mu[..., 0] < 0) | (mu[..., 1] < 0)
        drawn_in = drawn & ~outside
        lsw = self.label_smooth_weight
        x = np.where(bins_x == mu[..., 0, None], 1.0 - lsw, lsw / (wx - 1) if lsw > 0 else 0.0)
        y = np.where(bins_y == mu[..., 1, None], 1.0 - lsw, lsw / (wy - 1) if lsw > 0 else 0.0)
        x = np.where(drawn_in[..., None], x, 0.0).astype(np.float32)
        y = np.where(drawn_in[..., None], y, 0.0).astype(np.float32)
        weights = np.where(drawn & outside, 0, vis).astype(np.float32)
        return {"keypoint_x_labels": x, "keypoint_y_labels": y, "keypoint_weights": weights}

    def decode(self, simcc_x: Any, simcc_y: Any) -> tuple[Any, ...]:
        """One sample: ``(K, Wx)``/``(K, Wy)`` or ``(N, K, ·)`` → keypoints (N, K, 2), scores."""
        if simcc_x.ndim == 2:
            return super().decode(simcc_x, simcc_y)
        return self.batch_decode(simcc_x, simcc_y)

    def batch_decode(self, simcc_x: Any, simcc_y: Any) -> tuple[Any, ...]:
        """SimCC outputs (B, K, Wx), (B, K, Wy) → keypoints (B, K, 2) in input pixels, scores.

        With ``decode_visibility`` a third array ``visibility (B, K)`` is returned.
        """
        back = restorer(simcc_x)
        sx_ = to_numpy(simcc_x)
        sy_ = to_numpy(simcc_y)
        cls = type(self).__name__
        check_ndim(cls, "simcc_x", sx_, 3, "(B, K, Wx)")
        check_ndim(cls, "simcc_y", sy_, 3, "(B, K, Wy)")
        locs, scores = simcc_maximum(sx_, sy_)
        if self.use_dark:
            locs = np.stack(
                (
                    refine_simcc_dark(locs[..., 0], sx_, simcc_dark_kernel(self.sigma[0])),
                    refine_simcc_dark(locs[..., 1], sy_, simcc_dark_kernel(self.sigma[1])),
                ),
                axis=-1,
            )
        elif self.soft_argmax_beta is not None:
            locs = np.stack(
                [
                    refine_simcc_expectation(
                        locs[..., i],
                        out_i,
                        self.soft_argmax_beta,
                        self.soft_argmax_window * float(self.sigma[i]),
                    )
                    for i, out_i in enumerate((sx_, sy_))
                ],
                axis=-1,
            )
        keypoints = (locs / np.float32(self.simcc_split_ratio)).astype(np.float32)
        out = (back(keypoints), back(scores.astype(np.float32)))
        if self.decode_visibility:
            sx, sy = self.sigma
            _, vis = simcc_maximum(
                sx_ * (self.decode_beta * sx), sy_ * (self.decode_beta * sy), apply_softmax=True
            )
            return (*out, back(vis.astype(np.float32)))
        return out
