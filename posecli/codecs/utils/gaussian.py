"""Gaussian heatmap targets (MSRA, unbiased/DARK, UDP) and UDP offset maps, vectorised.

Keypoints are ``(N, K, 2)`` in heatmap pixels (pixel centres at integers); ``heatmap_size`` is
``(W, H)``. Heatmaps are ``(K, H, W)`` float32 with instances merged by element-wise maximum,
weights ``(N, K)`` are a copy of the visibility zeroed for keypoints whose gaussian window lies
entirely outside the map. Keypoints with visibility < 0.5 are not drawn.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np


@lru_cache(maxsize=32)
def _msra_window(sigma: float) -> np.ndarray:
    """The MSRA gaussian window ``(L, L)`` float32, ``L = ceil(6σ + 1)``, evaluated with the
    expression of :func:`_window_gaussians` on the window coordinates (bit-identical values:
    with an integer centre every term there is an exact integer before the ``exp``)."""
    size = 2 * (sigma * 3) + 1
    centre = size // 2
    g = np.arange(int(np.ceil(size)), dtype=np.float64)
    e = (g - centre) ** 2
    win = np.exp(-(e[:, None] + e[None, :]) / (2 * sigma**2)).astype(np.float32)
    win.setflags(write=False)
    return win


def _msra_paste(
    heatmap_size: tuple[int, int], keypoints: np.ndarray, visible: np.ndarray, sigma: float
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_window_gaussians` without sub-pixel centres: the window is the same for every
    keypoint, so it is pasted (element-wise max over instances) instead of evaluated."""
    w, h = int(heatmap_size[0]), int(heatmap_size[1])
    kp = keypoints.astype(np.float64)
    k = kp.shape[1]
    radius = sigma * 3
    mu = np.trunc(kp + 0.5)
    low = np.trunc(mu - radius)
    high = np.trunc(mu + radius + 1)
    drawn = visible >= 0.5
    outside = (low[..., 0] >= w) | (low[..., 1] >= h) | (high[..., 0] < 0) | (high[..., 1] < 0)
    weights = np.where(drawn & outside, 0, visible).astype(np.float32)
    drawn &= ~outside
    heatmaps = np.zeros((k, h, w), np.float32)
    if not drawn.any():
        return heatmaps, weights
    win = _msra_window(float(sigma))
    length = win.shape[0]
    # column x is inside when 0 <= x - low < length and x < high (likewise rows)
    x0 = np.maximum(low[..., 0], 0).astype(np.int64)
    y0 = np.maximum(low[..., 1], 0).astype(np.int64)
    x1 = np.minimum(np.minimum(low[..., 0] + length, high[..., 0]), w).astype(np.int64)
    y1 = np.minimum(np.minimum(low[..., 1] + length, high[..., 1]), h).astype(np.int64)
    lx = low[..., 0].astype(np.int64)
    ly = low[..., 1].astype(np.int64)
    ii, jj = np.nonzero(drawn & (x1 > x0) & (y1 > y0))
    boxes = np.stack([x0, x1, y0, y1, lx, ly], axis=-1)[ii, jj].tolist()
    first = np.ones(k, bool)  # map j still all zeros: assign instead of max
    for j, (xa, xb, ya, yb, ox, oy) in zip(jj.tolist(), boxes, strict=True):
        part = win[ya - oy : yb - oy, xa - ox : xb - ox]
        if first[j]:
            heatmaps[j, ya:yb, xa:xb] = part
            first[j] = False
        else:
            target = heatmaps[j, ya:yb, xa:xb]
            np.maximum(target, part, out=target)
    return heatmaps, weights


def _window_gaussians(
    heatmap_size: tuple[int, int],
    keypoints: np.ndarray,
    visible: np.ndarray,
    sigma: float,
    subpixel_centre: bool,
) -> tuple[np.ndarray, np.ndarray]:
    """Paste a ``(2r+1)²`` window (r = 3σ) around ``mu = int(p + 0.5)`` into each map.

    With ``subpixel_centre`` the gaussian inside the window is centred on ``p`` (UDP), otherwise
    on the window centre ``mu`` (MSRA).
    """
    w, h = int(heatmap_size[0]), int(heatmap_size[1])
    kp = keypoints.astype(np.float64)
    n, k, _ = kp.shape
    radius = sigma * 3
    size = 2 * radius + 1
    length = int(np.ceil(size))  # len(arange(0, size))
    centre = size // 2
    mu = np.trunc(kp + 0.5)
    low = np.trunc(mu - radius)  # (N, K, 2) left, top
    high = np.trunc(mu + radius + 1)  # right, bottom
    drawn = visible >= 0.5
    outside = (low[..., 0] >= w) | (low[..., 1] >= h) | (high[..., 0] < 0) | (high[..., 1] < 0)
    weights = np.where(drawn & outside, 0, visible).astype(np.float32)
    drawn &= ~outside
    c0 = centre + (kp - mu if subpixel_centre else np.zeros_like(kp))  # centre in window coords
    xs = np.arange(w, dtype=np.float64)
    ys = np.arange(h, dtype=np.float64)
    gx = xs - low[..., 0, None]  # (N, K, W) window coordinate of each column
    gy = ys - low[..., 1, None]
    in_x = (gx >= 0) & (gx < length) & (xs < high[..., 0, None])
    in_y = (gy >= 0) & (gy < length) & (ys < high[..., 1, None])
    ex = (gx - c0[..., 0, None]) ** 2
    ey = (gy - c0[..., 1, None]) ** 2
    g = np.exp(-(ey[..., :, None] + ex[..., None, :]) / (2 * sigma**2))
    mask = in_y[..., :, None] & in_x[..., None, :] & drawn[..., None, None]
    heatmaps = np.where(mask, g, 0.0).astype(np.float32).max(axis=0) if n else None
    if heatmaps is None:
        heatmaps = np.zeros((k, h, w), np.float32)
    return heatmaps, weights


