"""Options of the SimCC heads: the RTMCC auxiliary heatmap loss and the unbiased flip test."""

from __future__ import annotations

import pytest
import torch

from posecli.codecs import build as build_codec
from posecli.errors import BuildError
from posecli.plugins import registry


def _head(weight: float) -> torch.nn.Module:
    return registry("heads").build(
        "rtmcc_head",
        in_channels=8,
        out_channels=3,
        input_size=(64, 64),
        in_featuremap_size=(8, 8),
        aux_heatmap_weight=weight,
    )


def _batch() -> dict[str, torch.Tensor]:
    codec = build_codec("simcc", input_size=(64, 64), sigma=3.0, normalize=False)
    kps = torch.tensor([[[10.0, 20.0], [40.0, 30.0], [60.0, 5.0]]]).numpy()
    enc = codec.encode(kps)
    return {
        "keypoint_x_labels": torch.from_numpy(enc["keypoint_x_labels"]),
        "keypoint_y_labels": torch.from_numpy(enc["keypoint_y_labels"]),
        "keypoint_weights": torch.from_numpy(enc["keypoint_weights"]),
    }


def test_weight_zero_is_mmposes_loss() -> None:
    torch.manual_seed(0)
    head = _head(0.0)
    feats = (torch.randn(1, 8, 8, 8),)
    losses = head.loss(feats, _batch())
    assert set(losses) == {"loss", "loss_kpt"}
    assert torch.equal(losses["loss"], head.loss_from_outputs(head(feats), _batch())["loss"])


def test_aux_loss_is_added_and_trains_the_final_layer() -> None:
    torch.manual_seed(0)
    head = _head(1.0)
    feats = (torch.randn(1, 8, 8, 8),)
    losses = head.loss(feats, _batch())
    assert losses["loss"].item() == pytest.approx(
        (losses["loss_kpt"] + losses["loss_aux_heatmap"]).item(), rel=1e-6
    )
    losses["loss"].backward()
    assert head.final_layer.weight.grad is not None
    assert head.final_layer.weight.grad.abs().sum() > 0


def test_aux_target_prefers_maps_peaked_at_the_keypoints() -> None:
    head = _head(1.0)
    batch = _batch()
    # maps peaked on the right cells (64 px / 8 cells: keypoint (10, 20) → cell (1, 2))
    good = torch.full((1, 3, 8, 8), -5.0)
    for k, (x, y) in enumerate([(10, 20), (40, 30), (60, 5)]):
        good[0, k, y // 8, x // 8] = 5.0
    bad = good.flip(-1)
    assert head._aux_heatmap_loss(good, batch) < head._aux_heatmap_loss(bad, batch)


def test_negative_weight_is_refused() -> None:
    with pytest.raises(BuildError, match="aux_heatmap_weight must be >= 0"):
        _head(-1.0)


def test_simcc_flip_shift_removes_the_half_pixel_flip_bias() -> None:
    """A symmetric peak at x flips back to x + 0.5 px (MMPose); the shift option restores x."""
    from posecli.recipe.schema import TestConfig

    head = _head(0.0)
    ratio, width = 2.0, 64
    bins = torch.arange(int(width * ratio), dtype=torch.float32)
    x = 20.25  # keypoint x in input pixels
    flipped_x = width - 1 - x  # where the flipped input shows it
    logits = -((bins - flipped_x * ratio) ** 2) / 8.0  # a peak at the flipped position
    outputs = (logits.repeat(1, 3, 1), torch.zeros(1, 3, 128))

    def peak_px(cfg: TestConfig) -> float:
        back_x, _ = head.flip_back(outputs, [0, 1, 2], cfg)
        probs = torch.softmax(back_x[0, 0], -1)
        return float((probs * bins).sum() / ratio)

    assert peak_px(TestConfig()) == pytest.approx(x + 0.5, abs=1e-3)
    assert peak_px(TestConfig(simcc_flip_shift=True)) == pytest.approx(x, abs=1e-3)
