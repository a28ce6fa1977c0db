"""``curves.png`` (matplotlib): training curves and the per-keypoint errors.

``curves.png`` reads the records of ``metrics.jsonl`` (:mod:`posecli.engine.metrics_log`; the
record kind is ``mode`` or ``type``: ``train``, ``epoch`` (per-epoch summary) or ``val``).
Panels: the training losses (every key starting with ``loss``), the learning rate (log scale),
one per validation metric; the x axis is epochs (a training line at iteration ``i`` of epoch
``e`` sits at ``e - 1 + i / n``, ``n`` the epoch's last logged iteration).
Below them, across the figure: the mean pixel error of each keypoint at the latest
validation (the ``keypoint_errors`` of its ``val`` record), worst keypoints in red.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from posecli.engine.metrics_log import read_metrics

__all__ = ["collect_series", "draw_curves", "keypoint_error_bars", "latest_keypoint_errors"]

Series = dict[str, tuple[np.ndarray, np.ndarray]]
_SKIP = {"mode", "type", "epoch", "step", "iter", "time", "data_time", "eta", "memory"}


def _kind(rec: Mapping[str, Any]) -> Any:
    return rec.get("mode", rec.get("type"))


def _x(rec: Mapping[str, Any], last_iter: Mapping[float, float]) -> float:
    epoch = float(rec["epoch"])
    if _kind(rec) == "train" and "iter" in rec and last_iter.get(epoch):
        return epoch - 1.0 + float(rec["iter"]) / last_iter[epoch]
    return epoch


def collect_series(records: Sequence[Mapping[str, Any]]) -> list[tuple[str, Series]]:
    """Group records into panels ``(title, {name: (x, values)})``, non-finite values dropped."""
    last_iter: dict[float, float] = {}
    for rec in records:
        if _kind(rec) == "train" and "iter" in rec and "epoch" in rec:
            e = float(rec["epoch"])
            last_iter[e] = max(last_iter.get(e, 0.0), float(rec["iter"]))
    loss: dict[str, list[tuple[float, float]]] = {}
    lr: dict[str, list[tuple[float, float]]] = {}
    val: dict[str, list[tuple[float, float]]] = {}
    for rec in records:
        if "epoch" not in rec:
            continue
        x = _x(rec, last_iter)
        for key, value in rec.items():
            if key in _SKIP or not isinstance(value, int | float) or isinstance(value, bool):
                continue
            if not math.isfinite(float(value)):
                continue
            if _kind(rec) == "val":
                target = val
            elif key.startswith("loss"):
                target = loss
                if _kind(rec) == "epoch":  # per-epoch summary lines
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


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def latest_keypoint_errors(
    records: Sequence[Mapping[str, Any]],
) -> tuple[int, dict[str, float | None]] | None:
    """``(epoch, {keypoint: mean px error})`` of the last ``val`` record holding them."""
    for rec in reversed(records):
        errors = rec.get("keypoint_errors")
        if _kind(rec) == "val" and isinstance(errors, Mapping) and errors:
            return int(rec.get("epoch") or 0), dict(errors)
    return None


def draw_curves(metrics_path: str | Path, out_path: str | Path | None = None) -> Path:
    """Draw ``curves.png`` next to (or at ``out_path`` for) a ``metrics.jsonl``.

    Line panels two per row; below them, across the figure, the per-keypoint error bars of the
    latest validation (when its record holds ``keypoint_errors``).

    Returns:
        The written image path (a panel says "no metrics yet" when there is nothing to draw).
    """
    from matplotlib.ticker import MaxNLocator

    plt = _pyplot()
    metrics_path = Path(metrics_path)
    out = Path(out_path) if out_path is not None else metrics_path.with_name("curves.png")
    records = read_metrics(metrics_path)
    panels = collect_series(records)
    errors = latest_keypoint_errors(records)
    n = max(1, len(panels))
    cols = 1 if n == 1 else 2
    rows = math.ceil(n / cols)
    heights = [3.8] * rows + ([4.2] if errors else [])
    fig = plt.figure(figsize=(6.4 * cols, sum(heights)))
    grid = fig.add_gridspec(len(heights), cols, height_ratios=heights)
    axes = [fig.add_subplot(grid[i // cols, i % cols]) for i in range(n)]
    for ax, (title, series) in zip(axes, panels, strict=False):
        for name, (x, y) in series.items():
            order = np.argsort(x, kind="stable")
            ax.plot(x[order], y[order], marker="o" if len(x) < 30 else None, ms=3, label=name)
        ax.set_title(title, fontsize=11)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True, nbins=8))
        if title == "learning rate" and all((y > 0).all() for _, y in series.values()):
            ax.set_yscale("log")
        ax.grid(alpha=0.3)
        ax.margins(x=0.06, y=0.14)
        ax.legend(fontsize=8, loc="best", frameon=False)
        if title.startswith("validation"):
            _mark_best(ax, title.removeprefix("validation "), *next(iter(series.values())))
    if not panels:
        axes[0].text(0.5, 0.5, "no metrics yet", ha="center", va="center", fontsize=14)
        axes[0].axis("off")
    if errors:
        epoch, by_name = errors
        values = np.array([np.nan if v is None else float(v) for v in by_name.values()])
        keypoint_error_bars(
            fig.add_subplot(grid[rows, :]), list(by_name), values, title=f"epoch {epoch}"
        )
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out


def _mark_best(ax: Any, name: str, x: np.ndarray, y: np.ndarray) -> None:
    """Annotate the best value of a validation metric (lowest for errors and losses)."""
    from posecli.engine.trainer import best_rule

    i = int(np.argmin(y) if best_rule(name, None) == "less" else np.argmax(y))
    ax.annotate(
        f"best {y[i]:.4g} @ {x[i]:g}",
        (x[i], y[i]),
        textcoords="offset points",
        xytext=(0, 8),
        ha="left" if i == 0 else "right" if i == len(x) - 1 else "center",
        fontsize=8,
        annotation_clip=False,
    )


def keypoint_error_bars(
    ax: Any, names: Sequence[str], errors: np.ndarray, *, title: str = ""
) -> None:
    """Bars of the mean error (pixels) of each keypoint on ``ax``, the worst three in red.

    Args:
        ax: A matplotlib axes.
        names: The K keypoint names (x axis, in keypoint order).
        errors: ``(K,)`` mean pixel errors (NaN: keypoint never labelled; drawn as "n/a").
        title: Appended to the panel title (e.g. ``epoch 60``).
    """
    errors = np.asarray(errors, np.float64).reshape(-1)
    k = len(errors)
    shown = np.nan_to_num(errors, nan=0.0)
    ranked = np.argsort(-np.where(np.isnan(errors), -np.inf, errors), kind="stable")
    worst = set(ranked[: min(3, k)].tolist())
    x = np.arange(k)
    ax.bar(x, shown, color=["#d62728" if i in worst else "#1f77b4" for i in range(k)])
    size = 8 if k <= 30 else 6 if k <= 70 else 4
    ax.set_xticks(x, labels=list(names), rotation=60, ha="right", fontsize=size)
    ax.set_xlim(-0.6, k - 0.4)
    finite = np.isfinite(errors)
    if k <= 40:
        for i in x:
            label = f"{errors[i]:.1f}" if finite[i] else "n/a"
            ax.text(i, shown[i], label, ha="center", va="bottom", fontsize=7)
    if finite.any():
        mean = float(errors[finite].mean())
        ax.axhline(mean, color="0.4", ls="--", lw=1, label=f"mean over keypoints {mean:.2f} px")
        ax.legend(fontsize=8, loc="upper right", frameon=False)
        ax.set_ylim(0, float(errors[finite].max()) * 1.18 or 1.0)
    ax.set_ylabel("mean error (px, image)")
    ax.set_title("per-keypoint error" + (f", {title}" if title else ""), fontsize=11)
    ax.grid(axis="y", alpha=0.3)
