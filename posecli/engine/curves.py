"""``curves.png``: training loss, learning rate and validation metrics against epoch.

Reads the records of ``metrics.jsonl`` (:mod:`posecli.engine.metrics_log`; the record kind is
``mode`` or ``type``: ``train``, ``epoch`` (per-epoch summary) or ``val``). Panels: one for the
training losses (every key starting with ``loss``), one for ``lr``, one per validation metric. Drawn with matplotlib when it is installed (``backend="auto"``), else with OpenCV.
"""

from __future__ import annotations

import importlib.util
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from posecli.engine.metrics_log import read_metrics

__all__ = ["collect_series", "draw_curves"]

Series = dict[str, tuple[np.ndarray, np.ndarray]]
_SKIP = {"mode", "type", "epoch", "step", "iter", "time", "data_time", "eta", "memory"}
_COLOURS = [
    (180, 119, 31),
    (14, 127, 255),
    (44, 160, 44),
    (40, 39, 214),
    (189, 103, 148),
    (75, 86, 140),
    (194, 119, 227),
    (127, 127, 127),
]  # fmt: skip  (BGR, tab10)
_PANEL_W, _PANEL_H = 560, 340
_MARGIN = (72, 18, 34, 40)  # left, right, top, bottom


def collect_series(records: Sequence[Mapping[str, Any]]) -> list[tuple[str, Series]]:
    """Group records into panels ``(title, {name: (epochs, values)})``, non-finite values dropped."""
    loss: dict[str, list[tuple[float, float]]] = {}
    lr: dict[str, list[tuple[float, float]]] = {}
    val: dict[str, list[tuple[float, float]]] = {}
    for rec in records:
        if "epoch" not in rec:
            continue
        x = float(rec["epoch"])
        for key, value in rec.items():
            if key in _SKIP or not isinstance(value, int | float) or isinstance(value, bool):
                continue
            if not math.isfinite(float(value)):
                continue
            if rec.get("mode", rec.get("type")) == "val":
                target = val
            elif key.startswith("loss"):
                target = loss
                if rec.get("mode", rec.get("type")) == "epoch":  # per-epoch summary lines
                    key = f"{key} (epoch mean)"
            elif key == "lr":
                target = lr
            else:
                continue
            target.setdefault(key, []).append((x, float(value)))

    def arrays(d: dict[str, list[tuple[float, float]]]) -> Series:
        return {k: (np.array([p[0] for p in v]), np.array([p[1] for p in v])) for k, v in d.items()}

    panels: list[tuple[str, Series]] = []
    if loss:
        panels.append(("training loss", arrays(loss)))
    if lr:
        panels.append(("learning rate", arrays(lr)))
    panels.extend((f"validation {k}", arrays({k: v})) for k, v in val.items())
    return panels


def draw_curves(
    metrics_path: str | Path, out_path: str | Path | None = None, backend: str = "auto"
) -> Path:
    """Draw ``curves.png`` next to (or at ``out_path`` for) a ``metrics.jsonl``.

    Args:
        metrics_path: The ``metrics.jsonl`` file.
        out_path: Image path; default ``curves.png`` in the same directory.
        backend: ``auto`` (matplotlib if installed), ``matplotlib`` or ``opencv``.

    Returns:
        The written image path (a blank panel says so when there is nothing to draw).
    """
    metrics_path = Path(metrics_path)
    out = Path(out_path) if out_path is not None else metrics_path.with_name("curves.png")
    panels = collect_series(read_metrics(metrics_path))
    use_mpl = backend == "matplotlib" or (
        backend == "auto" and importlib.util.find_spec("matplotlib") is not None
    )
    if use_mpl:
        _draw_matplotlib(panels, out)
    else:
        canvas = _draw_opencv(panels)
        out.parent.mkdir(parents=True, exist_ok=True)
        if not cv2.imwrite(str(out), canvas):
            raise OSError(f"{out}: cannot write image")
    return out


def _draw_matplotlib(panels: list[tuple[str, Series]], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    n = max(1, len(panels))
    cols = 1 if n == 1 else 2
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(6 * cols, 3.6 * rows), squeeze=False)
    for ax in axes.flat[len(panels) :]:
        ax.axis("off")
    for ax, (title, series) in zip(axes.flat, panels, strict=False):
        for name, (x, y) in series.items():
            ax.plot(x, y, marker="o" if len(x) < 30 else None, label=name)
        ax.set_title(title)
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    if not panels:
        axes.flat[0].text(0.5, 0.5, "no metrics yet", ha="center")
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=100)
    plt.close(fig)


