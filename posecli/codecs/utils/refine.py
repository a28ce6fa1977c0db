"""Sub-pixel refinement of heatmap/SimCC maxima: quarter offset, DARK, DARK-UDP, 1-D DARK.

All functions take keypoints ``(..., 2)`` in heatmap pixels (as returned by
:func:`~posecli.codecs.utils.maxima.heatmap_maximum`) together with maps ``(..., H, W)`` of the
same leading shape, and return refined float32 keypoints; nothing is modified in place and there
is no Python loop over instances or keypoints.

DARK needs the blurred map only at a few pixels around each maximum. The blur's max-rescale
multiplies a map by a constant, which the log-derivatives do not see unless MMPose's clamping
(``1e-10`` for DARK, ``[1e-3, 50]`` for DARK-UDP) is reached. So the blur is evaluated on a small
window around each maximum, and only maps where clamping could matter (weak, negative or very
large maps) go through the full-map blur; both paths give MMPose's result.
"""

from __future__ import annotations

import numpy as np

from posecli.codecs.utils.blur import gaussian_blur, gaussian_blur1d, gaussian_kernel_1d

_F32_EPS = float(np.finfo(np.float32).eps)


def _flat(keypoints: np.ndarray, maps: np.ndarray) -> tuple[np.ndarray, np.ndarray, tuple]:
    keypoints = np.asarray(keypoints, dtype=np.float32)
    maps = np.asarray(maps, dtype=np.float32)
    lead = keypoints.shape[:-1]
    if maps.shape[:-2] != lead:
        raise ValueError(
            f"keypoints {tuple(keypoints.shape)} do not match maps {tuple(maps.shape)}"
        )
    return keypoints.reshape(-1, 2), maps.reshape(-1, *maps.shape[-2:]), lead


def refine_quarter(
    keypoints: np.ndarray, heatmaps: np.ndarray, refine_x_at_1: bool = False
) -> np.ndarray:
    """Move each maximum 0.25 px toward its larger neighbour on each axis (MSRA/AE decoding).

    MMPose (the default) refines x only when ``1 < x < W-1 and 0 < y < H`` and y only when
    ``1 < y < H-1 and 0 < x < W``: column/row 1 and row/column 0 are never refined.
    ``refine_x_at_1=True`` refines every pixel that has two neighbours on that axis
    (``0 < x < W-1``, resp. ``0 < y < H-1``), removing the 0.25 px bias there.

    Args:
        keypoints: (..., 2) integer-valued maxima ``(x, y)``; ``-1`` marks an empty map.
        heatmaps: (..., H, W).

    Returns:
        float32 (..., 2).
    """
    kp, maps, lead = _flat(keypoints, heatmaps)
    m, h, w = maps.shape
    x = kp[:, 0].astype(np.int64)
    y = kp[:, 1].astype(np.int64)
    if refine_x_at_1:
        okx = (x > 0) & (x < w - 1) & (y >= 0) & (y < h)
        oky = (y > 0) & (y < h - 1) & (x >= 0) & (x < w)
    else:
        okx = (x > 1) & (x < w - 1) & (y > 0) & (y < h)
        oky = (y > 1) & (y < h - 1) & (x > 0) & (x < w)
    flat = maps.reshape(m, -1)
    rows = np.arange(m)
    xc = np.clip(x, 1, w - 2)
    yc = np.clip(y, 1, h - 2)
    yr = np.clip(y, 0, h - 1)
    xr = np.clip(x, 0, w - 1)
    dx = flat[rows, yr * w + np.minimum(xc + 1, w - 1)] - flat[rows, yr * w + xc - 1]
    dy = flat[rows, np.minimum(yc + 1, h - 1) * w + xr] - flat[rows, (yc - 1) * w + xr]
    step = np.stack((np.where(okx, dx, 0), np.where(oky, dy, 0)), axis=-1)
    out = kp + np.sign(step).astype(np.float32) * np.float32(0.25)
    return out.reshape(*lead, 2)


