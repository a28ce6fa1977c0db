"""Run an exported posecli model (ONNX or TorchScript) on images with bounding boxes.

This module needs only numpy, OpenCV and onnxruntime (``.onnx``) or torch (``.ts``/``.pt``): it
imports no posecli model, engine or training code, so a deployment can ship the model file and
this one module. It reproduces posecli's top-down test pipeline:

1. ``bboxes (N,4)`` xyxy → centre = midpoint, scale = size · padding (``GetBBoxCenterScale``),
   scale grown to the input aspect ratio (``TopdownAffine``);
2. ``cv2.warpAffine`` (bilinear, border 0) of the image into the ``(w, h)`` input crop with
   MMPose's warp matrix (UDP variant when the recipe used it);
3. the exported graph (preprocessing and, for argmax codecs, decoding inside);
4. back to the image: ``kp_img = kp_input / input_size · scale + centre - scale / 2``.

Files exported without an in-graph decode (DARK/UDP refinement, ``--no-decode``) are decoded
here with the codec from :mod:`posecli.codecs` (numpy/OpenCV only).

Example::

    import cv2, posecli.deploy
    model = posecli.deploy.load("rtmpose-t.onnx")
    keypoints, scores = model(cv2.imread("people.jpg"), [[10, 20, 200, 400]])
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from posecli.export.errors import DeployError
from posecli.export.metadata import TORCHSCRIPT_FILE, decode_metadata

ONNX_SUFFIXES = (".onnx",)
TORCHSCRIPT_SUFFIXES = (".ts", ".torchscript", ".jit")
DEPLOY_SUFFIXES = ONNX_SUFFIXES + TORCHSCRIPT_SUFFIXES


def is_deployed_model(path: str | Path) -> bool:
    """True when ``path`` names an exported model file (by its suffix)."""
    return Path(path).suffix.lower() in DEPLOY_SUFFIXES


# -- geometry (posecli.data.transforms numerics, restated without importing them) ------------
def bbox_center_scale(bboxes: np.ndarray, padding: float) -> tuple[np.ndarray, np.ndarray]:
    """``bboxes (N,4)`` xyxy → ``centre (N,2)``, ``scale (N,2) = size · padding`` (float32)."""
    b = np.asarray(bboxes, np.float32).reshape(-1, 4)
    return (b[:, :2] + b[:, 2:]) * np.float32(0.5), (b[:, 2:] - b[:, :2]) * np.float32(padding)


def fix_aspect_ratio(scale: np.ndarray, aspect_ratio: float) -> np.ndarray:
    """Grow ``(sw, sh)`` to ``w/h = aspect_ratio``: ``(sw, sw/ar)`` if ``sw > sh·ar`` else
    ``(sh·ar, sh)``."""
    scale = np.asarray(scale, np.float32)
    w, h = scale[..., 0], scale[..., 1]
    wide = w > h * aspect_ratio
    return np.stack(
        [np.where(wide, w, h * aspect_ratio), np.where(wide, w / aspect_ratio, h)], axis=-1
    ).astype(np.float32)


def warp_matrix(
    center: Sequence[float], scale: Sequence[float], size: tuple[int, int], udp: bool = False
) -> np.ndarray:
    """(2,3) image → crop affine (no rotation). Plain: ``x' = (w/sw)(x - cx) + w/2``;
    UDP: ``x' = ((w-1)/sw)(x - cx + sw/2)``, ``y' = ((h-1)/sh)(y - cy + sh/2)``."""
    cx, cy = float(center[0]), float(center[1])
    w, h = float(size[0]), float(size[1])
    if udp:
        sx, sy = (w - 1.0) / float(scale[0]), (h - 1.0) / float(scale[1])
        return np.array(
            [
                [sx, 0.0, sx * (-cx + 0.5 * float(scale[0]))],
                [0.0, sy, sy * (-cy + 0.5 * float(scale[1]))],
            ]
        )
    s = w / float(scale[0])
    return np.array([[s, 0.0, w / 2 - s * cx], [0.0, s, h / 2 - s * cy]])


def to_image_space(
    keypoints: np.ndarray, size: tuple[int, int], center: np.ndarray, scale: np.ndarray
) -> np.ndarray:
    """Input-crop keypoints ``(N,K,2)`` → image pixels given ``center``/``scale`` ``(N,2)``."""
    wh = np.array(size, np.float32)
    c = np.asarray(center, np.float32)[:, None]
    s = np.asarray(scale, np.float32)[:, None]
    return (keypoints.astype(np.float32) / wh * s + c - np.float32(0.5) * s).astype(np.float32)


# -- backends ---------------------------------------------------------------------------------
class _OrtBackend:
    """ONNX Runtime session; ``providers="auto"`` adds CUDA when onnxruntime has it."""

    def __init__(self, path: Path, threads: int | None, providers: Any) -> None:
        try:
            import onnxruntime as ort
        except ImportError as exc:  # pragma: no cover - onnxruntime is a dependency of export
            raise DeployError(
                "running .onnx models needs onnxruntime (pip install onnxruntime)"
            ) from exc
        opts = ort.SessionOptions()
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        if threads:
            opts.intra_op_num_threads = int(threads)
            opts.inter_op_num_threads = 1
        if providers in (None, "auto"):
            available = ort.get_available_providers()
            providers = [p for p in ("CUDAExecutionProvider",) if p in available]
            providers.append("CPUExecutionProvider")
        elif isinstance(providers, str):
            providers = [providers]
        try:
            self.session = ort.InferenceSession(str(path), opts, providers=list(providers))
        except Exception as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise DeployError(f"{path}: not a loadable ONNX model ({first})") from None
        self.input_name = self.session.get_inputs()[0].name
        shape = self.session.get_inputs()[0].shape
        self.fixed_batch = shape[0] if isinstance(shape[0], int) else None
        self.output_names = [o.name for o in self.session.get_outputs()]
        self.props = dict(self.session.get_modelmeta().custom_metadata_map)

    def metadata(self) -> dict[str, Any]:
        return decode_metadata(self.props)

    def __call__(self, images: np.ndarray) -> list[np.ndarray]:
        return list(self.session.run(None, {self.input_name: images}))


class _TorchScriptBackend:
    """A ``torch.jit`` module saved by ``posecli export --format torchscript``."""

    def __init__(self, path: Path, threads: int | None, device: str | None) -> None:
        import warnings

        import torch

        extra = {TORCHSCRIPT_FILE: ""}
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", FutureWarning)
                self.module = torch.jit.load(
                    str(path), map_location=device or "cpu", _extra_files=extra
                )
        except Exception as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise DeployError(f"{path}: not a loadable TorchScript model ({first})") from None
        if threads:
            torch.set_num_threads(int(threads))
        self._torch = torch
        self.device = device or "cpu"
        text = extra[TORCHSCRIPT_FILE]
        self._meta = json.loads(text) if text else {}
        self.output_names = list(self._meta.get("output_names") or [])
        self.fixed_batch = (
            self._meta.get("batch") if isinstance(self._meta.get("batch"), int) else None
        )

    def metadata(self) -> dict[str, Any]:
        return dict(self._meta)

    def __call__(self, images: np.ndarray) -> list[np.ndarray]:
        torch = self._torch
        with torch.inference_mode():
            out = self.module(torch.from_numpy(images).to(self.device))
        out = out if isinstance(out, (tuple, list)) else (out,)
        return [o.float().cpu().numpy() for o in out]


def _python_decoder(codec: dict[str, Any]) -> Any:
    """A posecli codec (numpy/OpenCV only) rebuilt from the metadata's ``codec`` table."""
    import importlib

    known = {
        "simcc": "posecli.codecs.simcc:SimCCLabel",
        "msra_heatmap": "posecli.codecs.msra_heatmap:MSRAHeatmap",
        "udp_heatmap": "posecli.codecs.udp_heatmap:UDPHeatmap",
        "megvii_heatmap": "posecli.codecs.megvii_heatmap:MegviiHeatmap",
        "regression": "posecli.codecs.regression:RegressionLabel",
        "integral_regression": "posecli.codecs.integral_regression:IntegralRegressionLabel",
    }
    params = dict(codec)
    name = params.pop("name", None)
    if name not in known:
        raise DeployError(
            f"codec {name!r} cannot be decoded outside the graph; re-export with decode"
        )
    mod, attr = known[name].split(":")
    return getattr(importlib.import_module(mod), attr)(**params)


