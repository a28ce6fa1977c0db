"""Batched top-down pose inference on images: the :class:`Predictor` behind ``posecli predict``.

Preprocessing is the validation pipeline of the checkpoint's recipe, done the same way:
each box ``(x1, y1, x2, y2)`` → centre ``(x1+x2)/2`` and scale ``(w, h) · padding`` (the
``get_bbox_center_scale`` padding of ``data.val.pipeline``, 1.25 by default), grown to the
input aspect ratio, then one ``cv2.warpAffine`` (bilinear, black border) into the model input
``(w, h)`` (UDP matrix when ``topdown_affine.use_udp``). Crops from several boxes and images go
through the model together, ``batch_size`` at a time. Head outputs are decoded by the codec into
input-crop pixels and mapped back to **image pixels** (pixel-centre convention) with
``kp_img = kp_input / input_size · input_scale + input_center - input_scale / 2`` — exactly
:meth:`PoseModel.predict`, split in two so that model and decode time can be measured apart.

Example::

    from posecli import Predictor

    predictor = Predictor("work_dirs/rtmpose-mouse/best.pt")
    result = predictor.predict("frame.png")                  # whole-image box
    result.keypoints, result.keypoint_scores                 # (N, K, 2), (N, K)
    results = predictor.predict([img_a, img_b], bboxes=[boxes_a, boxes_b])
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch

from posecli.data.transforms.geometry import fix_aspect_ratio, get_udp_warp_matrix, get_warp_matrix
from posecli.errors import CheckpointError, PoseCliError
from posecli.inference.boxes import Boxes
from posecli.inference.crops import CropBatch, drop_empty_boxes, infer_in_batches
from posecli.inference.setup import DEFAULT_MODEL
from posecli.inference.sources import Frame, read_image, to_bgr_uint8
from posecli.inference.writers import FramePrediction
from posecli.models.pose_model import PoseModel, to_image_space

__all__ = ["DEFAULT_MODEL", "CropBatch", "Predictor", "load_pose_model", "resolve_device"]

log = logging.getLogger(__name__)


_PADDING_NAMES = {"get_bbox_center_scale", "GetBBoxCenterScale"}
_AFFINE_NAMES = {"topdown_affine", "TopdownAffine"}


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``auto`` → CUDA when available, else CPU; otherwise ``torch.device(device)``."""
    if isinstance(device, torch.device):
        return device
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except RuntimeError as exc:
        raise PoseCliError(f"--device: {exc}") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise PoseCliError(f"--device {device}: CUDA is not available on this machine")
    return dev


def _zoo_recipe(name: str) -> Path:
    """The shipped recipe of a zoo model name (``rtmpose-m`` → ``posecli/recipes/coco/rtmpose-m.toml``)."""
    from posecli.recipe.loader import SHIPPED_RECIPES

    path = SHIPPED_RECIPES / "coco" / f"{name}.toml"
    if path.is_file():
        return path
    raise CheckpointError(f"mmpose://{name}: no shipped recipe coco/{name}.toml to build it from")


def load_pose_model(spec: str | Path) -> tuple[PoseModel, Any, Any]:
    """Load ``(model, recipe, skeleton)`` from a checkpoint path or a zoo name.

    Args:
        spec: a posecli checkpoint file, or ``mmpose://NAME`` / ``NAME`` of
            :data:`posecli.models.weights.MMPOSE_CHECKPOINTS` (downloaded once into the cache).

    Raises:
        CheckpointError: missing file, unknown name, or weights not obtainable (offline).
    """
    from posecli.api import build_model, load_checkpoint
    from posecli.models.weights import MMPOSE_CHECKPOINTS, load_pretrained
    from posecli.recipe import load_recipe

    text = str(spec)
    name = text.removeprefix("mmpose://")
    if text.startswith("mmpose://") or (name in MMPOSE_CHECKPOINTS and not Path(text).exists()):
        if name not in MMPOSE_CHECKPOINTS:
            known = ", ".join(sorted(MMPOSE_CHECKPOINTS))
            raise CheckpointError(f"unknown model {name!r}; known: {known}")
        recipe = load_recipe(_zoo_recipe(name))
        model = build_model(recipe, pretrained=False)
        load_pretrained(model, f"mmpose://{name}", strict=True)
        model.eval()
        return model, recipe, _skeleton_of(recipe, None)
    path = Path(text)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint file")
    model, recipe = load_checkpoint(path)
    return model, recipe, _skeleton_of(recipe, path)


