"""Write the MMPose 1.3.2 reference files of ``tests/models/test_mmpose_reference.py``.

Needs an environment with ``mmpose==1.3.2``, ``mmengine``, ``mmcv-lite`` (and ``mmdet`` for
RTMO's imports); see README.md in this folder. MMPose is the oracle here only: the test suite
reads the files this script writes and never imports MMPose.

For each case it builds the MMPose model from its config, writes ``<name>.json`` (state-dict
key → shape, MMPose's order), fills the model with the deterministic values of
:func:`deterministic_fill` and writes ``<name>-forward.npz``: the input and MMPose's raw
tensor-mode outputs (``model(inputs, mode="tensor")``; normalisation
done here, as MMPose's data preprocessor would). With ``--compare`` the posecli model of the
matching recipe is built, loaded with the same values and its outputs are compared.
The bottom-up flip-test cases (:data:`FLIP_CASES`) write ``<name>.npz``: MMPose's prediction
with its config's test settings on a COCO image and on hand-built outputs
(:func:`mmpose_flip_test`).

    OMP_NUM_THREADS=1 python tests/data/mmpose-reference/make_reference.py --compare [NAME ...]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]

#: name → (MMPose config under ``mmpose/.mim/configs``, posecli recipe, output family, fill
#: gain: chosen per network so that its outputs neither vanish nor saturate and still vary with
#: the input)
CASES: dict[str, tuple[str, str, str, float]] = {
    "simplebaseline3d": (
        "body_3d_keypoint/image_pose_lift/h36m/image-pose-lift_tcn_8xb64-200e_h36m.py",
        "h36m/simplebaseline3d.toml",
        "tcn",
        1.0,
    ),
    "videopose3d-27": (
        "body_3d_keypoint/video_pose_lift/h36m/video-pose-lift_tcn-27frm-supv_8xb128-160e_h36m.py",
        "h36m/videopose3d-27.toml",
        "tcn",
        1.0,
    ),
    "videopose3d-243": (
        "body_3d_keypoint/video_pose_lift/h36m/video-pose-lift_tcn-243frm-supv_8xb128-160e_h36m.py",
        "h36m/videopose3d-243.toml",
        "tcn",
        1.0,
    ),
    "motionbert": (
        "body_3d_keypoint/motionbert/h36m/motionbert_dstformer-243frm_8xb32-240e_h36m.py",
        "h36m/motionbert.toml",
        "motionbert",
        1.0,
    ),
    "rtmo-s": (
        "body_2d_keypoint/rtmo/coco/rtmo-s_8xb32-600e_coco-640x640.py",
        "coco/rtmo-s.toml",
        "rtmo",
        1.0,
    ),
    "rtmo-m": (
        "body_2d_keypoint/rtmo/coco/rtmo-m_16xb16-600e_coco-640x640.py",
        "coco/rtmo-m.toml",
        "rtmo",
        0.9,
    ),
    "rtmo-l": (
        "body_2d_keypoint/rtmo/coco/rtmo-l_16xb16-600e_coco-640x640.py",
        "coco/rtmo-l.toml",
        "rtmo",
        0.8,
    ),
    "ae-hrnet-w32": (
        "body_2d_keypoint/associative_embedding/coco/ae_hrnet-w32_8xb24-300e_coco-512x512.py",
        "coco/ae-hrnet-w32.toml",
        "maps",
        0.5,
    ),
    "cid-hrnet-w32": (
        "body_2d_keypoint/cid/coco/cid_hrnet-w32_8xb20-140e_coco-512x512.py",
        "coco/cid-hrnet-w32.toml",
        "cid",
        0.4,
    ),
    "dekr-hrnet-w32": (
        "body_2d_keypoint/dekr/coco/dekr_hrnet-w32_8xb10-140e_coco-512x512.py",
        "coco/dekr-hrnet-w32.toml",
        "maps",
        0.5,
    ),
    "wholebody-rtmpose-m": (
        "wholebody_2d_keypoint/rtmpose/coco-wholebody/rtmpose-m_8xb64-270e_coco-wholebody-256x192.py",
        "wholebody/rtmpose-m.toml",
        "simcc",
        2.5,
    ),
    "wholebody-rtmw-m": (
        "wholebody_2d_keypoint/rtmpose/cocktail14/rtmw-m_8xb1024-270e_cocktail14-256x192.py",
        "wholebody/rtmw-m.toml",
        "simcc",
        2.5,
    ),
    "face-rtmpose-m": (
        "face_2d_keypoint/rtmpose/wflw/rtmpose-m_8xb64-60e_wflw-256x256.py",
        "face/rtmpose-m.toml",
        "simcc",
        2.5,
    ),
    "hand-rtmpose-m": (
        "hand_2d_keypoint/rtmpose/coco_wholebody_hand/"
        "rtmpose-m_8xb32-210e_coco-wholebody-hand-256x256.py",
        "hand/rtmpose-m.toml",
        "simcc",
        2.5,
    ),
}

#: state-dict entries that keep the value the model is built with (BatchNorm's step counter and
#: fixed constants); every other entry is filled by :func:`deterministic_fill`
KEEP = ("num_batches_tracked", "dim_t", "x_bins", "y_bins", "sigmas", "regular_matrix")
#: 0-/1-D entries with these names are multiplicative scales: filled around 1
SCALES = ("weight", "g", "gamma", "scale")
#: the forward inputs: lifters (batch, frames), images (height, width)
TCN_INPUT = {"simplebaseline3d": (2, 1), "videopose3d-27": (2, 27), "videopose3d-243": (1, 243)}
MOTIONBERT_FRAMES = 9
IMAGE_SIZE = {"rtmo": (160, 160), "maps": (128, 128), "cid": (128, 128)}
#: SimCC outputs keep every STEP-th keypoint when K is larger than 21 (file size)
SIMCC_STEP = 4
CID_INSTANCES = 2

#: bottom-up flip-test cases: name → (model case, the head's last heatmap bias, offset added
#: to its K keypoint channels, offset added to DEKR's root channel), so that some peaks pass
#: the decoding thresholds (AE 0.1, DEKR's roots 0.01) on the filled network's outputs
FLIP_CASES: dict[str, tuple[str, str, float, float]] = {
    "ae-hrnet-w32-flip": ("ae-hrnet-w32", "head.final_layer.bias", -4.0, 0.0),
    "dekr-hrnet-w32-flip": ("dekr-hrnet-w32", "head.heatmap_conv_layers.2.bias", 0.0, 0.45),
}
#: the flip-test input: this COCO image through MMPose's BottomupResize (expand) at this size
FLIP_IMAGE = REPO / "tests" / "data" / "mmpose-tests" / "coco" / "000000196141.jpg"
FLIP_INPUT_SIZE = (64, 64)
#: COCO's dataset meta (flip indices, skeleton links), under MMPose's package
COCO_META = os.path.join(".mim", "configs", "_base_", "datasets", "coco.py")
#: hand-built flip-test outputs (:func:`synthetic_outputs`): heatmap (H, W), stride, instances
SYN_HEATMAP = (16, 24)
SYN_STRIDE = 4
SYN_TAGS = (-2.0, 0.0, 2.0)


def deterministic_fill(shapes: dict[str, list[int]], gain: float) -> dict[str, np.ndarray]:
    """Values for every key of ``shapes`` not in :data:`KEEP`, in sorted key order from one
    ``numpy.random.default_rng(0)``: ``n = standard_normal(shape)`` (float32) per key, then
    ``running_var`` → ``|n| + 0.5``, ``running_mean`` → ``0.1·n``, a 0-/1-D scale (name in
    :data:`SCALES`) → ``1 + 0.1·n``, any ≥2-D tensor → ``n·sqrt(gain / prod(shape[1:]))``,
    everything else (biases…) → ``0.1·n``."""
    rng = np.random.default_rng(0)
    out: dict[str, np.ndarray] = {}
    for key in sorted(shapes):
        name = key.rsplit(".", 1)[-1]
        if name in KEEP:
            continue
        shape = tuple(shapes[key])
        n = rng.standard_normal(shape).astype(np.float32)
        v: np.ndarray
        if name == "running_var":
            v = np.abs(n) + 0.5
        elif name == "running_mean":
            v = 0.1 * n
        elif len(shape) <= 1 and name in SCALES:
            v = 1.0 + 0.1 * n
        elif len(shape) >= 2:
            v = n * np.float32(np.sqrt(gain / np.prod(shape[1:])))
        else:
            v = 0.1 * n
        out[key] = np.asarray(v, dtype=np.float32)
    return out


def flip_fill(name: str, shapes: dict[str, list[int]], k: int = 17) -> dict[str, np.ndarray]:
    """:func:`deterministic_fill` of a :data:`FLIP_CASES` case's model with its heatmap offsets
    added to the head's last heatmap bias (its first ``k`` entries, and DEKR's root after)."""
    case, key, keypoint_offset, root_offset = FLIP_CASES[name]
    fill = deterministic_fill(shapes, CASES[case][3])
    bias = fill[key].copy()
    bias[:k] += np.float32(keypoint_offset)
    bias[k:] += np.float32(root_offset)
    fill[key] = bias
    return fill


def synthetic_outputs(
    method: str, flip_indices: list[int]
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Hand-built raw outputs of an AE (``"ae"``: heatmaps, tags) or DEKR (``"dekr"``:
    heatmaps with the root map last, displacements) network for the plain and the flipped
    input, without ties (peaks off the pixel grid, noise everywhere): one instance per tag of
    :data:`SYN_TAGS`, keypoints (some missing) scattered round its centre. The flipped view
    is the one whose MMPose flip-back (mirror, ``flip_indices`` swap, DEKR: x negated) is the
    plain view's scene moved 0.3 px right, so that the merge and its shift show."""
    rng = np.random.default_rng(2)
    h, w = SYN_HEATMAP
    k, n = len(flip_indices), len(SYN_TAGS)
    centres = np.stack([(np.arange(n) + 0.5) * w / n, np.full(n, h / 2)], -1)
    points = centres[:, None] + rng.uniform(-2.5, 2.5, (n, k, 2))
    points = np.clip(points, 2, [w - 3, h - 3])
    amps = rng.uniform(0.3, 1.0, (n, k)) * (rng.random((n, k)) > 0.15)
    roots = np.round(centres)
    root_amps = rng.uniform(0.3, 0.9, n)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)

    def render(dx: float) -> list[np.ndarray]:
        pts = points + np.array([dx, 0.0])
        d2 = (xx - pts[..., 0, None, None]) ** 2 + (yy - pts[..., 1, None, None]) ** 2
        heat = (amps[..., None, None] * np.exp(-d2 / 2)).max(0)  # (K, H, W)
        heat += rng.uniform(0, 0.05, heat.shape)
        if method == "ae":
            tags = np.asarray(SYN_TAGS)[d2.argmin(0)] + rng.normal(0, 0.05, heat.shape)
            return [heat, tags]
        r2 = (xx - roots[:, 0, None, None] - dx) ** 2 + (yy - roots[:, 1, None, None]) ** 2
        root = (root_amps[:, None, None] * np.exp(-r2 / 2)).max(0)
        root += rng.uniform(0, 0.005, root.shape)
        owner = r2.argmin(0)  # (H, W): the instance of the nearest root
        disp = pts[owner].transpose(2, 3, 0, 1) - np.stack((xx, yy))[None]  # (K, 2, H, W)
        disp += rng.normal(0, 0.02, disp.shape)
        return [np.concatenate((heat, root[None])), disp.reshape(2 * k, h, w)]

    plain = render(0.0)
    seen = render(0.3)  # what MMPose's flip-back of the flipped view must give
    fi = list(flip_indices)
    if method == "ae":
        flipped = [seen[0][fi][..., ::-1], seen[1][fi][..., ::-1]]
    else:
        disp = seen[1].reshape(k, 2, h, w).copy()
        disp[:, 0] *= -1
        flipped = [seen[0][[*fi, k]][..., ::-1], disp[fi][..., ::-1].reshape(2 * k, h, w)]
    as32 = [np.ascontiguousarray(a[None], np.float32) for a in (*plain, *flipped)]
    return as32[:2], as32[2:]


