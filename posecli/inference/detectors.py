"""Person detectors from torchvision, built offline.

The networks are built with ``weights=None, weights_backbone=None`` (nothing is downloaded) and
then load weights from:

- a local file: a state dict, or a container with a ``"state_dict"`` / ``"model"`` entry;
- ``torchvision://NAME``: the published torchvision file of that detector, looked up **only**
  in the local torch hub cache (``torch.hub.get_dir()/checkpoints``). ``NAME`` is ``DEFAULT``,
  a weights-enum member (``COCO_V1``) or its full name
  (``FasterRCNN_MobileNet_V3_Large_FPN_Weights.COCO_V1``). A missing file is a one-line
  :class:`~posecli.errors.CheckpointError` naming the URL and the folder to put it in;
- ``None``: random initialisation (tests, plumbing).

A detector maps a BGR uint8 image ``(H, W, 3)`` to ``(boxes (M, 4) float32 xyxy, scores (M,))``
in image pixels, keeping only the COCO *person* category (label 1 of torchvision's 91).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from posecli.errors import CheckpointError

__all__ = [
    "DETECTOR_ARCHS",
    "TorchvisionDetector",
    "fasterrcnn_mobilenet_v3_large_fpn",
    "fcos_resnet50_fpn",
    "resolve_torchvision_weights",
    "retinanet_resnet50_fpn",
    "ssdlite320_mobilenet_v3_large",
]

PERSON_LABEL = 1  # torchvision COCO category index of "person"


@dataclass(frozen=True)
class _Arch:
    builder: str  # function in torchvision.models.detection
    weights_enum: str  # weights enum in torchvision.models.detection


DETECTOR_ARCHS: dict[str, _Arch] = {
    "fasterrcnn_mobilenet_v3_large_fpn": _Arch(
        "fasterrcnn_mobilenet_v3_large_fpn", "FasterRCNN_MobileNet_V3_Large_FPN_Weights"
    ),
    "retinanet_resnet50_fpn": _Arch("retinanet_resnet50_fpn", "RetinaNet_ResNet50_FPN_Weights"),
    "fcos_resnet50_fpn": _Arch("fcos_resnet50_fpn", "FCOS_ResNet50_FPN_Weights"),
    "ssdlite320_mobilenet_v3_large": _Arch(
        "ssdlite320_mobilenet_v3_large", "SSDLite320_MobileNet_V3_Large_Weights"
    ),
}


def _hub_checkpoints_dir() -> Path:
    return Path(torch.hub.get_dir()) / "checkpoints"


def resolve_torchvision_weights(arch: str, spec: str) -> Path:
    """Local path of the torchvision weights ``spec`` (``torchvision://NAME``) of ``arch``.

    Only the torch hub cache is consulted; nothing is downloaded.

    Raises:
        CheckpointError: unknown weights name, or the file is not in the cache.
    """
    from torchvision.models import detection

    name = spec.removeprefix("torchvision://")
    enum = getattr(detection, DETECTOR_ARCHS[arch].weights_enum)
    member_name = name.rsplit(".", 1)[-1] if name.startswith(enum.__name__) else name
    if member_name == "DEFAULT":
        member = enum.DEFAULT
    elif member_name in enum.__members__:
        member = enum[member_name]
    else:
        known = ", ".join(["DEFAULT", *enum.__members__])
        raise CheckpointError(f"{spec}: unknown weights for {arch} (known: {known})")
    file_name = os.path.basename(member.url)
    path = _hub_checkpoints_dir() / file_name
    if not path.is_file():
        raise CheckpointError(
            f"{spec}: {file_name} is not in the torch hub cache; download {member.url} and put "
            f"it in {path.parent} (or pass a weights file path)"
        )
    return path


def _load_state_dict(path: Path) -> dict[str, torch.Tensor]:
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many kinds for a bad file
        raise CheckpointError(f"{path}: cannot load detector weights: {exc}") from exc
    if isinstance(obj, dict):
        for key in ("state_dict", "model"):
            if isinstance(obj.get(key), dict):
                obj = obj[key]
                break
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise CheckpointError(f"{path}: not a state dict of tensors")
    return obj


class TorchvisionDetector:
    """A torchvision detection network returning person boxes.

    Args:
        arch: one of :data:`DETECTOR_ARCHS`.
        weights: local file, ``torchvision://NAME`` or ``None`` (random initialisation).
        device: torch device string.
        label: category index kept (torchvision COCO: 1 = person).
        **kwargs: forwarded to the torchvision builder (``min_size``, ``box_score_thresh``...).

    Raises:
        CheckpointError: weights missing, unreadable or not matching the network.
    """

    def __init__(
        self,
        arch: str,
        weights: str | Path | None = None,
        *,
        device: str = "cpu",
        label: int = PERSON_LABEL,
        **kwargs: Any,
    ) -> None:
        from torchvision.models import detection

        if arch not in DETECTOR_ARCHS:
            raise CheckpointError(
                f"unknown detector architecture {arch!r} ({', '.join(DETECTOR_ARCHS)})"
            )
        self.arch, self.label, self.device = arch, label, torch.device(device)
        builder = getattr(detection, DETECTOR_ARCHS[arch].builder)
        self.model = builder(weights=None, weights_backbone=None, num_classes=91, **kwargs)
        if weights is not None:
            text = str(weights)
            path = (
                resolve_torchvision_weights(arch, text)
                if text.startswith("torchvision://")
                else Path(text)
            )
            if not path.is_file():
                raise CheckpointError(f"{path}: detector weights file not found")
            self._load(path)
        self.model.eval().to(self.device)

    def _load(self, path: Path) -> None:
        state = _load_state_dict(path)
        result = self.model.load_state_dict(state, strict=False)
        # Published weights were saved with frozen batch norms, which have no batch counter.
        missing = [k for k in result.missing_keys if not k.endswith("num_batches_tracked")]
        if missing or result.unexpected_keys:
            bad = (missing or result.unexpected_keys)[:3]
            raise CheckpointError(
                f"{path}: weights do not match {self.arch} "
                f"({len(missing)} missing, {len(result.unexpected_keys)} unexpected, e.g. {bad})"
            )

    @torch.inference_mode()
    def detect(self, images: Sequence[np.ndarray]) -> list[tuple[np.ndarray, np.ndarray]]:
        """Detect in a batch of BGR uint8 images ``(H, W, 3)``.

        Returns:
            Per image ``(boxes (M, 4) float32 xyxy, scores (M,) float32)`` of the kept label,
            by decreasing score.
        """
        tensors = [
            torch.from_numpy(np.ascontiguousarray(img[:, :, ::-1]))
            .to(self.device)
            .permute(2, 0, 1)
            .float()
            / 255.0
            for img in images
        ]
        if not tensors:
            return []
        outputs = self.model(tensors)
        results = []
        for out in outputs:
            keep = out["labels"] == self.label
            boxes = out["boxes"][keep].float().cpu().numpy().reshape(-1, 4)
            scores = out["scores"][keep].float().cpu().numpy().reshape(-1)
            order = np.argsort(-scores, kind="stable")
            results.append((boxes[order].astype(np.float32), scores[order].astype(np.float32)))
        return results

    def __call__(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Detect in one BGR uint8 image; see :meth:`detect`."""
        return self.detect([image])[0]


def fasterrcnn_mobilenet_v3_large_fpn(
    weights: str | None = None, device: str = "cpu", **kwargs: Any
) -> TorchvisionDetector:
    """Faster R-CNN, MobileNetV3-Large FPN backbone (torchvision), person boxes."""
    return TorchvisionDetector(
        "fasterrcnn_mobilenet_v3_large_fpn", weights, device=device, **kwargs
    )


def retinanet_resnet50_fpn(
    weights: str | None = None, device: str = "cpu", **kwargs: Any
) -> TorchvisionDetector:
    """RetinaNet, ResNet-50 FPN backbone (torchvision), person boxes."""
    return TorchvisionDetector("retinanet_resnet50_fpn", weights, device=device, **kwargs)


def fcos_resnet50_fpn(
    weights: str | None = None, device: str = "cpu", **kwargs: Any
) -> TorchvisionDetector:
    """FCOS, ResNet-50 FPN backbone (torchvision), person boxes."""
    return TorchvisionDetector("fcos_resnet50_fpn", weights, device=device, **kwargs)


def ssdlite320_mobilenet_v3_large(
    weights: str | None = None, device: str = "cpu", **kwargs: Any
) -> TorchvisionDetector:
    """SSDlite 320, MobileNetV3-Large backbone (torchvision), person boxes."""
    return TorchvisionDetector("ssdlite320_mobilenet_v3_large", weights, device=device, **kwargs)