# -- the deployable model ---------------------------------------------------------------------
class DeployedModel:
    """An exported model with its metadata: crops → keypoints, or images + boxes → keypoints.

    Attributes:
        metadata: the file's metadata (:mod:`posecli.export.metadata`).
        input_size: ``(w, h)`` of the crops.
        keypoint_names, skeleton_links, flip_indices: from the skeleton.
    """

    def __init__(self, path: Path, backend: Any) -> None:
        self.path = path
        self.backend = backend
        self.metadata: dict[str, Any] = backend.metadata()
        if "input_size" not in self.metadata:
            raise DeployError(f"{path}: no posecli metadata (was it written by posecli export?)")
        w, h = self.metadata["input_size"]
        self.input_size = (int(w), int(h))
        self.keypoint_names: list[str] = list(self.metadata.get("keypoint_names") or [])
        self.skeleton_links: list[list[int]] = list(self.metadata.get("skeleton_links") or [])
        self.flip_indices: list[int] = list(self.metadata.get("flip_indices") or [])
        self.padding = float(self.metadata.get("bbox_padding", 1.25))
        self.use_udp = bool(self.metadata.get("use_udp", False))
        self.output_names: list[str] = list(backend.output_names or self.metadata["output_names"])
        self.fixed_batch: int | None = backend.fixed_batch
        self._decoder = (
            None if self.metadata.get("decode") else _python_decoder(self.metadata["codec"])
        )
        mean = np.asarray(self.metadata.get("mean", [0, 0, 0]), np.float32).reshape(1, 3, 1, 1)
        std = np.asarray(self.metadata.get("std", [1, 1, 1]), np.float32).reshape(1, 3, 1, 1)
        self._norm = None if self.metadata.get("preprocess", True) else (mean, std)

    @property
    def num_keypoints(self) -> int:
        return len(self.flip_indices) or len(self.keypoint_names)

    # crops → outputs
    def run(self, images: np.ndarray) -> dict[str, np.ndarray]:
        """Graph outputs by name for ``images (B,3,h,w)`` float32 (what the graph takes)."""
        images = np.ascontiguousarray(images, np.float32)
        n = self.fixed_batch
        if n is None or images.shape[0] == n:
            outs = self.backend(images)
        else:
            parts: list[list[np.ndarray]] = []
            for i in range(0, images.shape[0], n):
                chunk = images[i : i + n]
                pad = n - chunk.shape[0]
                if pad:
                    chunk = np.concatenate([chunk, np.zeros((pad, *chunk.shape[1:]), np.float32)])
                parts.append([o[: n - pad] for o in self.backend(chunk)])
            outs = [np.concatenate(p) for p in zip(*parts, strict=True)]
        return dict(zip(self.output_names, outs, strict=True))

    def inputs(self, crops: np.ndarray) -> np.ndarray:
        """Crops ``(B,h,w,3)`` BGR → the graph's input ``(B,3,h,w)`` float32 (normalised here
        for files exported with ``--no-preprocess``)."""
        x = np.asarray(crops)
        if x.ndim == 3:
            x = x[None]
        x = x.transpose(0, 3, 1, 2).astype(np.float32)
        if self._norm is not None:
            if self.metadata.get("bgr_to_rgb", True):
                x = x[:, ::-1]
            x = (x - self._norm[0]) / self._norm[1]
        return np.ascontiguousarray(x)

    def predict_crops(self, crops: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Crops ``(B,h,w,3)`` BGR (uint8 or float 0–255) → keypoints ``(B,K,2)`` in crop
        pixels and scores ``(B,K)`` (float32)."""
        x = self.inputs(crops)
        if x.shape[0] == 0:
            k = self.num_keypoints
            return np.zeros((0, k, 2), np.float32), np.zeros((0, k), np.float32)
        return self.decode_outputs(self.run(x))

    def decode_outputs(self, outputs: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """Keypoints ``(B,K,2)`` in crop pixels and scores ``(B,K)`` from :meth:`run`'s outputs
        (the graph's own decode, or the codec's in Python)."""
        if self._decoder is None:
            return outputs["keypoints"].astype(np.float32), outputs["scores"].astype(np.float32)
        raw = [outputs[n] for n in self.output_names if n not in ("keypoints", "scores")]
        kp, scores = self._decoder.batch_decode(*raw)[:2]
        return np.asarray(kp, np.float32), np.asarray(scores, np.float32)

    # image + boxes → keypoints
    def crop(
        self, image: np.ndarray, bboxes: np.ndarray | Sequence[Sequence[float]]
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Warp each box of ``image (H,W,3)`` into a crop: ``crops (N,h,w,3)``, ``centers``,
        ``scales (N,2)`` (aspect-fixed), as the test pipeline does."""
        w, h = self.input_size
        center, scale = bbox_center_scale(np.asarray(bboxes, np.float32), self.padding)
        scale = fix_aspect_ratio(scale, w / h)
        crops = (
            np.stack(
                [
                    cv2.warpAffine(
                        image,
                        warp_matrix(c, s, (w, h), self.use_udp),
                        (w, h),
                        flags=cv2.INTER_LINEAR,
                    )
                    for c, s in zip(center, scale, strict=True)
                ]
            )
            if len(center)
            else np.zeros((0, h, w, 3), np.uint8)
        )
        return crops, center, scale

    def __call__(
        self, image: np.ndarray, bboxes: np.ndarray | Sequence[Sequence[float]] | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """``image (H,W,3)`` BGR uint8 and ``bboxes (N,4)`` xyxy pixels (default: the whole
        image) → keypoints ``(N,K,2)`` in image pixels and scores ``(N,K)``."""
        if bboxes is None:
            ih, iw = image.shape[:2]
            bboxes = [[0.0, 0.0, float(iw), float(ih)]]
        crops, center, scale = self.crop(image, bboxes)
        kp, scores = self.predict_crops(crops)
        return to_image_space(kp, self.input_size, center, scale), scores


def read_metadata(path: str | Path) -> dict[str, Any]:
    """The posecli metadata of an exported file (``.onnx`` via onnxruntime, ``.ts`` via torch)."""
    return load(path).metadata


def load(
    path: str | Path,
    *,
    threads: int | None = None,
    providers: Any = "auto",
    device: str | None = None,
) -> DeployedModel:
    """Load an exported model.

    Args:
        path: a ``.onnx`` file (onnxruntime) or a TorchScript file (``.ts``; torch).
        threads: intra-op threads (default: the runtime's own choice).
        providers: onnxruntime execution providers; ``"auto"`` = CUDA when available, then CPU.
        device: TorchScript device (``"cpu"``, ``"cuda"``).
    """
    p = Path(path)
    if not p.is_file():
        raise DeployError(f"no such model file: {p}")
    suffix = p.suffix.lower()
    if suffix in ONNX_SUFFIXES:
        backend: Any = _OrtBackend(p, threads, providers)
    elif suffix in TORCHSCRIPT_SUFFIXES:
        backend = _TorchScriptBackend(p, threads, device)
    else:
        raise DeployError(f"{p}: unknown model format {suffix!r}; expected .onnx or .ts")
    return DeployedModel(p, backend)


__all__ = [
    "DEPLOY_SUFFIXES",
    "DeployedModel",
    "bbox_center_scale",
    "fix_aspect_ratio",
    "is_deployed_model",
    "load",
    "read_metadata",
    "to_image_space",
    "warp_matrix",
]
