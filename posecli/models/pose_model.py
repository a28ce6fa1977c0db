"""The top-down pose estimator: preprocessing → backbone → neck → head.

Three modes:

- ``model(images)`` (tensor mode, what export traces): images ``(B,3,H,W)`` BGR 0–255 (float or
  uint8) → the head's raw outputs (SimCC heads ``(simcc_x, simcc_y)``, heatmap heads heatmaps).
- ``model.loss(batch)`` → ``dict[str, Tensor]`` holding ``"loss"``.
- ``model.predict(batch)`` → keypoints ``(B,K,2)`` in image pixels and scores ``(B,K)``,
  with the recipe's flip test.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn

from posecli.codecs.rotation import QUARTER_TURNS, average_views, rotate_crops
from posecli.models.heads.base import BaseHead
from posecli.recipe.schema import TestConfig
from posecli.runtime.geometry import crop_to_image


class PoseModel(nn.Module):
    """Top-down model.

    Args:
        backbone: module mapping normalised images to a tuple of feature maps.
        head: a :class:`~posecli.models.heads.base.BaseHead`.
        neck: optional module between them.
        codec: decodes head outputs into input-crop keypoints (``batch_decode``); needed by
            :meth:`predict` only.
        num_keypoints: K.
        flip_indices: keypoint index under a horizontal flip (needed for flip test).
        test_cfg: flip-test settings (``recipe.model.test``).
        mean, std: normalisation in RGB order (buffers outside the state dict).
        bgr_to_rgb: input images are BGR (posecli's convention) and are converted.
        channels_last: run convolutions in channels-last memory format (faster on CPU).
    """

    mean: torch.Tensor
    std: torch.Tensor

    def __init__(
        self,
        backbone: nn.Module,
        head: BaseHead,
        neck: nn.Module | None = None,
        codec: Any = None,
        num_keypoints: int | None = None,
        flip_indices: Sequence[int] | None = None,
        test_cfg: TestConfig | None = None,
        mean: Sequence[float] = (123.675, 116.28, 103.53),
        std: Sequence[float] = (58.395, 57.12, 57.375),
        bgr_to_rgb: bool = True,
        channels_last: bool = False,
    ) -> None:
        super().__init__()
        self.backbone = backbone
        if neck is not None:
            self.neck = neck
        self.head = head
        self.codec = codec
        self.num_keypoints = num_keypoints
        self.flip_indices = list(flip_indices) if flip_indices is not None else None
        self.test_cfg = test_cfg or TestConfig()
        self.bgr_to_rgb = bgr_to_rgb
        self.register_buffer(
            "mean", torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1), persistent=False
        )
        self.register_buffer(
            "std", torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1), persistent=False
        )
        self.channels_last = False
        if channels_last:
            self.set_channels_last(True)

    # -- configuration ------------------------------------------------------------------
    def set_channels_last(self, enabled: bool = True) -> PoseModel:
        """Switch the parameters' and inputs' memory format (outputs are unaffected)."""
        self.to(memory_format=torch.channels_last if enabled else torch.contiguous_format)
        self.channels_last = enabled
        return self

    def fuse(self) -> PoseModel:
        """Fold BatchNorm into convolutions (eval only; changes the state dict)."""
        from posecli.models.fuse import fuse_conv_bn

        self.eval()
        fuse_conv_bn(self)
        if self.channels_last:
            self.set_channels_last(True)
        return self

    # -- tensor mode ----------------------------------------------------------------------
    def preprocess(self, images: torch.Tensor) -> torch.Tensor:
        """BGR 0–255 ``(B,3,H,W)`` → normalised RGB float32."""
        x = images.float()
        if self.bgr_to_rgb:
            x = x.flip(1)
        x = (x - self.mean) / self.std
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return x

    def extract_feats(self, images: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Preprocess, backbone and neck: a tuple of feature maps."""
        feats = self.backbone(self.preprocess(images))
        if hasattr(self, "neck"):
            feats = self.neck(feats)
        return tuple(feats)

    def forward(self, images: torch.Tensor) -> Any:
        """Raw head outputs for images ``(B,3,H,W)`` BGR 0–255."""
        return self.head(self.extract_feats(images))

    # -- training -------------------------------------------------------------------------
    def loss(self, batch: Mapping[str, Any]) -> dict[str, torch.Tensor]:
        """Loss terms for a collated batch (``inputs`` plus the codec's targets)."""
        return self.head.loss(self.extract_feats(batch["inputs"]), batch)

    # -- inference ------------------------------------------------------------------------
    def _flip_indices(self, batch: Mapping[str, Any]) -> list[int]:
        fi = batch.get("flip_indices")
        if fi is not None:
            t = torch.as_tensor(fi)
            return (t[0] if t.ndim == 2 else t).tolist()
        if self.flip_indices is None:
            raise ValueError("flip test needs flip_indices (from the skeleton or the batch)")
        return self.flip_indices

    def effective_test_cfg(self) -> TestConfig:
        """``test_cfg`` with unset flip options filled from the codec's ``flip_config``."""
        cfg = self.test_cfg
        flip_config = getattr(self.codec, "flip_config", None) or {}
        updates: dict[str, Any] = {}
        mode = flip_config.get("mode")
        if cfg.flip_mode is None and mode in ("heatmap", "udp_combined", "offset"):
            updates["flip_mode"] = mode
        if cfg.shift_heatmap is None and "shift_heatmap" in flip_config:
            updates["shift_heatmap"] = bool(flip_config["shift_heatmap"])
        return cfg.model_copy(update=updates) if updates else cfg

    @torch.no_grad()
    def predict_outputs(
        self,
        images: torch.Tensor,
        flip_indices: Sequence[int] | None = None,
        flip_test: bool | None = None,
        rotation_test: bool | None = None,
    ) -> Any:
        """Head outputs after test-time post-processing, (optionally) flip-test merging and,
        with the rotation test, averaged over the crop's four quarter turns (each turned
        back, :mod:`posecli.codecs.rotation`). ``flip_test``/``rotation_test`` override
        ``test_cfg``'s."""
        flip = self.test_cfg.flip_test if flip_test is None else flip_test
        rotate = self.test_cfg.rotation_test if rotation_test is None else rotation_test
        if flip and flip_indices is None:
            flip_indices = self._flip_indices({})
        mirror = flip_indices if flip else None
        if not rotate:
            return self._view_outputs(images, mirror)
        views = [
            self.head.unrotate(self._view_outputs(rotate_crops(images, k), mirror), k)
            for k in QUARTER_TURNS
        ]
        return average_views(views)

    def _view_outputs(self, images: torch.Tensor, flip_indices: Sequence[int] | None) -> Any:
        """Post-processed head outputs of ``images``, merged with their mirror when
        ``flip_indices`` is given."""
        outputs = self.head.postprocess(self(images))
        if flip_indices is not None:
            flipped = self.head.postprocess(self(images.flip(-1)))
            back = self.head.flip_back(flipped, flip_indices, self.effective_test_cfg())
            outputs = self.head.merge(outputs, back)
        return outputs

    @torch.no_grad()
    def predict(self, batch: Mapping[str, Any]) -> tuple[torch.Tensor, torch.Tensor]:
        """Keypoints ``(B,K,2)`` in image pixels and scores ``(B,K)``.

        Needs ``batch["inputs"]`` and the meta ``input_center (B,2)``, ``input_scale (B,2)``;
        without them keypoints stay in input-crop pixels. Back to the image (reference §2):
        ``kp_img = kp_input / input_size · input_scale + input_center - 0.5 · input_scale``.
        """
        images = batch["inputs"]
        flip_indices = self._flip_indices(batch) if self.test_cfg.flip_test else None
        outputs = self.predict_outputs(images, flip_indices)
        kp, scores = self.head.decode(outputs, self.codec)
        if "input_center" in batch and "input_scale" in batch:
            kp = to_image_space(
                kp,
                images.shape[-1],
                images.shape[-2],
                torch.as_tensor(batch["input_center"]),
                torch.as_tensor(batch["input_scale"]),
            )
        return kp, scores


def to_image_space(
    keypoints: torch.Tensor, input_w: int, input_h: int, center: torch.Tensor, scale: torch.Tensor
) -> torch.Tensor:
    """Input-crop keypoints ``(B,K,2)`` → image pixels, given ``center``/``scale`` ``(B,2)``
    (:func:`posecli.runtime.geometry.crop_to_image`, the one copy of this mapping)."""
    return crop_to_image(keypoints, (input_w, input_h), center, scale)