def make_input(name: str, family: str) -> np.ndarray:
    """The forward input: keypoints (lifters) or a BGR 0–255 uint8 image ``(1, 3, H, W)``."""
    rng = np.random.default_rng(1)
    if family == "tcn":
        b, t = TCN_INPUT[name]
        return rng.standard_normal((b, 34, t)).astype(np.float32)
    if family == "motionbert":
        x = rng.standard_normal((1, MOTIONBERT_FRAMES, 17, 3)).astype(np.float32)
        x[..., 2] = rng.uniform(0.0, 1.0, x.shape[:-1])  # the confidence channel
        return x
    if family == "simcc":
        h, w = 256, 192 if "wholebody" in name else 256
    else:
        h, w = IMAGE_SIZE[family]
    return rng.integers(0, 256, (1, 3, h, w), dtype=np.uint8)


# -- MMPose side ----------------------------------------------------------------------------


def _patch_deform_conv() -> None:
    """mmcv-lite has no compiled ops: run mmcv's ``DeformConv2d`` with torchvision's
    ``deform_conv2d`` (same offset layout: ``(dy, dx)`` per kernel position and group)."""
    import mmcv.ops
    from torchvision.ops import deform_conv2d

    def forward(self: Any, x: torch.Tensor, offset: torch.Tensor) -> torch.Tensor:
        return deform_conv2d(
            x,
            offset,
            self.weight,
            None,
            stride=self.stride,
            padding=self.padding,
            dilation=self.dilation,
        )

    mmcv.ops.DeformConv2d.forward = forward