def msra_gaussian_heatmaps(
    heatmap_size: tuple[int, int], keypoints: np.ndarray, visible: np.ndarray, sigma: float
) -> tuple[np.ndarray, np.ndarray]:
    """MSRA targets: peak-1 gaussian on the integer pixel ``int(p + 0.5)``, radius 3σ.

    Returns:
        ``heatmaps (K, H, W)`` float32 and ``weights (N, K)`` float32.
    """
    return _msra_paste(heatmap_size, keypoints, visible, sigma)


def udp_gaussian_heatmaps(
    heatmap_size: tuple[int, int], keypoints: np.ndarray, visible: np.ndarray, sigma: float
) -> tuple[np.ndarray, np.ndarray]:
    """UDP targets: the MSRA window, with the gaussian centred on the sub-pixel position ``p``."""
    return _window_gaussians(heatmap_size, keypoints, visible, sigma, subpixel_centre=True)


def unbiased_gaussian_heatmaps(
    heatmap_size: tuple[int, int], keypoints: np.ndarray, visible: np.ndarray, sigma: float
) -> tuple[np.ndarray, np.ndarray]:
    """DARK targets: a gaussian on the whole map centred on the float position ``p``.

    A keypoint is dropped (weight 0) when ``[p - 3σ, p + 3σ + 1)`` misses the map.
    """
    w, h = int(heatmap_size[0]), int(heatmap_size[1])
    kp = keypoints.astype(np.float64)
    n, k, _ = kp.shape
    radius = sigma * 3
    low = kp - radius
    high = kp + radius + 1
    drawn = visible >= 0.5
    outside = (low[..., 0] >= w) | (low[..., 1] >= h) | (high[..., 0] < 0) | (high[..., 1] < 0)
    weights = np.where(drawn & outside, 0, visible).astype(np.float32)
    drawn &= ~outside
    ex = (np.arange(w) - kp[..., 0, None]) ** 2
    ey = (np.arange(h) - kp[..., 1, None]) ** 2
    g = np.exp(-(ey[..., :, None] + ex[..., None, :]) / (2 * sigma**2))
    g = np.where(drawn[..., None, None], g, 0.0).astype(np.float32)
    heatmaps = g.max(axis=0) if n else np.zeros((k, h, w), np.float32)
    return heatmaps, weights


def udp_offset_heatmaps(
    heatmap_size: tuple[int, int],
    keypoints: np.ndarray,
    visible: np.ndarray,
    radius_factor: float,
) -> tuple[np.ndarray, np.ndarray]:
    """UDP ``combined`` targets: per keypoint ``[class, x_offset, y_offset]`` maps.

    ``R = radius_factor · max(W, H)``; offsets ``(p - grid) / R`` over the whole map; class is 1
    inside the unit offset disc. Later visible instances overwrite earlier ones.

    Returns:
        ``heatmaps (3K, H, W)`` float32 and ``weights (N, K)`` (a copy of the visibility).
    """
    w, h = int(heatmap_size[0]), int(heatmap_size[1])
    n, k, _ = keypoints.shape
    radius = radius_factor * max(w, h)
    drawn = visible >= 0.5
    out = np.zeros((k, 3, h, w), np.float32)
    has = drawn.any(axis=0)
    last = (n - 1) - np.argmax(drawn[::-1], axis=0) if n else np.zeros(k, np.int64)
    p = keypoints[last, np.arange(k)].astype(np.float64)  # (K, 2)
    xo = (p[:, 0, None, None] - np.arange(w)[None, None, :]) / radius
    yo = (p[:, 1, None, None] - np.arange(h)[None, :, None]) / radius
    xo, yo = np.broadcast_arrays(xo, yo)
    out[:, 0] = (xo**2 + yo**2 <= 1).astype(np.float32)
    out[:, 1] = xo
    out[:, 2] = yo
    out[~has] = 0
    return out.reshape(k * 3, h, w), visible.astype(np.float32).copy()
