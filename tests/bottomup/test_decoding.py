"""The torch-free AE / DEKR post-processing (posecli.runtime.bottomup_decoding): torch's bilinear
resize, MMPose's flip merges, DEKR's rescoring MLP, and exported files predicting the
checkpoint's instances (flip test, AE multi-scale test, DEKR rescoring + NMS)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from posecli.models.heads.dekr_head import RescoreNet
from posecli.runtime.bottomup_decoding import (
    RescoreWeights,
    merge_ae_flip,
    merge_dekr_flip,
    resize_bilinear,
)

from .test_models import _model

IMAGE = Path(__file__).parents[1] / "data" / "mmpose-tests" / "coco" / "000000196141.jpg"


@pytest.mark.parametrize("align_corners", [False, True])
@pytest.mark.parametrize("size", [(33, 40), (7, 5), (16, 16), (1, 3)])
def test_resize_bilinear_equals_torch_interpolate(
    size: tuple[int, int], align_corners: bool
) -> None:
    maps = np.random.default_rng(0).normal(size=(2, 3, 16, 12)).astype(np.float32)
    ref = torch.nn.functional.interpolate(
        torch.from_numpy(maps), size=size, mode="bilinear", align_corners=align_corners
    ).numpy()
    np.testing.assert_allclose(resize_bilinear(maps, size, align_corners), ref, atol=1e-5)


def _mirror(maps: np.ndarray, swap: list[int], per: int) -> np.ndarray:
    """What a network equivariant to mirroring gives on the flipped input."""
    b, c, h, w = maps.shape
    out = maps.reshape(b, c // per, per, h, w)[:, swap, :, :, ::-1].copy()
    if per == 2:
        out[:, :, 0] *= -1  # x displacements change sign
    return out.reshape(b, c, h, w)


def test_flip_merges_of_a_mirror_equivariant_network() -> None:
    """Outputs of the mirrored input that are the exact mirror image of the plain ones merge
    back to the plain ones (AE: tags doubled; DEKR: x amended by (s - 1) / s, halved); DEKR's
    shift moves the heatmaps only."""
    rng = np.random.default_rng(1)
    swap = [0, 2, 1]
    hm = rng.random((1, 3, 8, 10)).astype(np.float32)
    tags = rng.normal(size=(1, 3, 8, 10)).astype(np.float32)
    merged_hm, merged_tags = merge_ae_flip(
        (hm, tags), (_mirror(hm, swap, 1), _mirror(tags, swap, 1)), swap, False
    )
    np.testing.assert_allclose(merged_hm, hm, atol=1e-7)
    np.testing.assert_allclose(merged_tags, np.concatenate((tags, tags), 1), atol=1e-7)
    root = np.concatenate((hm, rng.random((1, 1, 8, 10)).astype(np.float32)), 1)
    disp = rng.normal(size=(1, 6, 8, 10)).astype(np.float32)
    flipped = (_mirror(root, [*swap, 3], 1), _mirror(disp, swap, 2))
    m_hm, m_disp = merge_dekr_flip((root, disp), flipped, swap, False, input_width=40)
    np.testing.assert_allclose(m_hm, root, atol=1e-7)
    expected = disp.copy()
    expected[:, ::2] += 0.75 / 2  # s = 40 / 10 = 4: (s - 1) / s, averaged with the plain
    np.testing.assert_allclose(m_disp, expected, atol=1e-6)
    # MMPose's DEKR shift (its config: on) moves the flipped-back heatmaps one pixel right
    # (column 0 kept), never the displacements
    s_hm, s_disp = merge_dekr_flip((root, disp), flipped, swap, True, input_width=40)
    moved = np.concatenate((root[..., :1], root[..., :-1]), -1)
    np.testing.assert_allclose(s_hm, (root + moved) / 2, atol=1e-7)
    np.testing.assert_array_equal(s_disp, m_disp)


def test_rescore_weights_are_the_torch_mlp_on_dekrs_features() -> None:
    torch.manual_seed(0)
    links = [[0, 1], [1, 2], [2, 3]]
    net = RescoreNet(3 * len(links) + 4, norm_indexes=[0, 1])
    weights = net.weights()
    kps = np.array([[[0, 0], [3, 4], [3, 10], [9, 2]]], np.float32)
    scores = np.array([[0.9, 0.8, 0.7, 0.6]], np.float32)
    feat = RescoreWeights.features(kps, scores, links, [0, 1])
    # links (0-1) = (-3, -4): length 5; (1-2) = (0, -6): 6; (2-3) = (-6, 8): 10; norm 5.5
    np.testing.assert_allclose(
        feat[0],
        [
            -3 / 5.5,
            -4 / 5.5,
            0,
            -6 / 5.5,
            -6 / 5.5,
            8 / 5.5,
            5 / 5.5,
            6 / 5.5,
            10 / 5.5,
            0.9,
            0.8,
            0.7,
            0.6,
        ],
        rtol=1e-6,
    )
    with torch.no_grad():
        x = torch.from_numpy(feat)
        ref = net.l3(torch.relu(net.l2(torch.relu(net.l1(x))))).squeeze(1).numpy()
    np.testing.assert_allclose(weights(kps, scores, links), ref, rtol=1e-5, atol=1e-6)
    again = RescoreWeights.from_dict(weights.to_dict())
    assert again.norm_indexes == (0, 1)
    np.testing.assert_array_equal(again(kps, scores, links), weights(kps, scores, links))


def _canonical_order(keypoints: np.ndarray) -> np.ndarray:
    """Instances sorted by their rounded coordinates: the untrained net's instances tie in
    score, so their order may differ between two float paths."""
    flat = np.round(np.asarray(keypoints).reshape(len(keypoints), -1), 1)
    return np.lexsort(flat.T[::-1])


def _recipe(aug_scales: list[float]) -> SimpleNamespace:
    step = SimpleNamespace(
        name="bottomup_resize", kwargs={"size_factor": 32, "aug_scales": aug_scales}
    )
    val = SimpleNamespace(pipeline=[step])
    return SimpleNamespace(input_size=(128, 128), data=SimpleNamespace(val=val, test=None))


@pytest.mark.parametrize("method", ["ae", "dekr", "cid"])
def test_exported_file_predicts_the_checkpoints_instances(method: str, tmp_path: Path) -> None:
    """``posecli predict --model m.onnx`` (torch-free: flip test, AE's multi-scale test and
    restore to the input size, DEKR's rescoring and NMS rebuilt from the file's metadata;
    CID's flip test inside the graph, its threshold and decode after it) gives the
    checkpoint's instances on a real COCO image."""
    import cv2

    from posecli.codecs.associative_embedding import AssociativeEmbedding
    from posecli.codecs.spr import SPR
    from posecli.errors import PoseCliError
    from posecli.inference.load import load_predictor
    from posecli.models.estimators.bottomup_export import export_bottomup
    from posecli.models.estimators.bottomup_predict import torch_bottomup_predictor
    from posecli.runtime.frames import Frame

    torch.manual_seed(0)
    model, _ = _model(method, 4)
    model.eval()
    if method == "ae":  # every candidate of the untrained net
        model.codec = AssociativeEmbedding((64, 64), (16, 16), sigma=2, decode_keypoint_thr=-1e9)
    elif method == "cid":  # well-separated roots and maps (the init's are all ~0.5)
        for layer in model.head.modules():
            if isinstance(layer, (torch.nn.Conv2d, torch.nn.Linear)):
                torch.nn.init.normal_(layer.weight, std=0.5)
    else:
        model.codec = SPR(
            (64, 64), (16, 16), sigma=2, generate_keypoint_heatmaps=True, decode_thr=-1e9
        )
    ae = method == "ae"  # with MMPose's restore to the input size
    update = {"flip_test": True, "multiscale_test": ae, "restore_heatmap_size": ae}
    model.test_cfg = model.test_cfg.model_copy(update=update)
    model.flip_indices = [0, 2, 1, 3]
    if method == "dekr":
        model.head.rescore_net = RescoreNet(13, norm_indexes=[0, 1])
        model.skeleton_links = [[0, 1], [1, 2], [2, 3]]
        model.nms_dist_thr = 0.05
    recipe = _recipe([1.5] if method == "ae" else [])
    path = tmp_path / f"{method}.onnx"
    export_bottomup(model, recipe, path, check=True)
    frame = Frame(0, None, cv2.imread(str(IMAGE)), "coco")
    ref = torch_bottomup_predictor(model, recipe).predict_frame(frame)
    got = load_predictor(path).predict_frame(frame)
    assert len(ref.keypoints) > 0 and len(got.keypoints) == len(ref.keypoints)
    ref_order, got_order = _canonical_order(ref.keypoints), _canonical_order(got.keypoints)
    np.testing.assert_allclose(got.keypoints[got_order], ref.keypoints[ref_order], atol=0.05)
    ref_scores = ref.keypoint_scores[ref_order]  # the untrained DEKR's are ~1e-13: relative
    tol = 1e-3 * float(np.abs(ref_scores).max())
    np.testing.assert_allclose(got.keypoint_scores[got_order], ref_scores, rtol=1e-3, atol=tol)
    if method == "cid":  # the flip test is in the graph: another choice needs another file
        with pytest.raises(PoseCliError, match="exported with the flip test"):
            load_predictor(path, flip_test=False)
        export_bottomup(model, recipe, path, check=True, force=True, flip_test=False)
        ref = torch_bottomup_predictor(model, recipe, flip_test=False).predict_frame(frame)
        got = load_predictor(path).predict_frame(frame)
        assert len(got.keypoints) == len(ref.keypoints)
        order, ref_order = _canonical_order(got.keypoints), _canonical_order(ref.keypoints)
        np.testing.assert_allclose(got.keypoints[order], ref.keypoints[ref_order], atol=0.05)
        return
    plain = load_predictor(path, flip_test=False).predict_frame(frame)  # the override applies
    assert len(plain.keypoints) != len(got.keypoints) or not np.allclose(
        plain.keypoints[_canonical_order(plain.keypoints)], got.keypoints[got_order], atol=0.05
    )


def test_cid_root_window_follows_the_input_size_when_traced() -> None:
    """The traced root NMS window (exported CID files have dynamic H, W) equals the eager one
    at map sizes of each of MMPose's three windows, not just the traced size."""
    from posecli.models.heads.cid_head import _root_window_max

    class Window(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return _root_window_max(x)

    traced = torch.jit.trace(Window(), torch.rand(1, 1, 16, 16))
    for side in (16, 220, 320):  # windows 3, 5, 7
        x = torch.rand(1, 1, side, side + 4)
        torch.testing.assert_close(traced(x), _root_window_max(x), rtol=0, atol=0)
    x = torch.rand(1, 1, 320, 320)
    assert not torch.equal(_root_window_max(x), torch.nn.functional.max_pool2d(x, 3, 1, 1))
