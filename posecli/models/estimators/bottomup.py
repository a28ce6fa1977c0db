"""The bottom-up estimator (MMPose ``BottomupPoseEstimator``): whole image in, every instance out.

Three modes, as for :class:`~posecli.models.pose_model.PoseModel`:

- ``model(images)`` (tensor mode, what export traces): images ``(B, 3, H, W)`` BGR 0–255 →
  the head's raw outputs (AE ``(heatmaps, tags)``, DEKR ``(heatmaps, displacements)``, RTMO
  the best candidates ``(scores, bboxes, keypoints, keypoint_scores)``).
- ``model.loss(batch)`` → the head's loss terms and ``"loss"``.
- ``model.predict_instances(batch)`` → per image ``keypoints (N_i, K, 2)`` in image pixels and
  ``scores (N_i, K)`` (numpy), with the flip test when ``test_cfg.flip_test`` and, for AE, the
  multi-scale test when ``test_cfg.multiscale_test`` (the batch's ``aug_inputs``). The network
  runs in torch; grouping/NMS run in numpy (:mod:`posecli.runtime.bottomup`), so an exported
  graph gets the same post-processing. Input → image uses the batch's ``input_size``,
  ``input_center`` and ``input_scale`` (``bottomup_resize``).
- ``model.predict(batch)`` → the same flattened over the batch: keypoints ``(ΣN_i, K, 2)``
  and scores ``(ΣN_i, K)`` tensors, with ``self.last_image_index`` ``(ΣN_i,)``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from posecli.recipe.schema import TestConfig
from posecli.runtime.bottomup import images_to_image_space
from posecli.runtime.bottomup_decoding import BottomupDecoder


class BottomupPoseEstimator(nn.Module):
    """Bottom-up model: preprocessing → backbone → neck → bottom-up head.

    Args:
        backbone, head, neck: modules (``ae_head``, ``dekr_head``, ``cid_head`` or
            ``rtmo_head``).
        codec: ``associative_embedding`` / ``spr`` / ``decoupled_heatmap`` / ``yolox_pose``
            (decoding).
        num_keypoints: K. flip_indices: left/right swap (flip test).
        skeleton_links: keypoint pairs (DEKR's rescore net).
        test_cfg: ``recipe.model.test`` (``flip_test``, ``shift_heatmap``,
            ``restore_heatmap_size``, ...).
        nms_dist_thr, nms_joints_thr: DEKR's nearby-joints NMS (0: off).
        mean, std, bgr_to_rgb: normalisation inside the model.
    """

    kind = "bottomup"
    mean: torch.Tensor
    std: torch.Tensor

    def __init__(
        self,
        backbone: nn.Module,
        head: nn.Module,
        neck: nn.Module | None = None,
        codec: Any = None,
        num_keypoints: int | None = None,
        flip_indices: Sequence[int] | None = None,
        skeleton_links: Sequence[Sequence[int]] | None = None,
        test_cfg: TestConfig | None = None,
        nms_dist_thr: float = 0.0,
        nms_joints_thr: int | None = None,
        mean: Sequence[float] = (123.675, 116.28, 103.53),
        std: Sequence[float] = (58.395, 57.12, 57.375),
        bgr_to_rgb: bool = True,
    ) -> None:
        super().__init__()
        self.backbone = backbone
        if neck is not None:
            self.neck = neck
        self.head = head
        self.codec = codec
        self.num_keypoints = num_keypoints
        self.flip_indices = list(flip_indices) if flip_indices is not None else None
        self.skeleton_links = [list(p) for p in skeleton_links] if skeleton_links else None
        self.test_cfg = test_cfg or TestConfig()
        self.nms_dist_thr = float(nms_dist_thr)
        self.nms_joints_thr = nms_joints_thr
        self.bgr_to_rgb = bgr_to_rgb
        self.channels_last = False
        self.last_image_index = np.zeros(0, np.int64)
        #: per image of the last ``predict_instances``: instance boxes ``(N, 4)`` xyxy in image
        #: pixels and scores ``(N,)`` when the method predicts them (RTMO), else ``None``
        self.last_bboxes: list[np.ndarray] | None = None
        self.last_bbox_scores: list[np.ndarray] | None = None
        self.register_buffer(
            "mean", torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1), persistent=False
        )
        self.register_buffer(
            "std", torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1), persistent=False
        )

    @property
    def method(self) -> str:
        """``"ae"``, ``"dekr"`` or ``"cid"`` (from the head)."""
        name = type(self.head).__name__
        return {
            "AssociativeEmbeddingHead": "ae",
            "DEKRHead": "dekr",
            "CIDHead": "cid",
            "RTMOHead": "rtmo",
        }.get(name, name)

    def set_channels_last(self, enabled: bool = True) -> BottomupPoseEstimator:
        self.to(memory_format=torch.channels_last if enabled else torch.contiguous_format)
        self.channels_last = enabled
        return self

    # -- tensor mode ----------------------------------------------------------------------
    def preprocess(self, images: torch.Tensor) -> torch.Tensor:
        """BGR 0–255 ``(B, 3, H, W)`` → normalised RGB float32."""
        x = images.float()
        if self.bgr_to_rgb:
            x = x.flip(1)
        x = (x - self.mean) / self.std
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return x

    def extract_feats(self, images: torch.Tensor) -> tuple[torch.Tensor, ...]:
        feats = self.backbone(self.preprocess(images))
        if hasattr(self, "neck"):
            feats = self.neck(feats)
        return tuple(feats) if isinstance(feats, (list, tuple)) else (feats,)

    def forward(self, images: torch.Tensor) -> Any:
        """Raw head outputs for images ``(B, 3, H, W)`` BGR 0–255."""
        return self.head(self.extract_feats(images))

    # -- training -------------------------------------------------------------------------
    def loss(self, batch: Mapping[str, Any]) -> dict[str, torch.Tensor]:
        """Loss terms for a collated bottom-up batch (``inputs`` plus the codec's targets)."""
        return self.head.loss(self.extract_feats(batch["inputs"]), batch)  # type: ignore[operator,no-any-return]

    # -- inference ------------------------------------------------------------------------
    def _flip_list(self, batch: Mapping[str, Any]) -> list[int]:
        fi = batch.get("flip_indices")
        if fi is None and batch.get("meta"):
            fi = batch["meta"][0].get("flip_indices")
        if fi is not None:
            t = torch.as_tensor(fi)
            return (t[0] if t.ndim == 2 else t).tolist()
        if self.flip_indices is None:
            raise ValueError("flip test needs flip_indices (from the skeleton or the batch)")
        return self.flip_indices

    def _shift(self) -> bool:
        """``test_cfg.shift_heatmap``; unset: off, as MMPose's AE and DEKR heads."""
        return bool(self.test_cfg.shift_heatmap)

    def decoder(self, flip_indices: Sequence[int] | None = None) -> BottomupDecoder:
        """The torch-free post-processing of this AE / DEKR model (what an exported file's
        runtime rebuilds from its metadata); the flip test merges views when
        ``flip_indices`` is given."""
        rescore_net = getattr(self.head, "rescore_net", None)
        return BottomupDecoder(
            method=self.method,
            codec=self.codec,
            flip_indices=list(flip_indices) if flip_indices is not None else None,
            shift_heatmap=self._shift(),
            tag_per_keypoint=bool(getattr(self.head, "tag_per_keypoint", True)),
            multiscale_test=bool(self.test_cfg.multiscale_test),
            align_corners=bool(self.test_cfg.align_corners),
            restore_heatmap_size=bool(self.test_cfg.restore_heatmap_size),
            nms_dist_thr=self.nms_dist_thr,
            nms_joints_thr=self.nms_joints_thr,
            skeleton_links=self.skeleton_links,
            rescore=rescore_net.weights() if rescore_net is not None else None,
        )

    def _raw_outputs(self, images: torch.Tensor) -> list[np.ndarray]:
        return [o.detach().float().cpu().numpy() for o in self(images)]

    @torch.no_grad()
    def predict_outputs(
        self, images: torch.Tensor, flip_indices: Sequence[int] | None = None
    ) -> tuple[np.ndarray, ...]:
        """Network outputs (numpy) after the flip-test merge (AE and DEKR); RTMO's candidates."""
        if flip_indices is None or self.method == "rtmo":
            if flip_indices is not None:
                raise ValueError("RTMO has no flip test (set model.test.flip_test = false)")
            return tuple(self._raw_outputs(images))
        flipped = self._raw_outputs(images.flip(-1))
        return self.decoder(flip_indices).merge_flip(
            self._raw_outputs(images), flipped, int(images.shape[-1])
        )

    def decode_outputs(self, outputs: Sequence[Any]) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Numpy post-processing of (merged) network outputs → input-space instances."""
        arrays = [
            np.asarray(o.detach().float().cpu().numpy() if torch.is_tensor(o) else o)
            for o in outputs
        ]
        if self.method == "rtmo":  # score threshold + box NMS (the yolox_pose codec)
            kps, kscores, boxes, bscores = self.codec.batch_decode(*arrays[:4])
            self.last_bboxes, self.last_bbox_scores = boxes, bscores
            return kps, kscores
        if self.method not in ("ae", "dekr"):
            raise ValueError(f"{type(self.head).__name__} has no numpy decoding")
        return self.decoder().decode(arrays)

    def _check_multiscale(self, batch: Mapping[str, Any]) -> list[torch.Tensor]:
        """The extra-scale inputs of a multi-scale test (``[]`` without one); raises on a
        test config and pipeline that disagree."""
        extra = list(batch.get("aug_inputs") or ())
        if not self.test_cfg.multiscale_test:
            if extra:
                raise ValueError(
                    "bottomup_resize.aug_scales is set but model.test.multiscale_test is false "
                    "(set both or neither)"
                )
            return extra
        if self.method != "ae":
            raise ValueError(
                f"model.test.multiscale_test: MMPose has the multi-scale test for AE heads only, "
                f"not {type(self.head).__name__}"
            )
        if not extra:
            raise ValueError(
                "model.test.multiscale_test needs bottomup_resize.aug_scales in the validation "
                "pipeline (e.g. aug_scales = [0.5, 1.5])"
            )
        return extra

    def _scale_outputs(
        self, batch: Mapping[str, Any], flip_indices: Sequence[int] | None
    ) -> tuple[np.ndarray, ...]:
        """Network outputs after the flip-test merge and, for AE's multi-scale test, the mean
        of every scale's heatmaps resized bilinearly to the first scale's (tags: first scale
        only, as MMPose's ``AssociativeEmbeddingHead``); AE's ``restore_heatmap_size``
        resizes them all to the input size."""
        images = batch["inputs"]
        extra = self._check_multiscale(batch)
        out = self.predict_outputs(images, flip_indices)
        if not extra and not (self.method == "ae" and self.test_cfg.restore_heatmap_size):
            return out
        heatmaps = [self.predict_outputs(x.to(images.device), flip_indices)[0] for x in extra]
        size = (int(images.shape[-2]), int(images.shape[-1]))
        return self.decoder(flip_indices).merge_scales((out[0], out[1]), heatmaps, size)

    @torch.no_grad()
    def predict_instances(
        self, batch: Mapping[str, Any]
    ) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Per image keypoints ``(N, K, 2)`` in image pixels and scores ``(N, K)``."""
        images = batch["inputs"]
        self.last_bboxes = self.last_bbox_scores = None
        fi = self._flip_list(batch) if self.test_cfg.flip_test else None
        if self.method == "cid":
            self._check_multiscale(batch)
            feats = self.extract_feats(images)
            ffeats = self.extract_feats(images.flip(-1)) if fi is not None else None
            kps, scores = self.head.predict(feats, ffeats, fi, self.codec)  # type: ignore[operator]
        else:
            kps, scores = self.decode_outputs(self._scale_outputs(batch, fi))
        if "input_center" in batch and "input_scale" in batch:
            size = (int(images.shape[-1]), int(images.shape[-2]))
            centers = torch.as_tensor(batch["input_center"]).reshape(-1, 2).cpu().numpy()
            scales = torch.as_tensor(batch["input_scale"]).reshape(-1, 2).cpu().numpy()
            kps = images_to_image_space(kps, size, centers, scales)
            if self.last_bboxes is not None:
                self.last_bboxes = images_to_image_space(self.last_bboxes, size, centers, scales)
        return kps, scores

    @torch.no_grad()
    def predict(self, batch: Mapping[str, Any]) -> tuple[torch.Tensor, torch.Tensor]:
        """All instances of the batch, flattened (see the module docstring)."""
        kps, scores = self.predict_instances(batch)
        k = int(self.num_keypoints or (kps[0].shape[1] if kps else 0))
        self.last_image_index = np.concatenate(
            [np.full(len(kp), i, np.int64) for i, kp in enumerate(kps)] or [np.zeros(0, np.int64)]
        )
        kp = np.concatenate(kps) if kps else np.zeros((0, k, 2), np.float32)
        sc = np.concatenate(scores) if scores else np.zeros((0, k), np.float32)
        device = batch["inputs"].device
        return torch.as_tensor(kp, device=device), torch.as_tensor(sc, device=device)


__all__ = ["BottomupPoseEstimator"]
