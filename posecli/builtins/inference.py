"""Built-in detectors for ``posecli predict --detector NAME``: torchvision's person detectors
(offline) and ``bottomup``, a posecli bottom-up checkpoint's instances as boxes.

Each factory is ``factory(weights=None, device="cpu", **builder_kwargs) -> TorchvisionDetector``;
``weights`` is a local file or ``torchvision://DEFAULT`` (from the torch hub cache only).
"""

from __future__ import annotations

from posecli.hookspecs import RegisterCallback, hookimpl

_MODULE = "posecli.inference.detectors"

_DETECTORS: tuple[tuple[str, tuple[str, ...], str], ...] = (
    (
        "fasterrcnn_mobilenet_v3_large_fpn",
        ("faster_rcnn", "FasterRCNN"),
        "Faster R-CNN MobileNetV3-Large FPN person detector (torchvision)",
    ),
    (
        "retinanet_resnet50_fpn",
        ("retinanet", "RetinaNet"),
        "RetinaNet ResNet-50 FPN person detector (torchvision)",
    ),
    ("fcos_resnet50_fpn", ("fcos", "FCOS"), "FCOS ResNet-50 FPN person detector (torchvision)"),
    (
        "ssdlite320_mobilenet_v3_large",
        ("ssdlite", "SSDlite"),
        "SSDlite320 MobileNetV3-Large person detector (torchvision)",
    ),
)


@hookimpl
def posecli_register_detectors(register: RegisterCallback) -> None:
    """Register the torchvision person detectors with lazy factories."""
    for name, aliases, help_text in _DETECTORS:
        register(name, f"{_MODULE}:{name}", aliases=aliases, help=help_text)
    register(
        "bottomup",
        "posecli.inference.instance_detector:bottomup",
        aliases=("instances", "centroid"),
        help="the instances of a posecli bottom-up checkpoint (--detector-weights) as boxes",
    )
