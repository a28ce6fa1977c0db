"""Bottom-up heads: MMPose 1.3.2 state-dict names/shapes; the estimator's loss and predict."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from posecli.codecs.associative_embedding import AssociativeEmbedding
from posecli.codecs.decoupled_heatmap import DecoupledHeatmap
from posecli.codecs.spr import SPR
from posecli.data.collate import collate
from posecli.data.transforms.bottomup import BottomupGetHeatmapMask, BottomupRandomAffine
from posecli.data.transforms.target import GenerateTarget
from posecli.models.estimators.bottomup import BottomupPoseEstimator
from posecli.models.estimators.bottomup_check import synthetic_bottomup_sample
from posecli.models.heads.ae_head import AssociativeEmbeddingHead
from posecli.models.heads.cid_head import CIDHead
from posecli.models.heads.dekr_head import DEKRHead
from posecli.runtime.predictor import as_frame

K = 17


def test_dekr_head_keys_and_shapes_match_mmpose() -> None:
    head = DEKRHead(
        [32, 64, 128, 256],
        K,
        input_transform="resize_concat",
        input_index=[0, 1, 2, 3],
        rescore_cfg={"in_channels": 74, "norm_indexes": [5, 6]},
    )
    sd = {k: tuple(v.shape) for k, v in head.state_dict().items()}
    assert sd["heatmap_conv_layers.0.conv.weight"] == (32, 480, 1, 1)
    assert sd["heatmap_conv_layers.1.conv1.weight"] == (32, 32, 3, 3)
    assert sd["heatmap_conv_layers.2.weight"] == (18, 32, 1, 1)
    assert sd["displacement_conv_layers.0.conv.weight"] == (255, 480, 1, 1)
    assert sd["displacement_conv_layers.1.transform_matrix_conv.weight"] == (102, 15, 3, 3)
    assert sd["displacement_conv_layers.1.adapt_conv.weight"] == (255, 15, 3, 3)
    assert sd["displacement_conv_layers.2.regular_matrix"] == (3, 9)
    assert sd["displacement_conv_layers.3.weight"] == (34, 15, 1, 1)
    assert sd["rescore_net.l1.weight"] == (256, 74) and sd["rescore_net.l3.weight"] == (1, 256)


def test_cid_and_ae_head_keys_match_mmpose() -> None:
    cid = CIDHead(
        [32, 64, 128, 256], 32, K, input_transform="resize_concat", input_index=[0, 1, 2, 3]
    )
    sd = {k: tuple(v.shape) for k, v in cid.state_dict().items()}
    assert sd == {
        "iia_module.keypoint_root_conv.weight": (18, 480, 1, 1),
        "iia_module.keypoint_root_conv.bias": (18,),
        "gfd_module.conv_down.weight": (32, 480, 1, 1),
        "gfd_module.conv_down.bias": (32,),
        "gfd_module.channel_attention.atn.weight": (32, 480),
        "gfd_module.channel_attention.atn.bias": (32,),
        "gfd_module.spatial_attention.atn.weight": (32, 480),
        "gfd_module.spatial_attention.atn.bias": (32,),
        "gfd_module.spatial_attention.conv.weight": (1, 3, 5, 5),
        "gfd_module.spatial_attention.conv.bias": (1,),
        "gfd_module.fuse_attention.weight": (32, 64, 1, 1),
        "gfd_module.fuse_attention.bias": (32,),
        "gfd_module.heatmap_conv.weight": (17, 32, 1, 1),
        "gfd_module.heatmap_conv.bias": (17,),
    }
    ae = AssociativeEmbeddingHead(32, K, deconv_out_channels=[])
    assert {k: tuple(v.shape) for k, v in ae.state_dict().items()} == {
        "final_layer.weight": (34, 32, 1, 1),
        "final_layer.bias": (34,),
    }


class _Tiny(nn.Module):
    """Stride-4 backbone returning two maps (stride 4 and 8)."""

    def __init__(self, maps: int = 2) -> None:
        super().__init__()
        self.maps = maps
        self.a = nn.Conv2d(3, 8, 4, 4)
        self.b = nn.Conv2d(8, 8, 2, 2)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        a = torch.relu(self.a(x))
        return (a, torch.relu(self.b(a)))[: self.maps]


def _model(method: str, k: int) -> tuple[BottomupPoseEstimator, object]:
    size = (64, 64)
    if method == "ae":
        codec = AssociativeEmbedding(size, (16, 16), sigma=2)
        head = AssociativeEmbeddingHead(8, k, deconv_out_channels=[])
    elif method == "dekr":
        codec = SPR(size, (16, 16), sigma=2, generate_keypoint_heatmaps=True)
        head = DEKRHead(
            [8, 8],
            k,
            num_displacement_filters_per_keypoint=2,
            input_transform="resize_concat",
            input_index=[0, 1],
        )
    else:
        codec = DecoupledHeatmap(size, (16, 16))
        head = CIDHead([8, 8], 8, k, input_transform="resize_concat", input_index=[0, 1])
    flip = list(range(k))
    backbone = _Tiny(1 if method == "ae" else 2)
    return BottomupPoseEstimator(
        backbone, head, codec=codec, num_keypoints=k, flip_indices=flip
    ), codec


@pytest.mark.parametrize("method", ["ae", "dekr", "cid"])
def test_estimator_trains_and_predicts_with_flip(method: str) -> None:
    torch.manual_seed(0)
    k = 4
    model, codec = _model(method, k)
    rng = np.random.default_rng(0)
    steps = [BottomupRandomAffine((64, 64)), GenerateTarget(codec), BottomupGetHeatmapMask()]
    samples = []
    for _ in range(2):
        s = synthetic_bottomup_sample(k, (64, 64))
        for step in steps:
            s = step(s, rng)
        samples.append(s)
    batch = collate(samples)
    model.train()
    losses = model.loss(batch)
    assert torch.isfinite(losses["loss"]) and losses["loss"].requires_grad
    losses["loss"].backward()
    model.eval()
    batch["input_center"] = torch.tensor([[32.0, 32.0]] * 2)
    batch["input_scale"] = torch.tensor([[128.0, 128.0]] * 2)
    kps, scores = model.predict_instances(batch)
    assert len(kps) == 2 and all(kp.shape[1:] == (k, 2) for kp in kps)
    assert all(s.shape == kp.shape[:2] for s, kp in zip(scores, kps, strict=True))
    flat, _ = model.predict(batch)
    assert flat.shape[0] == sum(len(kp) for kp in kps) == len(model.last_image_index)


def _ae_batch(model: BottomupPoseEstimator, aug_scales: list[float]) -> dict:
    """A validation batch of one synthetic two-instance image through ``bottomup_resize``."""
    from posecli.data.transforms.bottomup import BottomupResize

    sample = synthetic_bottomup_sample(4, (64, 64))
    sample["ori_shape"] = sample["img"].shape[:2]
    resize = BottomupResize((64, 64), size_factor=16, aug_scales=aug_scales)
    return collate([resize(sample, np.random.default_rng(0))])


def test_ae_multiscale_test_averages_the_scales_heatmaps() -> None:
    """MMPose's AE multi-scale test: heatmaps of every scale resized bilinearly to the first
    scale's and averaged; tags from the first scale only."""
    torch.manual_seed(0)
    model, _ = _model("ae", 4)
    model.eval()
    model.test_cfg = model.test_cfg.model_copy(update={"multiscale_test": True})
    batch = _ae_batch(model, [2.0])
    assert [tuple(x.shape) for x in batch["aug_inputs"]] == [(1, 3, 128, 128)]
    fi = [0, 1, 2, 3]
    heatmaps, tags = model._scale_outputs(batch, fi)
    plain_hm, plain_tags = model.predict_outputs(batch["inputs"], fi)
    big_hm = model.predict_outputs(batch["aug_inputs"][0], fi)[0]
    assert big_hm.shape[-1] == 2 * plain_hm.shape[-1]
    resized = nn.functional.interpolate(torch.from_numpy(big_hm), size=(16, 16), mode="bilinear")
    np.testing.assert_allclose(heatmaps, (plain_hm + resized.numpy()) / 2, atol=1e-6)
    np.testing.assert_array_equal(tags, plain_tags)
    # the same image at scale 1 twice: the mean is the single-scale heatmaps, same instances
    same = _ae_batch(model, [1.0])
    kps, scores = model.predict_instances(same)
    model.test_cfg = model.test_cfg.model_copy(update={"multiscale_test": False})
    del same["aug_inputs"]
    ref_kps, ref_scores = model.predict_instances(same)
    np.testing.assert_allclose(kps[0], ref_kps[0], atol=1e-4)
    np.testing.assert_allclose(scores[0], ref_scores[0], atol=1e-5)