def blur_windows(
    maps: np.ndarray,
    rows: np.ndarray,
    cx: np.ndarray,
    cy: np.ndarray,
    half: int,
    kernel: int,
) -> np.ndarray:
    """Zero-padded gaussian blur (no rescale) of some maps evaluated on a small window.

    Args:
        maps: (M, H, W).
        rows: (S,) which maps.
        cx, cy: (S,) integer window centres.
        half: the window is ``[c-half, c+half]`` on each axis.
        kernel: odd blur kernel size.

    Returns:
        float64 (S, 2·half+1, 2·half+1) (computed in float32): ``out[s, j, i]`` is the blurred map ``rows[s]`` at
        ``(cx+i-half, cy+j-half)``.
    """
    g = gaussian_kernel_1d(kernel)
    b = (kernel - 1) // 2
    _, h, w = maps.shape
    n_out = 2 * half + 1
    n_in = n_out + 2 * b
    offs = np.arange(n_in) - (half + b)
    xs = cx[:, None] + offs  # (M, n_in)
    ys = cy[:, None] + offs
    inside = ((xs >= 0) & (xs < w))[:, None, :] & ((ys >= 0) & (ys < h))[:, :, None]
    idx = np.clip(ys, 0, h - 1)[:, :, None] * w + np.clip(xs, 0, w - 1)[:, None, :]
    idx += (rows * (h * w))[:, None, None]
    win = maps.reshape(-1).take(idx)
    win *= inside
    # Band matrix: out[i] = sum_t g[t] * in[i + t] (float32 like OpenCV's float blur).
    band = np.zeros((n_out, n_in), np.float32)
    for i in range(n_out):
        band[i, i : i + kernel] = g
    return (band @ win @ band.T).astype(np.float64)


def _dark_offsets(win: np.ndarray) -> np.ndarray:
    """DARK Taylor step from 5×5 log-windows ``(M, 5, 5)`` centred on the maxima → (M, 2)."""
    c = 2
    dx = 0.5 * (win[:, c, c + 1] - win[:, c, c - 1])
    dy = 0.5 * (win[:, c + 1, c] - win[:, c - 1, c])
    dxx = 0.25 * (win[:, c, c + 2] - 2 * win[:, c, c] + win[:, c, c - 2])
    dyy = 0.25 * (win[:, c + 2, c] - 2 * win[:, c, c] + win[:, c - 2, c])
    dxy = 0.25 * (
        win[:, c + 1, c + 1] - win[:, c - 1, c + 1] - win[:, c + 1, c - 1] + win[:, c - 1, c - 1]
    )
    det = dxx * dyy - dxy**2
    ok = det != 0
    safe = np.where(ok, det, 1.0)
    ox = -(dyy * dx - dxy * dy) / safe
    oy = -(-dxy * dx + dxx * dy) / safe
    return np.where(ok[:, None], np.stack((ox, oy), axis=-1), 0.0)


def refine_dark(
    keypoints: np.ndarray,
    heatmaps: np.ndarray,
    kernel: int = 11,
    maxima: np.ndarray | None = None,
) -> np.ndarray:
    """DARK refinement (MSRA ``unbiased=True``): Taylor step on the log of the blurred map.

    Only maxima with ``1 < x < W-2 and 1 < y < H-2`` move, when the Hessian is invertible.

    Args:
        keypoints: (..., 2) maxima in heatmap pixels.
        heatmaps: (..., H, W) raw model heatmaps.
        kernel: blur kernel size.
        maxima: (...) each map's maximum if already known (saves a pass over the maps).

    Returns:
        float32 (..., 2).
    """
    kp, maps, lead = _flat(keypoints, heatmaps)
    m, h, w = maps.shape
    x = kp[:, 0].astype(np.int64)
    y = kp[:, 1].astype(np.int64)
    sel = np.flatnonzero((x > 1) & (x < w - 2) & (y > 1) & (y < h - 2))
    out = kp.copy()
    if sel.size == 0:
        return out.reshape(*lead, 2)
    sx, sy = x[sel], y[sel]
    win = blur_windows(maps, sel, sx, sy, 2, kernel)
    used = np.zeros((5, 5), bool)  # the 13 pixels the Taylor step reads
    used[2, :] = used[:, 2] = True
    used[1:4, 1:4] = True
    all_max = maps.reshape(m, -1).max(axis=1) if maxima is None else np.ravel(maxima)
    origin_max = all_max[sel]
    # Rescale factor c = origin_max / blurred_max ≥ 1 when origin_max ≥ 0: no clamp if B ≥ 1e-10.
    fast = (origin_max > 0) & (win[:, used].min(axis=1) >= 1e-10 * (1 + 1e-5))
    logwin = np.log(np.maximum(win, 1e-300))
    slow = np.flatnonzero(~fast)
    if slow.size:
        full = np.log(np.maximum(gaussian_blur(maps[sel[slow]], kernel), 1e-10))
        r = np.arange(-2, 3)
        yy = (sy[slow, None] + r)[:, :, None]
        xx = (sx[slow, None] + r)[:, None, :]
        logwin[slow] = full[np.arange(slow.size)[:, None, None], yy, xx]
    out[sel] = (out[sel] + _dark_offsets(logwin)).astype(np.float32)
    return out.reshape(*lead, 2)


