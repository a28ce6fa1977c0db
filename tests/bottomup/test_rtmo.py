"""RTMO: the head's MMPose 1.3.2 layout, DCC numerics, the yolox_pose codec, mixed-image
transforms and the estimator's loss → predict on real COCO instances."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from posecli.codecs.yolox_pose import YOLOXPoseAnnotationProcessor, box_nms
from posecli.data.transforms.bottomup import BottomupRandomAffine
from posecli.data.transforms.mix import Mosaic, YOLOXMixUp
from posecli.models.heads.rtmo_head import DCC, RTMOHead, bbox_xyxy_to_cs, grid_priors

K = 17
RTMO_S_HEAD = {
    "num_classes": 1,
    "in_channels": 256,
    "cls_feat_channels": 256,
    "channels_per_group": 36,
    "pose_vec_channels": 256,
    "widen_factor": 0.5,
    "stacked_convs": 2,
}
RTMO_S_DCC = {
    "in_channels": 256,
    "feat_channels": 128,
    "num_bins": (192, 256),
    "spe_channels": 128,
    "gau_cfg": {"s": 128, "expansion_factor": 2, "pos_enc": "add"},
}


def rtmo_s_head(**kw: object) -> RTMOHead:
    return RTMOHead(
        K,
        dict(RTMO_S_HEAD),
        dcc_cfg=dict(RTMO_S_DCC),
        assigner={"dynamic_k_indicator": "oks", "use_keypoints_for_center": True},
        overlaps_power=0.5,
        **kw,  # type: ignore[arg-type]
    )


def test_rtmo_s_head_keys_and_shapes_match_mmpose() -> None:
    sd = {k: tuple(v.shape) for k, v in rtmo_s_head().state_dict().items()}
    expected = {
        "head_module.conv_cls.0.0.conv.weight": (128, 128, 3, 3),
        "head_module.conv_cls.1.1.bn.running_var": (128,),
        "head_module.out_cls.0.weight": (1, 128, 1, 1),
        "head_module.conv_pose.0.0.conv.weight": (144, 128, 3, 3),
        "head_module.conv_pose.1.3.conv.weight": (144, 18, 3, 3),  # 8 groups of 18
        "head_module.out_bbox.1.weight": (4, 144, 1, 1),
        "head_module.out_kpt_reg.0.weight": (34, 144, 1, 1),
        "head_module.out_kpt_vis.0.weight": (17, 144, 1, 1),
        "head_module.out_pose.1.weight": (256, 144, 1, 1),
        "dcc.pos_enc": (17, 128),
        "dcc.gau.uv.weight": (640, 128),
        "dcc.gau.gamma": (2, 128),
        "dcc.gau.o.weight": (128, 256),
        "dcc.gau.ln.g": (1,),
        "dcc.gau.res_scale.scale": (128,),
        "dcc.pose_to_kpts.0.weight": (2176, 256),
        "dcc.pose_to_kpts.1.running_mean": (2176,),
        "dcc.x_fc.weight": (128, 128),
        "dcc.y_fc.bias": (128,),
        "dcc.sigma_fc.0.weight": (17, 256),
        "dcc.sigma_fc.2.scale": (),
        "dcc.x_bins": (192,),
        "dcc.y_bins": (256,),
        "dcc.spe.dim_t": (64,),
    }
    assert {k: sd.get(k) for k in expected} == expected
    assert not any(k.startswith("head_module.conv_pose.0.4") for k in sd)  # 2·stacked_convs
    assert not any("assigner" in k or "loss" in k for k in sd)


def test_grid_priors_are_centralized_row_major() -> None:
    p = grid_priors([(2, 3), (1, 2)], [16, 32], torch.device("cpu"))
    assert p.shape == (8, 4)
    assert p[:4].tolist() == [
        [7.5, 7.5, 16, 16],
        [23.5, 7.5, 16, 16],
        [39.5, 7.5, 16, 16],
        [7.5, 23.5, 16, 16],
    ]
    assert p[6].tolist() == [15.5, 15.5, 32, 32]


def test_dcc_decodes_one_hot_bins_to_their_positions() -> None:
    dcc = DCC(8, 2, 16, (5, 9), spe_channels=8)
    cs = bbox_xyxy_to_cs(torch.tensor([[10.0, 20.0, 50.0, 100.0]]), 1.25)
    assert cs.tolist() == [[30.0, 60.0, 50.0, 100.0]]
    x = torch.zeros(1, 2, 5)
    y = torch.zeros(1, 2, 9)
    x[0, 0, 0] = x[0, 1, 4] = 1  # x bins span [-0.5, 0.5]·50 about 30: 5 … 55
    y[0, 0, 4] = y[0, 1, 8] = 1  # y bins: 10 … 110
    assert dcc.decode(x, y, cs).tolist() == [[[5.0, 60.0], [55.0, 110.0]]]


def test_dcc_target_heatmaps_are_laplace_in_units_of_sqrt_area() -> None:
    dcc = DCC(8, 1, 16, (3, 3), spe_channels=8)
    cs = torch.tensor([[0.0, 0.0, 2.0, 2.0]])  # bins at -1, 0, 1
    hx, hy = dcc.target_heatmaps(
        torch.tensor([[[0.0, 1.0]]]), cs, torch.tensor([[0.5]]), torch.tensor([4.0])
    )
    # |d| / √area / σ / 2 with √area = 2, σ = 0.5: x at 0 → d = (1, 0, 1) → exp(-0.5) / 0.5
    assert torch.allclose(hx[0, 0], torch.tensor([math.exp(-0.5), 1.0, math.exp(-0.5)]) / 0.5)
    assert torch.allclose(hy[0, 0], torch.tensor([math.exp(-1.0), math.exp(-0.5), 1.0]) / 0.5)


def test_yolox_pose_codec_encodes_instances_and_decodes_with_nms() -> None:
    codec = YOLOXPoseAnnotationProcessor((64, 64), expand_bbox=True, score_thr=0.3, nms_thr=0.5)
    kp = np.array([[[5, 5], [30, 40]], [[40, 10], [50, 20]]], np.float32)
    vis = np.array([[1, 1], [1, 0]], np.float32)
    enc = codec.encode(kp, vis, bbox=np.array([[10, 10, 20, 20], [38, 8, 60, 30]]), category_id=1)
    assert enc["bboxes"].tolist() == [[5, 5, 30, 40], [38, 8, 60, 30]]
    assert enc["labels"].tolist() == [0, 0] and enc["areas"].tolist() == [875.0, 484.0]
    assert box_nms(
        np.array([[0, 0, 10, 10], [1, 1, 10, 10], [20, 20, 30, 30]]), np.array([0.9, 0.8, 0.7]), 0.5
    ).tolist() == [0, 2]
    scores = np.array([[0.9, 0.8, 0.2, 0.7]], np.float32)
    boxes = np.array([[[0, 0, 10, 10], [1, 1, 10, 10], [0, 0, 5, 5], [20, 20, 90, 30]]], np.float32)
    kps = np.arange(4 * 2 * 2, dtype=np.float32).reshape(1, 4, 2, 2)
    ks = np.full((1, 4, 2), 0.5, np.float32)
    out_kp, out_ks, out_box, out_s = codec.batch_decode(scores, boxes, kps, ks)
    assert out_ks[0].shape == (2, 2)
    assert out_s[0].tolist() == pytest.approx([0.9, 0.7])  # 0.8 suppressed, 0.2 below thr
    assert out_kp[0].tolist() == kps[0, [0, 3]].tolist()
    assert out_box[0][1].tolist() == [20, 20, 64, 30]  # clipped to the input


def _coco_like(n: int = 2) -> dict:
    kp = np.stack([np.array([[20, 20], [40, 60]], np.float32) + 50 * i for i in range(n)])
    return {
        "img": np.full((120, 160, 3), 50 * (1 + n), np.uint8),
        "keypoints": kp,
        "keypoints_visible": np.ones((n, 2), np.float32),
        "bbox": np.concatenate([kp.min(1), kp.max(1)], 1),
        "area": np.full(n, 800.0, np.float32),
        "bbox_score": np.ones(n, np.float32),
        "id": list(range(n)),
        "flip_indices": [1, 0],
    }


def test_mosaic_places_four_tiles_and_scales_their_instances() -> None:
    partner = _coco_like(1)
    sample = _coco_like(2)
    sample["mix_source"] = lambda rng: {
        k: (v.copy() if hasattr(v, "copy") else v) for k, v in partner.items()
    }
    m = Mosaic(img_scale=(80, 80), pre_transform=[])
    out = m(sample, np.random.default_rng(0))
    assert out["img"].shape == (160, 160, 3)
    assert len(out["keypoints"]) == 2 + 3 and len(out["id"]) == 5
    # each 120x160 image is scaled by min(80/120, 80/160) = 0.5: areas by 0.25
    assert out["area"].tolist() == [200.0] * 5
    seen = out["keypoints_visible"] > 0
    inside = (out["keypoints"] >= 0).all(-1) & (out["keypoints"] <= 160).all(-1)
    assert (seen <= inside).all()
    # the top-left tile ends at the mosaic centre: its instances keep their shape
    k0 = out["keypoints"][0]
    assert np.allclose(k0[1] - k0[0], [10, 20])


def test_mixup_blends_and_keeps_both_instance_sets() -> None:
    sample = _coco_like(2)
    partner = _coco_like(1)
    sample["mix_source"] = lambda rng: dict(partner)
    out = YOLOXMixUp(
        img_scale=(160, 120), ratio_range=(1.0, 1.0), flip_ratio=1.0, pre_transform=[]
    )(sample, np.random.default_rng(1))
    assert out["img"].dtype == np.uint8
    assert len(out["keypoints"]) == 3 and out["img"].shape == (120, 160, 3)
    assert out["area"].tolist() == [800.0, 800.0, 800.0]  # ratio 1: same size


def test_bottomup_affine_scales_areas_and_clips_to_the_input() -> None:
    t = BottomupRandomAffine(
        (80, 60),
        shift_prob=0,
        rotate_prob=0,
        scale_prob=0,
        clip_border=True,
        transform_mode="perspective",
        pad_val=114,
        distribution="uniform",
    )
    s = _coco_like(2)
    out = t(s, np.random.default_rng(0))
    assert out["img"].shape == (60, 80, 3)
    assert out["area"].tolist() == pytest.approx([200.0, 200.0])  # 160 → 80: ratio 0.5
    assert out["img"][0, 0].tolist() == [150, 150, 150]  # image, not padding
    with pytest.raises(ValueError, match="bbox_keep_corner"):
        BottomupRandomAffine((80, 60), bbox_keep_corner=True)


def test_rtmo_loss_and_predict_on_a_two_person_batch() -> None:
    torch.manual_seed(0)
    head = rtmo_s_head(nms_pre=20)
    feats = [torch.randn(2, 256, 8, 8), torch.randn(2, 256, 4, 4)]  # 128² input
    kp = torch.tensor([[[30.0, 30.0]] * K, [[90.0, 80.0]] * K]) + torch.linspace(0, 20, K)[:, None]
    batch = {
        "bboxes": [torch.tensor([[25.0, 25.0, 55.0, 55.0], [85.0, 75.0, 115.0, 105.0]])] * 2,
        "labels": [torch.zeros(2, dtype=torch.long)] * 2,
        "keypoints": [kp] * 2,
        "keypoints_visible": [torch.ones(2, K)] * 2,
        "areas": [torch.tensor([900.0, 900.0])] * 2,
    }
    head.train()
    losses = head.loss(feats, batch)
    assert losses["num_positives"] > 0
    for key in ("loss_cls", "loss_bbox", "loss_oks", "loss_vis", "loss_mle"):
        assert torch.isfinite(losses[key]) and losses[key] > 0, key
    losses["loss"].backward()
    assert head.dcc.x_fc.weight.grad is not None and head.dcc.x_fc.weight.grad.abs().sum() > 0
    head.proxy_target_cc = True
    assert torch.isfinite(head.loss(feats, batch)["loss"])
    head.eval()
    scores, boxes, kps, ks, idx = head(feats)
    assert idx.shape == (2, 20) and idx.max() < 8 * 8 + 4 * 4
    assert scores.shape == (2, 20) and boxes.shape == (2, 20, 4)
    assert kps.shape == (2, 20, K, 2) and ks.shape == (2, 20, K)
    assert (scores[:, :-1] >= scores[:, 1:]).all()  # the best candidates, in order


def test_rtmo_head_without_instances_gives_only_a_score_loss() -> None:
    head = rtmo_s_head()
    feats = [torch.randn(1, 256, 4, 4), torch.randn(1, 256, 2, 2)]
    batch = {
        "bboxes": [torch.zeros(0, 4)],
        "labels": [torch.zeros(0, dtype=torch.long)],
        "keypoints": [torch.zeros(0, K, 2)],
        "keypoints_visible": [torch.zeros(0, K)],
        "areas": [torch.zeros(0)],
    }
    losses = head.loss(feats, batch)
    assert losses["num_positives"] == 0 and losses["loss_bbox"] == 0
    assert losses["loss_cls"] > 0


def test_attribute_switch_sets_head_attributes_once_from_its_epoch() -> None:
    from types import SimpleNamespace

    from posecli.engine.builtin_callbacks import AttributeSwitchCallback
    from posecli.errors import PoseCliError

    head = rtmo_s_head()
    trainer = SimpleNamespace(model=SimpleNamespace(head=head), epoch=0)
    cb = AttributeSwitchCallback(
        {"2": {"head.proxy_target_cc": True, "head.loss_oks.loss_weight": 10}}
    )
    cb.on_train_start(trainer)  # type: ignore[arg-type]
    cb.on_epoch_start(trainer)  # type: ignore[arg-type]
    assert head.proxy_target_cc is False
    trainer.epoch = 3  # a resumed run past the epoch still switches
    cb.on_epoch_start(trainer)  # type: ignore[arg-type]
    assert head.proxy_target_cc is True and head.loss_oks.loss_weight == 10.0
    assert isinstance(head.loss_oks.loss_weight, float)
    bad = AttributeSwitchCallback({"1": {"head.loss_okz.loss_weight": 1.0}})
    with pytest.raises(PoseCliError, match="no attribute 'head.loss_okz.loss_weight'"):
        bad.on_train_start(trainer)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("size", "params"), [("s", 9_868_899), ("m", 22_526_307), ("l", 44_693_315)]
)
def test_rtmo_recipes_build_mmpose_layouts(size: str, params: int) -> None:
    """Whole-model parameter counts (RTMO paper: 9.9M / 22.6M / 44.8M) and representative
    MMPose 1.3.2 / MMDet keys of the backbone and neck."""
    from posecli.api import build_model
    from posecli.data.metainfo import load_skeleton
    from posecli.recipe import load_recipe

    model = build_model(
        load_recipe(f"coco/rtmo-{size}.toml"), load_skeleton("coco"), pretrained=False
    )
    assert sum(p.numel() for p in model.parameters()) == params
    sd = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    w = {"s": 0.5, "m": 0.75, "l": 1.0}[size]
    c = int(64 * w)
    assert sd["backbone.stem.conv.conv.weight"] == (c, 12, 3, 3)  # Focus: 4·3 channels
    assert sd["backbone.stage1.0.conv.weight"] == (2 * c, c, 3, 3)
    assert sd["backbone.stage4.1.conv2.conv.weight"][0] == 16 * c  # SPP bottleneck
    assert sd["backbone.stage4.2.blocks.0.conv1.conv.weight"] == (8 * c, 8 * c, 1, 1)
    assert sd["neck.input_proj.2.conv.weight"] == (256, 16 * c, 1, 1)
    assert sd["neck.encoder.0.layers.0.self_attn.attn.in_proj_weight"] == (768, 256)
    assert sd["neck.encoder.0.layers.0.ffn.layers.1.weight"] == (256, 1024)
    assert sd["neck.encoder.0.layers.0.norms.1.weight"] == (256,)
    assert sd["neck.sincos_pos_enc.dim_t"] == (64,)
    assert sd["neck.fpn_blocks.0.bottlenecks.0.branch_3x3.conv.weight"] == (int(256 * w),) * 2 + (
        3,
        3,
    )
    assert sd["neck.pan_blocks.1.conv2.conv.weight"] == (int(256 * w), 512, 1, 1)
    assert sd["neck.projector.convs.1.conv.weight"][:2] == (
        {"s": 256, "m": 384, "l": 512}[size],
        256,
    )


def test_rtmo_s_forward_gives_its_best_candidates_at_640() -> None:
    from posecli.api import build_model
    from posecli.data.metainfo import load_skeleton
    from posecli.recipe import load_recipe

    model = build_model(load_recipe("coco/rtmo-s.toml"), load_skeleton("coco"), pretrained=False)
    with torch.no_grad():
        scores, boxes, kps, ks, _ = model.eval()(torch.zeros(1, 3, 640, 640))
    assert scores.shape == (1, 200) and kps.shape == (1, 200, 17, 2) and ks.shape == (1, 200, 17)
    assert torch.isfinite(boxes).all() and ((scores >= 0) & (scores <= 1)).all()


def test_exported_rtmo_predicts_the_checkpoints_instances(tmp_path) -> None:
    """``posecli predict --model rtmo.onnx`` (torch-free decode from the file's metadata) gives
    the keypoints, boxes and scores of the torch model on a real COCO image."""
    import cv2

    from posecli.api import build_model
    from posecli.data.metainfo import load_skeleton
    from posecli.inference.load import load_predictor
    from posecli.models.estimators.bottomup_export import export_bottomup
    from posecli.models.estimators.bottomup_predict import torch_bottomup_predictor
    from posecli.recipe import load_recipe
    from posecli.runtime.frames import Frame

    recipe = load_recipe("coco/rtmo-s.toml", ["codec.input_size=[320, 320]", "codec.score_thr=0.3"])
    torch.manual_seed(0)
    model = build_model(recipe, load_skeleton("coco"), pretrained=False).eval()
    for conv in model.head.head_module.out_cls:  # well-separated instance scores
        torch.nn.init.normal_(conv.weight, std=300.0)
        torch.nn.init.zeros_(conv.bias)
    path = tmp_path / "rtmo.onnx"
    export_bottomup(model, recipe, path, check=True)
    image = cv2.imread("tests/data/mmpose-tests/coco/000000196141.jpg")
    frame = Frame(0, None, image, "coco")
    ref = torch_bottomup_predictor(model, recipe).predict_frame(frame)
    got = load_predictor(path).predict_frame(frame)
    assert len(ref.keypoints) > 0 and len(got.keypoints) == len(ref.keypoints)
    assert np.abs(got.keypoints - ref.keypoints).max() < 0.05
    assert np.abs(got.bboxes - ref.bboxes).max() < 0.05
    assert np.abs(got.bbox_scores - ref.bbox_scores).max() < 1e-4
    assert ((ref.bbox_scores > 0.3) & (ref.bboxes[:, 2] <= image.shape[1])).all()


def test_batch_sync_random_resize_scales_images_and_instance_targets() -> None:
    """MMPose's BatchSyncRandomResize as a callback: the first batch keeps its size, then each
    batch takes the size drawn after the previous iteration (a multiple of 32, aspect kept);
    boxes, keypoints and areas follow; every rank draws the same; dense targets are refused."""
    from types import SimpleNamespace

    from posecli.engine.batch_resize import BatchSyncRandomResizeCallback
    from posecli.errors import PoseCliError

    def batch() -> dict:
        img = torch.zeros(2, 3, 64, 96, dtype=torch.uint8)
        img[:, :, 20:24, 40:44] = 255  # a bright square where the keypoint is
        return {
            "inputs": img,
            "bboxes": [torch.tensor([[40.0, 20.0, 44.0, 24.0]])] * 2,
            "keypoints": [torch.tensor([[[42.0, 22.0]] * K])] * 2,
            "areas": [torch.tensor([16.0])] * 2,
            "heatmap_mask": torch.ones(2, 64, 96),
        }

    cb = BatchSyncRandomResizeCallback([64, 160], interval=1, size_divisor=32)
    trainer = SimpleNamespace(step=0, recipe=SimpleNamespace(seed=3))
    cb.on_train_start(trainer)  # type: ignore[arg-type]
    first = batch()
    cb.on_train_batch(trainer, first)  # type: ignore[arg-type]
    assert first["inputs"].shape[-2:] == (64, 96) and first["inputs"].dtype == torch.uint8
    assert cb.size == cb.draw(0, 1.5)
    sizes = {cb.draw(step, 1.5) for step in range(200)}
    assert sizes == {(32 * k, 32 * int(1.5 * k)) for k in (2, 3, 4, 5)}
    cb.size = (128, 192)
    second = batch()
    trainer.step = 1
    cb.on_train_batch(trainer, second)  # type: ignore[arg-type]
    assert second["inputs"].shape == (2, 3, 128, 192)
    torch.testing.assert_close(second["bboxes"][0], torch.tensor([[80.0, 40.0, 88.0, 48.0]]))
    torch.testing.assert_close(second["keypoints"][1][0, 0], torch.tensor([84.0, 44.0]))
    assert second["areas"][0].item() == 64.0 and second["heatmap_mask"].shape == (2, 128, 192)
    ys, xs = torch.nonzero(second["inputs"][0, 0] > 128, as_tuple=True)
    centre = (xs.float().mean() + 0.5, ys.float().mean() + 0.5)  # pixel i spans [i, i + 1)
    assert centre == (pytest.approx(84.0, abs=0.5), pytest.approx(44.0, abs=0.5))
    other_rank = BatchSyncRandomResizeCallback([64, 160], interval=1, size_divisor=32)
    other_rank.on_train_start(trainer)  # type: ignore[arg-type]
    assert [other_rank.draw(s, 1.5) for s in range(20)] == [cb.draw(s, 1.5) for s in range(20)]
    resumed = BatchSyncRandomResizeCallback([64, 160], interval=1)
    resumed.load_state_dict(cb.state_dict())
    assert resumed.size == cb.size
    dense = {**batch(), "heatmaps": torch.zeros(2, K, 16, 24)}
    with pytest.raises(PoseCliError, match=r"dense targets \(heatmaps\)"):
        cb.on_train_batch(trainer, dense)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="random_size_range"):
        BatchSyncRandomResizeCallback([800, 480])
