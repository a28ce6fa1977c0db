"""metrics.jsonl writing/reading/rewinding and curves.png drawing."""

from __future__ import annotations

import json
import math
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from posecli.engine.curves import collect_series, draw_curves
from posecli.engine.metrics_log import MetricsLog, read_metrics, rewind_metrics


def _fill(path: Path) -> None:
    with MetricsLog(path) as log:
        step = 0
        for epoch in range(6):
            for it in range(4):
                step += 1
                loss = 2.0 * math.exp(-0.3 * (epoch + it / 4))
                log.log_train(
                    epoch=epoch + it / 4,
                    step=step,
                    loss=torch.tensor(loss),
                    loss_kpt=np.float32(loss / 2),
                    lr=1e-3 * (epoch + 1),
                )
            log.log_val(epoch=epoch + 1, step=step, PCK=0.5 + 0.08 * epoch, EPE=20.0 / (epoch + 1))


def test_lines_are_flushed_and_plain(tmp_path: Path) -> None:
    path = tmp_path / "run" / "metrics.jsonl"
    log = MetricsLog(path)
    written = log.write(
        {"mode": "train", "epoch": 0.5, "step": 1, "loss": float("nan"), "arr": np.arange(2)}
    )
    # readable before close: flushed at once
    assert (
        json.loads(path.read_text().splitlines()[0])
        == written
        == {"mode": "train", "epoch": 0.5, "step": 1, "loss": None, "arr": [0, 1]}
    )
    log.close()
    with pytest.raises(ValueError, match="closed"):
        log.write({"step": 2})


def test_torn_last_line_and_rewind(tmp_path: Path) -> None:
    path = tmp_path / "metrics.jsonl"
    _fill(path)
    with path.open("a") as f:
        f.write('{"mode": "train", "ep')  # a kill in the middle of a write
    records = read_metrics(path)
    assert len(records) == 6 * 5
    assert rewind_metrics(path, step=8) == 6 * 5 - 10
    assert [r["step"] for r in read_metrics(path)][-1] == 8
    assert read_metrics(tmp_path / "absent.jsonl") == []


def test_curves_png_has_content(tmp_path: Path) -> None:
    path = tmp_path / "metrics.jsonl"
    _fill(path)
    panels = dict(collect_series(read_metrics(path)))
    assert set(panels) == {"training loss", "learning rate", "validation PCK", "validation EPE"}
    assert set(panels["training loss"]) == {"loss", "loss_kpt"}
    out = draw_curves(path)
    assert out == tmp_path / "curves.png"
    img = cv2.imread(str(out))
    assert img is not None and img.shape[0] >= 300 and img.shape[1] >= 500
    not_white = (img < 250).any(axis=2)
    assert 0.02 < not_white.mean() < 0.6
    # the first series' colour (blue-ish, BGR 180,119,31) is drawn in every panel
    blue = np.all(np.abs(img.astype(int) - [180, 119, 31]) < 40, axis=2)
    h, w = img.shape[0] // 2, img.shape[1] // 2
    for panel in (blue[:h, :w], blue[:h, w:], blue[h:, :w], blue[h:, w:]):
        assert panel.sum() > 50
    # the loss curve falls: its pixels are higher (smaller row) on the left than on the right
    rows, cols = np.nonzero(blue[:h, :w])
    left, right = rows[cols < np.median(cols)].mean(), rows[cols >= np.median(cols)].mean()
    assert left < right


def test_curves_with_trainer_style_records_and_empty(tmp_path: Path) -> None:
    path = tmp_path / "metrics.jsonl"
    with MetricsLog(path) as log:
        log.write({"type": "train", "epoch": 1, "iter": 2, "step": 2, "loss": 1.0, "lr": 0.1})
        log.write({"type": "epoch", "epoch": 1, "step": 2, "loss": 0.9, "seconds": 3.0})
        log.write({"type": "val", "epoch": 1, "AUC": 0.4})
    panels = dict(collect_series(read_metrics(path)))
    assert set(panels["training loss"]) == {"loss", "loss (epoch mean)"}
    assert "validation AUC" in panels
    empty = tmp_path / "empty" / "metrics.jsonl"
    empty.parent.mkdir()
    empty.write_text("")
    img = cv2.imread(str(draw_curves(empty)))
    assert img is not None and (img < 128).any()  # says "no metrics yet"