def _skeleton_of(recipe: Any, checkpoint: Path | None) -> Any:
    """The recipe's skeleton, or the one stored in the checkpoint's metainfo."""
    from posecli.data.metainfo import load_skeleton

    name = getattr(recipe.data, "skeleton", None)
    if name:
        try:
            return load_skeleton(name)
        except PoseCliError:
            pass
    if checkpoint is not None:
        from posecli.engine.checkpoint import read_checkpoint

        meta = read_checkpoint(checkpoint).get("metainfo") or {}
        if meta.get("keypoints"):
            try:
                return load_skeleton(meta)
            except PoseCliError:
                return None
    return None


def _val_pipeline(recipe: Any) -> tuple[float, bool]:
    """``(padding, use_udp)`` from the recipe's val (or test) pipeline; MMPose defaults else."""
    padding, use_udp = 1.25, False
    split = getattr(recipe.data, "val", None) or getattr(recipe.data, "test", None)
    for step in getattr(split, "pipeline", None) or []:
        table = step.as_dict() if hasattr(step, "as_dict") else dict(step)
        name = table.get("name", table.get("type"))
        if name in _PADDING_NAMES:
            padding = float(table.get("padding", padding))
        elif name in _AFFINE_NAMES:
            use_udp = bool(table.get("use_udp", use_udp))
    return padding, use_udp


def _as_boxes(bboxes: Any, size: tuple[int, int]) -> Boxes:
    """``None`` (whole image), :class:`Boxes`, ``(M, 4)`` or ``(M, 5)`` (with score) xyxy."""
    if bboxes is None:
        return Boxes(np.array([[0, 0, size[0], size[1]]], np.float32), np.ones(1, np.float32))
    if isinstance(bboxes, Boxes):
        return bboxes
    arr = np.asarray(bboxes, np.float32)
    if arr.size == 0:
        return Boxes.empty()
    arr = arr.reshape(-1, arr.shape[-1])
    if arr.shape[1] not in (4, 5):
        raise PoseCliError(f"bboxes must be (M, 4) or (M, 5) xyxy[score], got {arr.shape}")
    scores = arr[:, 4] if arr.shape[1] == 5 else np.ones(len(arr), np.float32)
    return Boxes(arr[:, :4], scores)


def _as_image(item: Any) -> tuple[np.ndarray, int | None, float | None, str | None]:
    """``(image, frame index, time, name)`` of an image array, a path or a :class:`Frame`."""
    if isinstance(item, Frame):
        return item.image, item.index, item.time_s, item.name
    if isinstance(item, (str, Path)):
        return read_image(item), None, None, Path(item).name
    return to_bgr_uint8(np.asarray(item)), None, None, None