def mmpose_model(config: str) -> tuple[torch.nn.Module, Any]:
    import mmpose
    from mmengine.config import Config
    from mmpose.models import build_pose_estimator
    from mmpose.utils import register_all_modules

    register_all_modules()
    root = Path(mmpose.__file__).parent / ".mim" / "configs"
    cfg = Config.fromfile(str(root / config))
    return build_pose_estimator(cfg.model), cfg


def _normalise(image: np.ndarray, cfg: Any, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """MMPose's PoseDataPreprocessor on a BGR uint8 batch (no padding needed here)."""
    pre = cfg.model.data_preprocessor
    x = torch.from_numpy(image).to(dtype)
    if pre.get("bgr_to_rgb", False):
        x = x.flip(1)
    mean = torch.tensor(pre.get("mean", [0, 0, 0]), dtype=dtype).view(1, 3, 1, 1)
    std = torch.tensor(pre.get("std", [1, 1, 1]), dtype=dtype).view(1, 3, 1, 1)
    return (x - mean) / std


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().cpu().numpy()


@torch.no_grad()
def mmpose_outputs(
    mm: Any, cfg: Any, family: str, x: np.ndarray, dtype: torch.dtype = torch.float32
) -> dict[str, np.ndarray]:
    """MMPose's raw network outputs for ``x`` (names as the test reads them)."""
    if family in ("tcn", "motionbert"):
        out = mm(torch.from_numpy(x).to(dtype), None, mode="tensor")
        return {"pose": _np(out)}
    inputs = _normalise(x, cfg, dtype)
    if family == "simcc":
        px, py = mm(inputs, None, mode="tensor")
        k = px.shape[1]
        step = SIMCC_STEP if k > 21 else 1
        return {
            "simcc_x": _np(px[:, ::step]),
            "simcc_y": _np(py[:, ::step]),
            "step": np.array(step),
        }
    if family == "maps":
        a, b = mm(inputs, None, mode="tensor")
        return {"out0": _np(a), "out1": _np(b)}
    if family == "cid":
        from mmpose.models.heads.heatmap_heads.cid_head import smooth_heatmaps

        feats = mm.extract_feat(inputs)
        head = mm.head
        iia = head.iia_module(feats[-1])
        _, coords, scores = head.iia_module.forward_test(feats[-1], {})
        inst = smooth_heatmaps(mm(inputs, None, mode="tensor"), 3)
        return {
            "iia": _np(iia),
            "root_scores": _np(scores),
            "root_coords": coords.numpy().astype(np.int64),
            "instance_heatmaps": _np(inst[:CID_INSTANCES]),
        }
    if family == "rtmo":
        from mmpose.structures.bbox import bbox_xyxy2cs

        feats = mm.extract_feat(inputs)
        head = mm.head
        cls, box, _, vis, vecs = head.forward(feats)
        sizes = [c.shape[2:] for c in cls]
        priors = torch.cat(head.prior_generator.grid_priors(sizes, dtype=dtype, device="cpu"))
        stride = torch.cat(
            [
                priors.new_full((s.numel(),), st)
                for s, st in zip(sizes, head.featmap_strides, strict=True)
            ]
        )
        scores = head._flatten_predictions(cls).sigmoid().max(-1).values[0]
        bboxes = head.decode_bbox(head._flatten_predictions(box), priors, stride)[0]
        kpt_vis = head._flatten_predictions(vis).sigmoid()[0]
        pose_vecs = head._flatten_predictions(vecs)[0]
        bbox_cs = torch.cat(bbox_xyxy2cs(bboxes, head.bbox_padding), dim=1)
        keypoints = head.dcc.forward_test(pose_vecs, bbox_cs, priors)
        out = {
            "scores": _np(scores),
            "bboxes": _np(bboxes),
            "keypoints": _np(keypoints),
            "keypoint_scores": _np(kpt_vis),
        }
        for i, (c, b, v) in enumerate(zip(cls, box, vis, strict=True)):
            out[f"cls{i}"], out[f"bbox{i}"], out[f"vis{i}"] = _np(c), _np(b), _np(v)
        return out
    raise ValueError(family)


@torch.no_grad()
def mmpose_flip_test(mm: Any, cfg: Any) -> dict[str, np.ndarray]:
    """MMPose's bottom-up prediction with its config's test settings (flip test) on
    :data:`FLIP_IMAGE`: the input, its geometry, the flip-merged maps at heatmap resolution
    (AE: before ``restore_heatmap_size``) and the instances in image pixels."""
    import copy

    import mmpose
    from mmcv.transforms import LoadImageFromFile
    from mmpose.datasets.datasets.utils import parse_pose_metainfo
    from mmpose.datasets.transforms import BottomupResize, PackPoseInputs

    meta = parse_pose_metainfo(
        {"from_file": os.path.join(os.path.dirname(mmpose.__file__), COCO_META)}
    )
    resize = next(t for t in cfg.val_pipeline if t["type"] == "BottomupResize")
    keys = next(t for t in cfg.val_pipeline if t["type"] == "PackPoseInputs")["meta_keys"]
    results: dict[str, Any] = {
        "img_path": str(FLIP_IMAGE),
        "id": 0,
        "img_id": 0,
        "crowd_index": None,
        "raw_ann_info": None,
        "flip_indices": meta["flip_indices"],
        "skeleton_links": meta["skeleton_links"],
    }
    results = LoadImageFromFile()(results)
    results = BottomupResize(
        input_size=FLIP_INPUT_SIZE,
        size_factor=resize["size_factor"],
        resize_mode=resize["resize_mode"],
    )(results)
    packed = PackPoseInputs(meta_keys=keys)(results)
    sample = packed["data_samples"]
    out: dict[str, np.ndarray] = {
        "input": packed["inputs"][None].numpy(),
        "input_center": np.asarray(sample.metainfo["input_center"], np.float32),
        "input_scale": np.asarray(sample.metainfo["input_scale"], np.float32),
        "flip_indices": np.asarray(meta["flip_indices"], np.int64),
    }
    test_cfg = dict(mm.test_cfg)

    def predict(**updates: Any) -> Any:
        mm.test_cfg = {**test_cfg, **updates}
        data = {"inputs": [packed["inputs"]], "data_samples": [copy.deepcopy(sample)]}
        try:
            return mm.test_step(data)[0]
        finally:
            mm.test_cfg = test_cfg

    fields = predict(output_heatmaps=True, restore_heatmap_size=False).pred_fields
    out["heatmaps"] = _np(fields.heatmaps)[None]
    other = "tags" if "tags" in fields else "displacements"
    out[other] = _np(fields.get(other))[None]
    pred = predict().pred_instances
    out["keypoints"] = np.asarray(pred.keypoints, np.float32)
    out["keypoint_scores"] = np.asarray(pred.keypoint_scores, np.float32)
    out.update(mmpose_synthetic(mm, sample, meta))
    return out


@torch.no_grad()
def mmpose_synthetic(mm: Any, sample: Any, meta: dict[str, Any]) -> dict[str, np.ndarray]:
    """MMPose's head prediction (its config's test settings) on :func:`synthetic_outputs`:
    keypoints in input pixels and scores (names prefixed ``synthetic_``)."""
    method = "ae" if "AssociativeEmbedding" in type(mm.head).__name__ else "dekr"
    plain, flipped = synthetic_outputs(method, list(meta["flip_indices"]))
    h, w = SYN_HEATMAP
    size = (w * SYN_STRIDE, h * SYN_STRIDE)
    data = sample.clone()
    data.set_metainfo({"input_size": size, "img_shape": size[::-1]})
    head = mm.head
    head.forward = lambda feats: feats  # the "features" are the network's outputs
    try:
        views = [tuple(torch.from_numpy(a) for a in v) for v in (plain, flipped)]
        pred = head.predict(views, [data], test_cfg=dict(mm.test_cfg))[0]
    finally:
        del head.forward
    return {
        "synthetic_keypoints": np.asarray(pred.keypoints, np.float32),
        "synthetic_keypoint_scores": np.asarray(pred.keypoint_scores, np.float32),
    }


# -- posecli side (--compare) -----------------------------------------------------------


def posecli_outputs(
    pc: Any, family: str, x: np.ndarray, ref: dict[str, np.ndarray], cfg: Any, dtype: torch.dtype
) -> dict:
    """posecli's outputs mapped onto the names of :func:`mmpose_outputs` (in float64 the
    model's float32 input casts are bypassed)."""
    with torch.no_grad():
        inputs = torch.from_numpy(x)
        if dtype != torch.float32:
            pc.to(dtype)
            if family in ("tcn", "motionbert"):
                inputs = inputs.to(dtype)
                pc.extract_feats = lambda i: (tuple(pc.backbone(i)), None)
            else:
                pc.preprocess = lambda i: _normalise(i.numpy(), cfg, dtype)
        if family in ("tcn", "motionbert"):
            return {"pose": _np(pc(inputs))}
        if family == "simcc":
            px, py = pc(inputs)
            s = int(ref["step"])
            return {"simcc_x": _np(px[:, ::s]), "simcc_y": _np(py[:, ::s]), "step": np.array(s)}
        if family == "maps":
            a, b = pc(inputs)
            return {"out0": _np(a), "out1": _np(b)}
        if family == "cid":
            feats = pc.extract_feats(inputs)
            scores, coords, heatmaps, _ = pc.head.instance_maps(feats)
            n = len(ref["root_scores"])  # MMPose keeps the roots above its score threshold
            return {
                "iia": _np(pc(inputs)),
                "root_scores": _np(scores[0, :n]),
                "root_coords": coords[0, :n].numpy().astype(np.int64),
                "instance_heatmaps": _np(heatmaps[0, :CID_INSTANCES]),
            }
        if family == "rtmo":
            feats = pc.extract_feats(inputs)
            scores, bboxes, kps, vis, idx = pc.head(feats)  # = pc(inputs)
            order = idx[0].argsort()
            out = {
                "scores": _np(scores[0][order]),
                "bboxes": _np(bboxes[0][order]),
                "keypoints": _np(kps[0][order]),
                "keypoint_scores": _np(vis[0][order]),
            }
            cls, box, _, v, _ = pc.head.head_module(feats)
            for i, (c, b, vv) in enumerate(zip(cls, box, v, strict=True)):
                out[f"cls{i}"], out[f"bbox{i}"], out[f"vis{i}"] = _np(c), _np(b), _np(vv)
            return out
    raise ValueError(family)


def load_posecli(name: str, shapes: dict[str, list[int]], fill: dict[str, np.ndarray]) -> Any:
    sys.path.insert(0, str(REPO))
    from posecli.api import build_model
    from posecli.models.mmpose_compat import convert_mmpose_keys
    from posecli.models.weights import load_weights_into
    from posecli.recipe import load_recipe

    model = build_model(load_recipe(REPO / "recipes" / CASES[name][1]), pretrained=False)
    own = model.state_dict()
    state = {
        k: torch.from_numpy(fill[k]) if k in fill else own.get(k, torch.zeros(shapes[k]))
        for k in shapes
    }
    load_weights_into(model, convert_mmpose_keys(state), True, name)
    return model.eval()


def run(name: str, compare: bool) -> None:
    config, _, family, gain = CASES[name]
    mm, cfg = mmpose_model(config)
    sd = mm.state_dict()
    shapes = {k: list(v.shape) for k, v in sd.items()}
    (HERE / f"{name}.json").write_text(json.dumps(shapes, indent=0) + "\n")
    n_par = sum(p.numel() for p in mm.parameters())
    print(f"{name}: {len(shapes)} keys, {n_par} parameters  ({config})")
    fill = deterministic_fill(shapes, gain)
    with torch.no_grad():  # in place: MMPose's load hooks would rename legacy (CID) keys
        for k, v in fill.items():
            sd[k].copy_(torch.from_numpy(v))
    mm.eval()
    x = make_input(name, family)
    ref = mmpose_outputs(mm, cfg, family, x)
    arrays: dict[str, Any] = {"input": x, "fill_gain": np.float32(gain), **ref}
    np.savez(HERE / f"{name}-forward.npz", **arrays)
    if compare:
        pc = load_posecli(name, shapes, fill)
        own = pc.state_dict()
        for k in shapes:  # the kept constants must agree
            if k in own and k not in fill and not torch.equal(own[k], sd[k]):
                print(f"  constant {k} differs")
        for dtype in (torch.float32, torch.float64):
            if dtype == torch.float64:
                mm.to(dtype)
                ref = mmpose_outputs(mm, cfg, family, x, dtype)
            compare_outputs(ref, posecli_outputs(pc, family, x, ref, cfg, dtype), str(dtype))


def run_flip(name: str, compare: bool) -> None:
    case = FLIP_CASES[name][0]
    config = CASES[case][0]
    mm, cfg = mmpose_model(config)
    sd = mm.state_dict()
    shapes = {k: list(v.shape) for k, v in sd.items()}
    fill = flip_fill(name, shapes)
    with torch.no_grad():
        for k, v in fill.items():
            sd[k].copy_(torch.from_numpy(v))
    mm.eval()
    ref = mmpose_flip_test(mm, cfg)
    np.savez(HERE / f"{name}.npz", **ref)
    n = len(ref["keypoints"])
    print(f"{name}: input {ref['input'].shape}, {n} instances  ({config})")
    if compare:
        pc = load_posecli(case, shapes, fill)
        got = posecli_flip_test(pc, ref)
        if len(got["keypoints"]) != n:
            print(f"  instances: MMPose {n}, posecli {len(got['keypoints'])}")
            got = {k: v for k, v in got.items() if k in ("heatmaps", "tags", "displacements")}
        compare_outputs({k: ref[k] for k in got}, got, "flip test")
        syn = posecli_synthetic(pc, ref)
        if len(syn["synthetic_keypoints"]) != len(ref["synthetic_keypoints"]):
            print(
                f"  synthetic instances: MMPose {len(ref['synthetic_keypoints'])}, posecli "
                f"{len(syn['synthetic_keypoints'])}"
            )
        else:
            compare_outputs({k: ref[k] for k in syn}, syn, "synthetic outputs")


def posecli_synthetic(pc: Any, ref: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """posecli's decoder (the model's test settings) on :func:`synthetic_outputs`."""
    fi = [int(i) for i in ref["flip_indices"]]
    plain, flipped = synthetic_outputs(pc.method, fi)
    h, w = SYN_HEATMAP
    decoder = pc.decoder(fi)
    merged = decoder.merge_flip(plain, flipped, w * SYN_STRIDE)
    merged = decoder.merge_scales(merged, [], (h * SYN_STRIDE, w * SYN_STRIDE))
    kps, scores = decoder.decode(merged)
    return {"synthetic_keypoints": kps[0], "synthetic_keypoint_scores": scores[0]}


def posecli_flip_test(pc: Any, ref: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """posecli's flip-merged maps and instances (image pixels) on the reference's input."""
    images = torch.from_numpy(ref["input"])
    fi = [int(i) for i in ref["flip_indices"]]
    with torch.no_grad():
        merged = pc.predict_outputs(images, fi)
        batch = {
            "inputs": images,
            "input_center": torch.from_numpy(ref["input_center"])[None],
            "input_scale": torch.from_numpy(ref["input_scale"])[None],
            "flip_indices": torch.tensor(fi)[None],
        }
        kps, scores = pc.predict_instances(batch)
    other = "tags" if "tags" in ref else "displacements"
    return {
        "heatmaps": merged[0],
        other: merged[1],
        "keypoints": kps[0],
        "keypoint_scores": scores[0],
    }


def compare_outputs(ref: dict[str, np.ndarray], got: dict[str, np.ndarray], what: str) -> None:
    print(f"  posecli vs MMPose, {what}:")
    for k, v in ref.items():
        d = float(np.abs(got[k].astype(np.float64) - v).max()) if v.size else 0.0
        print(
            f"    {k:18s} {tuple(v.shape)!s:16s} max|ref| {float(np.abs(v).max()):<10.4g} "
            f"max abs diff {d:.3g}"
        )


def main() -> None:
    warnings.filterwarnings("ignore")
    torch.set_num_threads(1)
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    every = [*CASES, *FLIP_CASES]
    parser.add_argument("names", nargs="*", help=f"cases (default: all): {', '.join(every)}")
    parser.add_argument("--compare", action="store_true", help="compare with posecli too")
    args = parser.parse_args()
    unknown = sorted(set(args.names) - set(every))
    if unknown:
        parser.error(f"unknown cases: {unknown}")
    _patch_deform_conv()
    for name in args.names or every:
        if name in FLIP_CASES:
            run_flip(name, args.compare)
        else:
            run(name, args.compare)


if __name__ == "__main__":
    main()