def _dark_udp_step(i_, ix1, ix1_, iy1, iy1_, ix1y1, ix1_y1_) -> np.ndarray:
    dx = 0.5 * (ix1 - ix1_)
    dy = 0.5 * (iy1 - iy1_)
    dxx = ix1 - 2 * i_ + ix1_
    dyy = iy1 - 2 * i_ + iy1_
    dxy = 0.5 * (ix1y1 - ix1 - iy1 + i_ + i_ - ix1_ - iy1_ + ix1_y1_)
    a, c = dxx + _F32_EPS, dyy + _F32_EPS
    with np.errstate(divide="ignore", invalid="ignore"):
        det = a * c - dxy * dxy
        ox = (c * dx - dxy * dy) / det
        oy = (-dxy * dx + a * dy) / det
    return np.stack((ox, oy), axis=-1)


def refine_dark_udp(
    keypoints: np.ndarray,
    heatmaps: np.ndarray,
    kernel: int = 11,
    maxima: np.ndarray | None = None,
) -> np.ndarray:
    """DARK-UDP refinement: blur, clip to [1e-3, 50], log, edge-pad by 1, one Newton step.

    Every keypoint moves (no bounds test). As in MMPose, an empty map (max ≤ 0, keypoint -1)
    reads its neighbours through the flattened padded array of its sample, and an all-zero map
    gives NaN.

    Args:
        keypoints: (B, K, 2) maxima in heatmap pixels.
        heatmaps: (B, K, H, W).
        kernel: blur kernel size.
        maxima: (B, K) each map's maximum if already known.

    Returns:
        float32 (B, K, 2).
    """
    keypoints = np.asarray(keypoints, dtype=np.float32)
    heatmaps = np.asarray(heatmaps, dtype=np.float32)
    if keypoints.ndim != 3 or heatmaps.ndim != 4:
        raise ValueError(
            f"refine_dark_udp expects keypoints (B,K,2) and heatmaps (B,K,H,W), got "
            f"{tuple(keypoints.shape)} and {tuple(heatmaps.shape)}"
        )
    bsz, k, h, w = heatmaps.shape
    kp, maps, _ = _flat(keypoints, heatmaps)
    m = kp.shape[0]
    x = kp[:, 0].astype(np.int64)
    y = kp[:, 1].astype(np.int64)
    out = kp.astype(np.float64)
    origin_max = maps.reshape(m, -1).max(axis=1) if maxima is None else np.ravel(maxima)
    fast = (origin_max > 0) & (origin_max <= 50 * (1 - 1e-5)) & (x >= 0) & (y >= 0)
    if h >= 3 and w >= 3 and fast.any():
        sel = np.flatnonzero(fast)
        sx, sy = x[sel], y[sel]
        cx, cy = np.clip(sx, 1, w - 2), np.clip(sy, 1, h - 2)
        win = blur_windows(maps, sel, cx, cy, 1, kernel)
        ok = win.reshape(sel.size, -1).min(axis=1) >= 1e-3 * (1 + 1e-5)
        win = np.log(np.maximum(win, 1e-300))
        rows = np.arange(sel.size)

        def at(ddx: int, ddy: int) -> np.ndarray:
            ix = np.clip(sx + ddx, 0, w - 1) - cx + 1
            iy = np.clip(sy + ddy, 0, h - 1) - cy + 1
            return win[rows, iy, ix]

        step = _dark_udp_step(
            at(0, 0), at(1, 0), at(-1, 0), at(0, 1), at(0, -1), at(1, 1), at(-1, -1)
        )
        out[sel[ok]] -= step[ok]
        fast[sel[~ok]] = False
    slow_samples = np.unique(np.flatnonzero(~fast) // k)
    if slow_samples.size:
        rows_all = (slow_samples[:, None] * k + np.arange(k)).ravel()
        full = gaussian_blur(heatmaps[slow_samples], kernel)
        np.clip(full, 1e-3, 50.0, out=full)
        padded = np.pad(np.log(full), ((0, 0), (0, 0), (1, 1), (1, 1)), mode="edge")
        padded = padded.reshape(slow_samples.size, -1)
        size = padded.shape[1]
        base = (
            x[rows_all]
            + 1
            + (y[rows_all] + 1) * (w + 2)
            + np.tile(np.arange(k), slow_samples.size) * (w + 2) * (h + 2)
        ).reshape(slow_samples.size, k)

        def at_flat(off: int) -> np.ndarray:
            return np.take_along_axis(padded, (base + off) % size, axis=1).ravel()

        step = _dark_udp_step(
            at_flat(0),
            at_flat(1),
            at_flat(-1),
            at_flat(w + 2),
            at_flat(-w - 2),
            at_flat(w + 3),
            at_flat(-w - 3),
        ).astype(np.float64)
        sub = ~fast[rows_all]
        out[rows_all[sub]] -= step[sub]
    return out.astype(np.float32).reshape(bsz, k, 2)


def refine_simcc_dark(locs: np.ndarray, simcc: np.ndarray, kernel: int) -> np.ndarray:
    """1-D DARK for SimCC: blur, clip [1e-3, 50], log, edge-pad 2, ``kp -= dx / dxx``.

    Args:
        locs: (...) maxima in bins (``-1`` for empty vectors).
        simcc: (..., L) vectors.
        kernel: odd blur kernel size.

    Returns:
        float32 (...) refined bins.
    """
    locs = np.asarray(locs, dtype=np.float32)
    simcc = np.asarray(simcc, dtype=np.float32)
    lead = locs.shape
    length = simcc.shape[-1]
    s = np.log(np.clip(gaussian_blur1d(simcc, kernel), 1e-3, 50.0)).reshape(-1, length)
    s = np.pad(s, ((0, 0), (2, 2)), mode="edge")
    px = (locs.reshape(-1) + 2.5).astype(np.int64)[:, None]
    n = s.shape[1]

    def at(off: int) -> np.ndarray:
        return np.take_along_axis(s, (px + off) % n, axis=1)[:, 0]

    dx = 0.5 * (at(1) - at(-1))
    dxx = 1e-9 + 0.25 * (at(2) - 2 * at(0) + at(-2))
    return (locs.reshape(-1) - dx / dxx).astype(np.float32).reshape(lead)


def refine_simcc_expectation(
    locs: np.ndarray, simcc: np.ndarray, beta: float, radius: float
) -> np.ndarray:
    """Local soft-argmax for SimCC: the mean bin of ``softmax(beta · simcc)`` restricted to
    bins within ``radius`` of each maximum (so a second mode far away cannot pull it).

    Args:
        locs: (...) maxima in bins (``-1`` for empty vectors, returned unchanged).
        simcc: (..., L) vectors (logits, as the KL loss with temperature ``beta`` sees them).
        beta: softmax temperature factor.
        radius: half-width of the window, in bins.

    Returns:
        float32 (...) refined bins.
    """
    locs = np.asarray(locs, dtype=np.float32)
    logits = np.asarray(simcc, dtype=np.float64) * beta
    bins = np.arange(logits.shape[-1], dtype=np.float64)
    inside = np.abs(bins - locs[..., None]) <= radius
    logits = np.where(inside, logits, -np.inf)
    peak = logits.max(-1, keepdims=True)
    weights = np.exp(logits - np.where(np.isfinite(peak), peak, 0.0))
    total = weights.sum(-1)
    mean = (weights * bins).sum(-1) / np.where(total > 0, total, 1.0)
    return np.where((locs >= 0) & (total > 0), mean, locs).astype(np.float32)
