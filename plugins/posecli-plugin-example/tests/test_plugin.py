"""Tests of the example plugin itself (run with the plugin installed)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from posecli_plugin_example.backbone import TinyConvNet
from posecli_plugin_example.codec import SoftArgmaxHeatmap


def test_codec_round_trip_within_half_pixel() -> None:
    codec = SoftArgmaxHeatmap(input_size=(192, 256), heatmap_size=(48, 64), sigma=2.0)
    rng = np.random.default_rng(1)
    kps = rng.uniform(32, 160, (1, 17, 2)).astype(np.float32)  # gaussian ±4σ inside the map
    encoded = codec.encode(kps)
    assert encoded["heatmaps"].shape == (17, 64, 48)
    decoded, scores = codec.decode(encoded["heatmaps"])
    assert np.abs(decoded - kps).max() < 0.01
    assert scores.shape == (1, 17)


def test_codec_zeroes_weight_outside() -> None:
    codec = SoftArgmaxHeatmap(input_size=(192, 256), heatmap_size=(48, 64))
    kps = np.array([[[10.0, 10.0], [500.0, 10.0]]], np.float32)
    encoded = codec.encode(kps)
    assert encoded["keypoint_weights"].tolist() == [[1.0, 0.0]]
    assert encoded["heatmaps"][1].max() == 0


def test_codec_rejects_bad_sigma() -> None:
    with pytest.raises(ValueError, match="sigma must be positive"):
        SoftArgmaxHeatmap((192, 256), (48, 64), sigma=0)


def test_backbone_declares_its_shapes() -> None:
    net = TinyConvNet(out_indices=(2, 3))
    feats = net(torch.zeros(2, 3, 64, 64))
    assert [f.shape[1] for f in feats] == net.out_channels == [64, 128]
    assert [64 // f.shape[-1] for f in feats] == net.strides == [16, 32]


def test_registered_through_posecli() -> None:
    from posecli.plugins import PluginManager

    manager = PluginManager(autoload=True)
    assert manager.registry("codecs").get("softargmax_heatmap").plugin == "posecli-plugin-example"
    assert manager.registry("backbones").get("tiny_convnet").plugin == "posecli-plugin-example"