def test_multiscale_test_config_and_pipeline_must_agree() -> None:
    model, _ = _model("ae", 4)
    model.eval()
    batch = _ae_batch(model, [1.5])
    with pytest.raises(ValueError, match="aug_scales is set but model.test.multiscale_test"):
        model.predict_instances(batch)
    model.test_cfg = model.test_cfg.model_copy(update={"multiscale_test": True})
    del batch["aug_inputs"]
    with pytest.raises(ValueError, match="needs bottomup_resize.aug_scales"):
        model.predict_instances(batch)
    dekr, _ = _model("dekr", 4)
    dekr.test_cfg = dekr.test_cfg.model_copy(update={"multiscale_test": True})
    with pytest.raises(ValueError, match="for AE heads only, not DEKRHead"):
        dekr.eval().predict_instances(_ae_batch(dekr, [1.5]))


def test_predictor_runs_the_multiscale_test_on_frames() -> None:
    """``posecli predict``'s bottom-up predictor passes every scale of the recipe's
    ``bottomup_resize`` to the model: scale 1 twice gives the single-scale instances, and a
    second scale changes them."""
    from types import SimpleNamespace

    from posecli.models.estimators.bottomup_predict import torch_bottomup_predictor

    def recipe(aug_scales: list[float] | None) -> SimpleNamespace:
        kwargs = {"size_factor": 16, "resize_mode": "expand", "aug_scales": aug_scales}
        step = SimpleNamespace(name="bottomup_resize", kwargs=kwargs)
        data = SimpleNamespace(val=SimpleNamespace(pipeline=[step]), test=None)
        return SimpleNamespace(data=data, input_size=(64, 64))

    torch.manual_seed(0)
    model, codec = _model("ae", 4)
    codec.decode_keypoint_thr = -1.0  # every peak of the untrained maps makes an instance
    image = synthetic_bottomup_sample(4, (64, 64))["img"]
    single = torch_bottomup_predictor(model, recipe(None)).predict_frame(as_frame(image, 0))
    assert len(single.keypoints) > 0
    model.test_cfg = model.test_cfg.model_copy(update={"multiscale_test": True})
    same = torch_bottomup_predictor(model, recipe([1.0])).predict_frame(as_frame(image, 0))
    np.testing.assert_allclose(same.keypoints, single.keypoints, atol=1e-4)
    np.testing.assert_allclose(same.keypoint_scores, single.keypoint_scores, atol=1e-5)
    other = torch_bottomup_predictor(model, recipe([2.0])).predict_frame(as_frame(image, 0))
    assert not np.allclose(other.keypoint_scores, single.keypoint_scores, atol=1e-5)
