"""A predict backend for exported files, with the interface of
:class:`posecli.inference.predictor.Predictor` that :func:`posecli.inference.run.run_predict`
uses (``crops``, ``to_tensor``, ``forward``, ``decode``, ``infer``, ``predict``,
``input_size``, ``num_keypoints``, ``batch_size``, ``skeleton``, ``device``).

It runs on :mod:`posecli.deploy` (onnxruntime / torch.jit) and imports neither torch (for ONNX)
nor posecli's model code.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from posecli.deploy import DeployedModel, load, to_image_space
from posecli.errors import PoseCliError
from posecli.inference.crops import CropBatch, infer_in_batches


@dataclass(frozen=True)
class DeployDevice:
    """Where the exported model runs (``type`` is ``"cpu"`` or ``"cuda"``, as torch.device)."""

    type: str

    def __str__(self) -> str:
        return self.type


def _skeleton(meta: dict[str, Any]) -> Any:
    """The registered skeleton named in the metadata when its keypoints match, else None."""
    name = meta.get("skeleton")
    if not name:
        return None
    try:
        from posecli.data.metainfo import load_skeleton

        skel = load_skeleton(name)
    except Exception:
        return None
    names = meta.get("keypoint_names") or []
    return skel if not names or list(skel.keypoint_names) == list(names) else None


class DeployedPredictor:
    """Top-down pose estimation with an exported ``.onnx`` / ``.ts`` file.

    Args:
        path: the exported file.
        batch_size: crops per run.
        threads: runtime intra-op threads (default: the runtime's choice).
        device: ``auto``/``cpu``/``cuda`` (CUDA provider for ONNX Runtime when available).
        flip_test: must be ``None`` or equal to what the file was exported with (the flip test
            is part of the graph: ``posecli export --flip-test``).
    """

    def __init__(
        self,
        path: str | Path,
        *,
        batch_size: int = 16,
        threads: int | None = None,
        device: str = "auto",
        flip_test: bool | None = None,
    ) -> None:
        if batch_size < 1:
            raise PoseCliError(f"batch_size must be >= 1, got {batch_size}")
        providers: Any = "auto" if device in ("auto", "cuda") else ["CPUExecutionProvider"]
        ts_device = "cuda" if str(device).startswith("cuda") else "cpu"
        self.model: DeployedModel = load(
            path, threads=threads, providers=providers, device=ts_device
        )
        meta = self.model.metadata
        if flip_test is not None and bool(flip_test) != bool(meta.get("flip_test", False)):
            state = "with" if meta.get("flip_test") else "without"
            raise PoseCliError(
                f"{path} was exported {state} flip test; re-export with "
                f"{'--flip-test' if flip_test else '--no-flip-test'} to change it"
            )
        self.source = str(path)
        self.recipe = None
        self.batch_size = int(batch_size)
        self.input_size = self.model.input_size
        self.padding = self.model.padding
        self.use_udp = self.model.use_udp
        self.num_keypoints = self.model.num_keypoints
        self.skeleton = _skeleton(meta)
        used = getattr(self.model.backend, "session", None)
        on_cuda = used is not None and "CUDAExecutionProvider" in used.get_providers()
        self.device = DeployDevice("cuda" if on_cuda or ts_device == "cuda" else "cpu")

    @property
    def flip_test(self) -> bool:
        return bool(self.model.metadata.get("flip_test", False))

    def crops(self, image: np.ndarray, boxes: Any = None) -> CropBatch:
        """Warp each box (``(M,4)`` xyxy, a ``Boxes``, or ``None`` = whole image) into a crop."""
        if boxes is None:
            h, w = image.shape[:2]
            xyxy = np.array([[0, 0, w, h]], np.float32)
        else:
            xyxy = np.asarray(getattr(boxes, "xyxy", boxes), np.float32).reshape(-1, 4)
        imgs, centers, scales = self.model.crop(image, xyxy)
        return CropBatch(imgs, centers.astype(np.float32), scales.astype(np.float32))

    def to_tensor(self, images: np.ndarray) -> np.ndarray:
        """Crops ``(M,h,w,3)`` → the graph input ``(M,3,h,w)`` float32."""
        return self.model.inputs(images)

    def forward(self, inputs: np.ndarray) -> dict[str, np.ndarray]:
        """Graph outputs by name."""
        return self.model.run(inputs)

    def decode(
        self, outputs: dict[str, np.ndarray], centers: np.ndarray, scales: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Keypoints ``(M,K,2)`` in image pixels and scores ``(M,K)``."""
        kp, scores = self.model.decode_outputs(outputs)
        return to_image_space(kp, self.input_size, centers, scales), scores

    def infer(self, crops: Any) -> tuple[np.ndarray, np.ndarray]:
        """Keypoints (image pixels) and scores of a crop batch, ``batch_size`` per run."""
        return infer_in_batches(crops, self.batch_size, self.num_keypoints, self._run_slice)

    def _run_slice(
        self, images: np.ndarray, centers: np.ndarray, scales: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        return self.decode(self.forward(self.to_tensor(images)), centers, scales)

    def predict(self, image: np.ndarray, bboxes: Any = None) -> tuple[np.ndarray, np.ndarray]:
        """Keypoints ``(N,K,2)`` in image pixels and scores ``(N,K)`` of one BGR image."""
        return self.infer(self.crops(image, bboxes))


__all__ = ["DeployDevice", "DeployedPredictor"]