class Predictor:
    """Top-down pose estimation with a posecli checkpoint or a zoo model.

    Args:
        model: a checkpoint path, a zoo name (``rtmpose-m`` / ``mmpose://rtmpose-m``), or a
            built :class:`PoseModel` (then pass ``recipe`` for its preprocessing).
        device: ``auto``, ``cpu``, ``cuda``, ``cuda:N``.
        batch_size: crops per forward pass.
        flip_test: override the recipe's flip test (``None``: as the recipe says).
        recipe: the recipe of a ``PoseModel`` passed directly.
        skeleton: override the skeleton (names, links, colours) used for outputs.
        channels_last: run convolutions channels-last on CPU (default: on for CPU).

    Attributes:
        input_size: model input ``(w, h)``.
        padding: box padding of the validation pipeline.
        use_udp: UDP warp matrix.
    """

    def __init__(
        self,
        model: str | Path | PoseModel,
        *,
        device: str | torch.device = "auto",
        batch_size: int = 16,
        flip_test: bool | None = None,
        recipe: Any = None,
        skeleton: Any = None,
        channels_last: bool | None = None,
    ) -> None:
        if batch_size < 1:
            raise PoseCliError(f"batch_size must be >= 1, got {batch_size}")
        if isinstance(model, PoseModel):
            self.model, self.recipe = model, recipe
            self.skeleton = skeleton if skeleton is not None else _recipe_skeleton(recipe)
            self.source = type(model).__name__
        else:
            self.model, self.recipe, found = load_pose_model(model)
            self.skeleton = skeleton if skeleton is not None else found
            self.source = str(model)
        self.device = resolve_device(device)
        self.batch_size = int(batch_size)
        if flip_test is not None:
            self.model.test_cfg = self.model.test_cfg.model_copy(update={"flip_test": flip_test})
        self.model.to(self.device).eval()
        if channels_last if channels_last is not None else self.device.type == "cpu":
            self.model.set_channels_last(True)
        codec_size = getattr(self.model.codec, "input_size", None)
        if codec_size is None and self.recipe is not None:
            codec_size = self.recipe.codec.as_dict().get("input_size")
        if codec_size is None:
            raise PoseCliError("cannot tell the model's input size (no codec input_size)")
        self.input_size = (int(codec_size[0]), int(codec_size[1]))
        self.padding, self.use_udp = (
            _val_pipeline(self.recipe) if self.recipe is not None else (1.25, False)
        )
        self.num_keypoints = int(self.model.num_keypoints or 0)
        if self.skeleton is not None and self.skeleton.num_keypoints != self.num_keypoints:
            raise PoseCliError(
                f"skeleton {self.skeleton.name!r} has {self.skeleton.num_keypoints} keypoints, "
                f"the model predicts {self.num_keypoints}"
            )

    @property
    def flip_test(self) -> bool:
        """Whether test-time flipping is on."""
        return bool(self.model.test_cfg.flip_test)

    # -- preprocessing ---------------------------------------------------------------------
    def crops(self, image: np.ndarray, boxes: Boxes | np.ndarray | None = None) -> CropBatch:
        """Warp each box of ``image`` (BGR uint8 ``(H, W, 3)``) into a model input crop.

        Args:
            image: the image.
            boxes: ``(M, 4)`` xyxy image pixels (``None``: the whole image).

        Returns:
            A :class:`CropBatch` of ``M`` crops ``(M, h, w, 3)`` with their centres and scales.
        """
        size = (int(image.shape[1]), int(image.shape[0]))
        xyxy = _as_boxes(boxes, size).xyxy.reshape(-1, 4).astype(np.float32)
        w, h = self.input_size
        centers = (xyxy[:, :2] + xyxy[:, 2:]) * np.float32(0.5)
        scales = fix_aspect_ratio((xyxy[:, 2:] - xyxy[:, :2]) * np.float32(self.padding), w / h)
        out = np.empty((len(xyxy), h, w, 3), np.uint8)
        make = get_udp_warp_matrix if self.use_udp else get_warp_matrix
        for i in range(len(xyxy)):
            m = make(centers[i], scales[i], 0.0, (w, h))
            out[i] = cv2.warpAffine(image, m, (w, h), flags=cv2.INTER_LINEAR)
        return CropBatch(out, centers.astype(np.float32), scales.astype(np.float32))

    # -- model -----------------------------------------------------------------------------
    def to_tensor(self, images: np.ndarray) -> torch.Tensor:
        """``(M, h, w, 3)`` uint8 crops → ``(M, 3, h, w)`` uint8 tensor on the device
        (channels-last view, no copy on CPU), as the data loader's collate makes it."""
        return torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).to(self.device)

    def forward(self, inputs: torch.Tensor) -> Any:
        """Head outputs after post-processing and flip-test merging (``inputs`` ``(M,3,h,w)``)."""
        flip_indices = self.model.flip_indices if self.flip_test else None
        with torch.inference_mode():
            return self.model.predict_outputs(inputs, flip_indices)

    def decode(
        self, outputs: Any, centers: np.ndarray, scales: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Decode head outputs into image pixels: ``(M, K, 2)`` float32 and scores ``(M, K)``."""
        with torch.inference_mode():
            kp, scores = self.model.head.decode(outputs, self.model.codec)
            kp = to_image_space(
                kp,
                self.input_size[0],
                self.input_size[1],
                torch.as_tensor(centers),
                torch.as_tensor(scales),
            )
        return (
            kp.float().cpu().numpy().astype(np.float32),
            scores.float().cpu().numpy().astype(np.float32),
        )

    def infer(self, crops: CropBatch) -> tuple[np.ndarray, np.ndarray]:
        """Keypoints ``(M, K, 2)`` (image pixels) and scores ``(M, K)`` of a crop batch,
        ``batch_size`` crops per forward pass."""
        return infer_in_batches(crops, self.batch_size, self.num_keypoints, self._run_slice)

    def _run_slice(
        self, images: np.ndarray, centers: np.ndarray, scales: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        return self.decode(self.forward(self.to_tensor(images)), centers, scales)

    # -- public ----------------------------------------------------------------------------
    def predict(
        self, image_or_frames: Any, bboxes: Any = None
    ) -> FramePrediction | list[FramePrediction]:
        """Pose of every box of one image or of several.

        Args:
            image_or_frames: one image (BGR uint8 ``(H, W, 3)``, greyscale or BGRA are
                converted; a file path; a :class:`Frame`) or a sequence of them.
            bboxes: for one image, ``(M, 4)`` xyxy boxes (or ``(M, 5)`` with scores, or
                :class:`Boxes`); for a sequence, one such entry per image. ``None``: the whole
                image is the box.

        Returns:
            For one image a :class:`FramePrediction` (``keypoints (N, K, 2)`` image pixels,
            ``keypoint_scores (N, K)``, ``bboxes (N, 4)`` xyxy, ``bbox_scores (N,)``); for a
            sequence a list of them, in order. Crops of all images are batched together.
        """
        single = isinstance(image_or_frames, (str, Path, Frame)) or (
            isinstance(image_or_frames, np.ndarray) and image_or_frames.ndim in (2, 3)
        )
        items = [image_or_frames] if single else list(image_or_frames)
        if single:
            per_image = [bboxes]
        elif bboxes is None:
            per_image = [None] * len(items)
        else:
            per_image = list(bboxes)
            if len(per_image) != len(items):
                raise PoseCliError(f"{len(per_image)} box entries for {len(items)} images")
        metas, boxes, parts = [], [], []
        for i, (item, b) in enumerate(zip(items, per_image, strict=True)):
            image, index, time_s, name = _as_image(item)
            size = (int(image.shape[1]), int(image.shape[0]))
            bx = drop_empty_boxes(_as_boxes(b, size))
            metas.append((i if index is None else index, time_s, name))
            boxes.append(bx)
            parts.append(self.crops(image, bx))
        kps, scs = self.infer(CropBatch.concat(parts, self.input_size))
        results, start = [], 0
        for (index, time_s, name), bx in zip(metas, boxes, strict=True):
            n = len(bx)
            results.append(
                FramePrediction(
                    index,
                    time_s,
                    kps[start : start + n],
                    scs[start : start + n],
                    bx.xyxy,
                    bx.scores,
                    name=name,
                )
            )
            start += n
        return results[0] if single else results


def _recipe_skeleton(recipe: Any) -> Any:
    if recipe is None:
        return None
    return _skeleton_of(recipe, None)


def skeleton_dict(skeleton: Any) -> Mapping[str, Any] | None:
    """JSON-ready skeleton for writers (names, links, RGB colours, flip indices, sigmas)."""
    from posecli.inference.writers import skeleton_to_dict

    return skeleton_to_dict(skeleton)
