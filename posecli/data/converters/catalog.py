"""The MMPose dataset formats beyond COCO/MPII/CrowdPose/AIC: one :class:`Layout` (or reader) each.

``CATALOG`` maps a format name to its :class:`Entry` (layout, MMPose class name, group, one line of
help). ``posecli.data.converters.catalog:<name>_format`` builds the ``convert-dataset`` /
``check-dataset`` :class:`~posecli.data.converters.Format`; the dataset factories of the same
names live in :mod:`posecli.data.datasets.catalog`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from posecli.data.annotations import PoseAnnotations
from posecli.data.converters.coco_style import Layout

_WHOLEBODY_FIELDS = ("keypoints", "foot_kpts", "face_kpts", "lefthand_kpts", "righthand_kpts")
_WHOLEBODY_SIZES = (17, 6, 68, 21, 21)


@dataclass(frozen=True)
class Entry:
    """One catalogued format: its layout (None for a reader of its own), MMPose class, help."""

    layout: Layout | None
    mmpose: str
    group: str
    help: str


CATALOG: dict[str, Entry] = {
    # body
    "coco_wholebody": Entry(
        Layout("coco_wholebody", _WHOLEBODY_FIELDS, _WHOLEBODY_SIZES),
        "CocoWholeBodyDataset",
        "body",
        "COCO-WholeBody JSON (133: body, feet, face, hands fields)",
    ),
    "ubody2d": Entry(
        Layout("ubody2d", _WHOLEBODY_FIELDS, _WHOLEBODY_SIZES),
        "UBody2dDataset",
        "body",
        "UBody 2D (COCO-WholeBody layout, 133)",
    ),
    "halpe": Entry(Layout("halpe"), "HalpeDataset", "body", "Halpe full-body JSON (136)"),
    "ochuman": Entry(Layout("ochuman"), "OCHumanDataset", "body", "OCHuman JSON (17)"),
    "mhp": Entry(Layout("mhp"), "MhpDataset", "body", "Multi-Human Parsing pose JSON (16)"),
    "jhmdb": Entry(
        Layout("jhmdb", one_based=True),
        "JhmdbDataset",
        "body",
        "J-HMDB JSON (15; 1-based coordinates, shifted by -1)",
    ),
    "posetrack18": Entry(
        Layout("posetrack18"),
        "PoseTrack18Dataset",
        "body",
        "PoseTrack18 JSON (17, track ids; a folder of per-video files)",
    ),
    "humanart": Entry(Layout("humanart"), "HumanArtDataset", "body", "Human-Art JSON (17)"),
    "humanart21": Entry(
        Layout("humanart21", ("keypoints_21",)),
        "HumanArt21Dataset",
        "body",
        "Human-Art 21-keypoint JSON (keypoints_21)",
    ),
    "exlpose": Entry(Layout("exlpose"), "ExlposeDataset", "body", "ExLPose low-light JSON (14)"),
    "mpii_trb": Entry(
        Layout("mpii_trb", box="center_scale"),
        "MpiiTrbDataset",
        "body",
        "MPII-TRB JSON (40; centre/scale boxes)",
    ),
    # face
    "face_300w": Entry(
        Layout("face_300w", box="center_scale"),
        "Face300WDataset",
        "face",
        "300W JSON (68; centre/scale boxes)",
    ),
    "face_300wlp": Entry(Layout("face_300wlp"), "Face300WLPDataset", "face", "300W-LP JSON (68)"),
    "face_300vw": Entry(
        Layout("face_300vw", box="center_scale"),
        "Face300VWDataset",
        "face",
        "300VW video-face JSON (68; centre/scale boxes)",
    ),
    "wflw": Entry(
        Layout("wflw", box="center_scale"), "WFLWDataset", "face", "WFLW JSON (98; centre/scale)"
    ),
    "aflw": Entry(
        Layout("aflw", box="center_scale", extras=("box_size",)),
        "AFLWDataset",
        "face",
        "AFLW JSON (19; centre/scale, box_size for NME)",
    ),
    "cofw": Entry(Layout("cofw"), "COFWDataset", "face", "COFW JSON (29)"),
    "lapa": Entry(Layout("lapa"), "LapaDataset", "face", "LaPa JSON (106)"),
    "coco_wholebody_face": Entry(
        Layout("coco_wholebody_face", ("face_kpts",), box="face_box", valid="face_valid"),
        "CocoWholeBodyFaceDataset",
        "face",
        "faces of a COCO-WholeBody file (68, face_box)",
    ),
    # hand
    "onehand10k": Entry(Layout("onehand10k"), "OneHand10KDataset", "hand", "OneHand10K JSON (21)"),
    "freihand": Entry(
        Layout("freihand", box="image"),
        "FreiHandDataset",
        "hand",
        "FreiHAND JSON (21; whole-image boxes)",
    ),
    "rhd": Entry(Layout("rhd"), "Rhd2DDataset", "hand", "Rendered Handpose JSON (21)"),
    "panoptic_hand2d": Entry(
        Layout("panoptic_hand2d", extras=("head_size",)),
        "PanopticHand2DDataset",
        "hand",
        "CMU Panoptic hand JSON (21; head_size for PCKh)",
    ),
    "coco_wholebody_hand": Entry(
        Layout("coco_wholebody_hand", ("keypoints",), hands=True, clip=False),
        "CocoWholeBodyHandDataset",
        "hand",
        "hands of a COCO-WholeBody file (21 each, left then right)",
    ),
    "interhand2d": Entry(
        None,
        "InterHand2DDoubleDataset",
        "hand",
        "InterHand2.6M 2D (42; data/camera/joint_3d JSON, projected)",
    ),
    # animal
    "ap10k": Entry(Layout("ap10k"), "AP10KDataset", "animal", "AP-10K JSON (17)"),
    "animalpose": Entry(Layout("animalpose"), "AnimalPoseDataset", "animal", "Animal-Pose (20)"),
    "macaque": Entry(Layout("macaque"), "MacaqueDataset", "animal", "MacaquePose JSON (17)"),
    "horse10": Entry(Layout("horse10"), "Horse10Dataset", "animal", "Horse-10 JSON (22)"),
    "fly": Entry(Layout("fly"), "FlyDataset", "animal", "Vinegar fly JSON (32)"),
    "locust": Entry(
        Layout("locust", box="image"), "LocustDataset", "animal", "Desert locust JSON (35)"
    ),
    "zebra": Entry(
        Layout("zebra", box="image"), "ZebraDataset", "animal", "Grévy's zebra JSON (9)"
    ),
    "atrw": Entry(Layout("atrw"), "ATRWDataset", "animal", "ATRW tiger JSON (15)"),
    "ak": Entry(Layout("ak"), "AnimalKingdomDataset", "animal", "Animal Kingdom JSON (23)"),
    # fashion
    "deepfashion2": Entry(
        Layout("deepfashion2"), "DeepFashion2Dataset", "fashion", "DeepFashion2 JSON (294)"
    ),
    "deepfashion": Entry(
        Layout("deepfashion_full"),
        "DeepFashionDataset",
        "fashion",
        "DeepFashion FLD JSON (full 8; skeleton deepfashion_upper/lower for the others)",
    ),
}


def read(
    name: str,
    src: str | Path,
    *,
    skeleton: Any = None,
    images: Any = None,
    strip_prefix: str | None = None,
) -> PoseAnnotations:
    """Read ``src`` as the catalogued format ``name``."""
    entry = CATALOG[name]
    if entry.layout is None:
        from posecli.data.converters.interhand import read_interhand2d

        ann = read_interhand2d(src, skeleton=skeleton, images=images)
    else:
        from posecli.data.converters.coco_style import read_coco_style

        ann = read_coco_style(src, entry.layout, skeleton=skeleton, images=images)
    if strip_prefix:
        for rec in ann.images:
            if rec.file_name.startswith(strip_prefix):
                rec.file_name = rec.file_name[len(strip_prefix) :]
    return ann


def _format(name: str) -> Callable[[], Any]:
    entry = CATALOG[name]

    def factory() -> Any:
        from posecli.data.converters import Format

        def reader(
            src: str | Path,
            skeleton: Any = None,
            images: Any = None,
            strip_prefix: str | None = None,
        ) -> PoseAnnotations:
            return read(name, src, skeleton=skeleton, images=images, strip_prefix=strip_prefix)

        writer = None
        layout = entry.layout
        if layout is not None and layout.writable:
            from posecli.data.converters.coco_style import write_coco_style

            def writer(ann: PoseAnnotations, out: str | Path, *, force: bool = False) -> list:
                return write_coco_style(ann, out, layout, force=force)

        return Format(name, entry.help, reader, writer, ("skeleton", "images", "strip_prefix"))

    factory.__doc__ = f"{entry.help} (read{', write' if _writable(entry) else ''})."
    return factory


def _writable(entry: Entry) -> bool:
    return entry.layout is not None and entry.layout.writable


def __getattr__(attr: str) -> Any:
    """``<name>_format`` factories for the lazy converter registrations."""
    if attr.endswith("_format") and attr[: -len("_format")] in CATALOG:
        return _format(attr[: -len("_format")])
    raise AttributeError(attr)


__all__ = ["CATALOG", "Entry", "read"]
