"""Options of the SimCC heads: the RTMCC auxiliary heatmap loss and the unbiased flip test."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from posecli.codecs import build as build_codec
from posecli.errors import BuildError
from posecli.plugins import registry


def _head(weight: float, heatmap_prior: bool = False) -> torch.nn.Module:
    return registry("heads").build(
        "rtmcc_head",
        in_channels=8,
        out_channels=3,
        input_size=(64, 64),
        in_featuremap_size=(8, 8),
        aux_heatmap_weight=weight,
        heatmap_prior=heatmap_prior,
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


def test_heatmap_prior_adds_the_log_marginals_over_beta() -> None:
    torch.manual_seed(0)
    plain, fused = _head(0.0), _head(0.0, heatmap_prior=True)
    fused.load_state_dict(plain.state_dict())
    feats = (torch.randn(2, 8, 8, 8),)
    maps = plain.final_layer(feats[0])
    prob = maps.flatten(2).softmax(-1).reshape(maps.shape)
    (px, py), (fx, fy) = plain(feats), fused(feats)
    # 128 bins over 8 cells: cell i's centre is at bin coordinate 16·i + 8 (bin j spans
    # [j, j+1)); in between, the marginals are interpolated linearly, clamped at the ends
    centres = 16.0 * np.arange(8) + 8.0
    for pred, base, marginal in ((fx, px, prob.sum(2)), (fy, py, prob.sum(3))):
        expected = np.stack(
            [np.interp(np.arange(128) + 0.5, centres, m) for m in marginal.detach().reshape(-1, 8)]
        )
        # shifted so that the maximum is beta · (the most likely cell's probability)
        peak = marginal.detach().reshape(-1, 8).max(-1, keepdims=True).values.numpy()
        expected = expected / expected.max(-1, keepdims=True) * np.exp(10.0 * peak)
        got = ((pred - base) * 10.0).exp().detach().reshape(-1, 128).numpy()
        assert np.allclose(got, expected, rtol=1e-4)


def test_heatmap_prior_places_the_simcc_peak_in_the_peaked_cell() -> None:
    """With a silent classifier, the decoded keypoint is the centre of the map's peak cell."""
    head = _head(0.0, heatmap_prior=True)
    torch.nn.init.zeros_(head.cls_x.weight)
    torch.nn.init.zeros_(head.cls_y.weight)
    maps = torch.full((1, 3, 8, 8), -8.0)
    maps[0, 0, 2, 1] = maps[0, 1, 3, 5] = maps[0, 2, 1, 6] = 8.0  # (y, x) cells of 8 px
    head.final_layer = torch.nn.Identity()  # the features are the maps
    codec = build_codec("simcc", input_size=(64, 64), sigma=3.0, normalize=False)
    simcc_x, simcc_y = (t.detach().numpy() for t in head((maps,)))
    keypoints, scores = codec.decode(simcc_x, simcc_y)
    np.testing.assert_allclose(keypoints[0], [[12, 20], [44, 28], [52, 12]], atol=0.5)
    # the score is the probability of the peak cell (here all of it) plus the silent classifier
    np.testing.assert_allclose(scores[0], 1.0, atol=1e-4)


def test_heatmap_prior_lets_the_simcc_loss_train_the_final_layer() -> None:
    torch.manual_seed(0)
    head = _head(0.0, heatmap_prior=True)
    losses = head.loss((torch.randn(1, 8, 8, 8),), _batch())
    assert set(losses) == {"loss", "loss_kpt"}
    losses["loss"].backward()
    assert head.final_layer.weight.grad is not None
    assert head.final_layer.weight.grad.abs().sum() > 0


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
