"""PoseModel: tensor mode, loss, predict back to image pixels, flip test, channels-last, fusion."""

from __future__ import annotations

import torch
from torch import nn

from posecli.api import build_model
from posecli.models.pose_model import PoseModel, to_image_space
from posecli.plugins import registry
from posecli.recipe import load_recipe
from posecli.recipe.schema import TestConfig

from .conftest import COCO_META, RECIPES


class _Pointwise(nn.Module):
    """A flip-equivariant toy backbone (1×1 convs only), stride 1."""

    out_channels = [8]
    strides = [1]

    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Conv2d(3, 8, 1), nn.ReLU(), nn.Conv2d(8, 8, 1))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return (self.net(x),)


def _heatmap_model(flip: list[int], shift: bool) -> PoseModel:
    head = registry("heads").build(
        "heatmap_head", in_channels=8, out_channels=3, deconv_out_channels=None
    )
    codec = registry("codecs").build(
        "msra_heatmap", input_size=(32, 32), heatmap_size=(32, 32), sigma=2.0
    )
    return PoseModel(
        _Pointwise(),
        head,
        codec=codec,
        flip_indices=flip,
        test_cfg=TestConfig(flip_test=True, shift_heatmap=shift),
    ).eval()


def test_flip_test_on_equivariant_model_equals_plain_pass() -> None:
    """With a flip-equivariant network and identity flip indices, flip test changes nothing
    (no shift); with ``shift_heatmap`` the flipped half moves one pixel right."""
    model = _heatmap_model([0, 1, 2], shift=False)
    images = torch.rand(2, 3, 32, 32) * 255
    plain = model.predict_outputs(images, flip_test=False)
    merged = model.predict_outputs(images, [0, 1, 2], flip_test=True)
    assert torch.allclose(merged, plain, atol=1e-5)
    shifted = _heatmap_model([0, 1, 2], shift=True)
    shifted.load_state_dict(model.state_dict())
    merged = shifted.predict_outputs(images, [0, 1, 2], flip_test=True)
    moved = torch.cat((plain[..., :1], plain[..., :-1]), dim=-1)
    assert torch.allclose(merged, 0.5 * (plain + moved), atol=1e-5)


def test_flip_test_swaps_left_right_channels_on_mirrored_input() -> None:
    """A mirror-symmetric image: channel 1 of the flipped pass must land on channel 2."""
    model = _heatmap_model([0, 2, 1], shift=False)
    half = torch.rand(1, 3, 32, 16) * 255
    images = torch.cat((half, half.flip(-1)), dim=-1)  # symmetric about the vertical axis
    plain = model.predict_outputs(images, flip_test=False)
    merged = model.predict_outputs(images, [0, 2, 1], flip_test=True)
    expected = 0.5 * (plain + plain.flip(-1)[:, [0, 2, 1]])
    assert torch.allclose(merged, expected, atol=1e-5)
    assert torch.allclose(merged[:, 0], merged[:, 0].flip(-1), atol=1e-5)


def test_rtmpose_tensor_mode_loss_predict_and_symmetry() -> None:
    recipe = load_recipe(RECIPES / "rtmpose-t.toml", ["model.channels_last=false"])
    model = build_model(
        recipe, {"num_keypoints": 17, "flip_indices": list(range(17))}, pretrained=False
    )
    half = torch.rand(2, 3, 256, 96) * 255
    images = torch.cat((half, half.flip(-1)), dim=-1)
    model.eval()
    x, y = model(images)
    assert x.shape == (2, 17, 384) and y.shape == (2, 17, 512)
    fx, fy = model(images.flip(-1))
    assert torch.allclose(x, fx, atol=1e-4) and torch.allclose(y, fy, atol=1e-4)
    mx, _ = model.predict_outputs(images)
    assert torch.allclose(mx, mx.flip(-1), atol=1e-4)  # merged x profile is mirror-symmetric

    batch = {
        "inputs": images,
        "input_center": torch.tensor([[100.0, 200.0], [50.0, 60.0]]),
        "input_scale": torch.tensor([[192.0, 256.0], [96.0, 128.0]]),
    }
    kp, scores = model.predict(batch)
    assert kp.shape == (2, 17, 2) and scores.shape == (2, 17)
    kp_in, _ = model.head.decode(model.predict_outputs(images), model.codec)
    assert torch.allclose(kp[1], kp_in[1] / 2 + torch.tensor([50.0 - 48.0, 60.0 - 64.0]))

    model.train()
    targets = model.codec.encode(torch.rand(1, 17, 2).numpy() * 150, None)
    batch = {
        "inputs": images,
        "keypoint_x_labels": torch.as_tensor(targets["keypoint_x_labels"]).expand(2, -1, -1),
        "keypoint_y_labels": torch.as_tensor(targets["keypoint_y_labels"]).expand(2, -1, -1),
        "keypoint_weights": torch.as_tensor(targets["keypoint_weights"]).expand(2, -1),
    }
    losses = model.loss(batch)
    losses["loss"].backward()
    assert model.head.cls_x.weight.grad is not None


def test_to_image_space_matches_reference_formula() -> None:
    kp = torch.tensor([[[96.0, 128.0], [0.0, 0.0]]])
    out = to_image_space(
        kp, 192, 256, torch.tensor([[300.0, 400.0]]), torch.tensor([[96.0, 128.0]])
    )
    assert torch.allclose(out, torch.tensor([[[300.0, 400.0], [252.0, 336.0]]]))


def test_uint8_input_channels_last_and_fused_model_agree() -> None:
    recipe = load_recipe(RECIPES / "rtmpose-t.toml", ["model.channels_last=false"])
    model = build_model(recipe, COCO_META, pretrained=False).eval()
    images = (torch.rand(1, 3, 128, 96) * 255).to(torch.uint8)
    recipe_small = load_recipe(
        RECIPES / "rtmpose-t.toml",
        [
            "model.channels_last=false",
            "model.head.in_featuremap_size=[3, 4]",
            "model.head.input_size=[96, 128]",
        ],
    )
    model = build_model(recipe_small, COCO_META, pretrained=False).eval()
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_var.uniform_(0.5, 2.0)
                m.running_mean.uniform_(-0.2, 0.2)
        ref = model(images)
        assert torch.allclose(model(images.float())[0], ref[0])
        model.set_channels_last(True)
        cl = model(images)
        model.fuse()
        fused = model(images)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in model.modules())
    for a, b, c in zip(ref, cl, fused, strict=True):
        assert torch.allclose(a, b, atol=1e-4)
        assert torch.allclose(a, c, atol=1e-3)