def _draw_opencv(panels: list[tuple[str, Series]]) -> np.ndarray:
    n = max(1, len(panels))
    cols = 1 if n == 1 else 2
    rows = math.ceil(n / cols)
    canvas = np.full((rows * _PANEL_H, cols * _PANEL_W, 3), 255, np.uint8)
    if not panels:
        cv2.putText(
            canvas,
            "no metrics yet",
            (20, _PANEL_H // 2),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.7,
            (0, 0, 0),
            1,
            cv2.LINE_AA,
        )
    for i, (title, series) in enumerate(panels):
        r, c = divmod(i, cols)
        view = canvas[r * _PANEL_H : (r + 1) * _PANEL_H, c * _PANEL_W : (c + 1) * _PANEL_W]
        _panel(view, title, series)
    return canvas


def _ticks(lo: float, hi: float, n: int = 5) -> np.ndarray:
    return np.linspace(lo, hi, n)


def _range(values: np.ndarray) -> tuple[float, float]:
    lo, hi = float(values.min()), float(values.max())
    if hi - lo < 1e-12:
        pad = abs(lo) * 0.1 or 1.0
        return lo - pad, hi + pad
    pad = (hi - lo) * 0.05
    return lo - pad, hi + pad


def _fmt(v: float) -> str:
    return f"{v:.2e}" if v != 0 and (abs(v) < 1e-2 or abs(v) >= 1e4) else f"{v:.3g}"


def _panel(view: np.ndarray, title: str, series: Series) -> None:
    font, black, grey = cv2.FONT_HERSHEY_SIMPLEX, (0, 0, 0), (220, 220, 220)
    h, w = view.shape[:2]
    left, right, top, bottom = _MARGIN
    x0, x1, y0, y1 = left, w - right, top, h - bottom
    xs = np.concatenate([s[0] for s in series.values()])
    ys = np.concatenate([s[1] for s in series.values()])
    xlo, xhi = _range(xs)
    if xs.min() >= 0:
        xlo = max(xlo, 0.0)  # epochs start at 0
    ylo, yhi = _range(ys)

    def px(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        u = x0 + (x - xlo) / (xhi - xlo) * (x1 - x0)
        v = y1 - (y - ylo) / (yhi - ylo) * (y1 - y0)
        return np.stack([u, v], axis=-1).round().astype(np.int32)

    for t in _ticks(ylo, yhi).tolist():
        v = round(y1 - (t - ylo) / (yhi - ylo) * (y1 - y0))
        cv2.line(view, (x0, v), (x1, v), grey, 1)
        cv2.putText(view, _fmt(t), (4, v + 4), font, 0.38, black, 1, cv2.LINE_AA)
    for t in _ticks(xlo, xhi).tolist():
        u = round(x0 + (t - xlo) / (xhi - xlo) * (x1 - x0))
        cv2.line(view, (u, y0), (u, y1), grey, 1)
        cv2.putText(view, f"{t:.3g}", (u - 12, y1 + 16), font, 0.38, black, 1, cv2.LINE_AA)
    cv2.rectangle(view, (x0, y0), (x1, y1), black, 1)
    cv2.putText(view, title, (x0, 22), font, 0.55, black, 1, cv2.LINE_AA)
    cv2.putText(view, "epoch", ((x0 + x1) // 2 - 20, h - 6), font, 0.42, black, 1, cv2.LINE_AA)
    for j, (name, (x, y)) in enumerate(series.items()):
        colour = _COLOURS[j % len(_COLOURS)]
        order = np.argsort(x, kind="stable")
        pts = px(x[order], y[order])
        if len(pts) > 1:
            cv2.polylines(view, [pts.reshape(-1, 1, 2)], False, colour, 2, cv2.LINE_AA)
        if len(pts) < 30:
            for p in pts:
                cv2.circle(view, (int(p[0]), int(p[1])), 3, colour, -1, cv2.LINE_AA)
        ly = y0 + 16 + 16 * j
        cv2.line(view, (x1 - 120, ly - 4), (x1 - 100, ly - 4), colour, 2)
        cv2.putText(view, name[:16], (x1 - 95, ly), font, 0.4, black, 1, cv2.LINE_AA)
