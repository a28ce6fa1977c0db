"""Built-in data components: skeletons, dataset formats, transforms, converters and the
``convert-dataset``, ``check-dataset`` and ``visualize`` commands.

Factories are lazy ``"module:attr"`` strings, so listing them imports neither numpy nor torch.
"""

from __future__ import annotations

from typing import Any

from posecli.hookspecs import RegisterCallback, hookimpl

_SKELETONS: tuple[tuple[str, str], ...] = (
    ("aic", "AI Challenger human keypoints (14)"),
    ("animalpose", "Animal-Pose (20)"),
    ("ap10k", "AP-10K animal pose (17)"),
    ("coco", "COCO person keypoints (17)"),
    ("coco_wholebody", "COCO-WholeBody (133)"),
    ("crowdpose", "CrowdPose (14)"),
    ("face_300w", "300W face landmarks (68)"),
    ("halpe", "Halpe full body (136)"),
    ("macaque", "MacaquePose (17, COCO-style)"),
    ("mirror_mouse", "Mirror mouse example: 17 keypoints, top and mirrored bottom view"),
    ("mpii", "MPII Human Pose (16)"),
    ("ochuman", "OCHuman (17, COCO keypoints)"),
    ("onehand10k", "OneHand10K hand (21)"),
    ("wflw", "WFLW face landmarks (98)"),
)

_SKELETON_ALIASES = {
    "face_300w": ("300w", "300W"),
    "wflw": ("WFLW",),
    "coco_wholebody": ("wholebody",),
}

_DATASETS: tuple[tuple[str, str, tuple[str, ...], str], ...] = (
    (
        "coco",
        "coco",
        ("CocoDataset",),
        "COCO keypoint JSON (top-down or bottom-up, detected boxes)",
    ),
    ("dlc", "dlc", ("DeepLabCut",), "DeepLabCut CSV/H5 labels (single and multi-animal)"),
    ("sleap", "sleap", ("SLEAP",), "SLEAP .slp labels with tracks (frames from the videos)"),
    ("yolo", "yolo", ("YOLO",), "YOLO-pose dataset YAML + txt labels"),
    ("mpii", "mpii", ("MpiiDataset",), "MPII JSON list (boxes from centre/scale)"),
    ("crowdpose", "crowdpose", ("CrowdPoseDataset",), "CrowdPose JSON (COCO layout)"),
    ("aic", "aic", ("AicDataset",), "AI Challenger JSON (COCO layout)"),
)

_T = "posecli.data.transforms"
_TRANSFORMS: tuple[tuple[str, str, str, str], ...] = (
    (
        "load_image",
        f"{_T}.loading:LoadImage",
        "LoadImage",
        "Decode the image (or take it from the cache)",
    ),
    (
        "get_bbox_center_scale",
        f"{_T}.bbox:GetBBoxCenterScale",
        "GetBBoxCenterScale",
        "Box → centre and padded scale",
    ),
    (
        "random_flip",
        f"{_T}.flip:RandomFlip",
        "RandomFlip",
        "Random left/right flip (keypoints swapped)",
    ),
    (
        "random_half_body",
        f"{_T}.bbox:RandomHalfBody",
        "RandomHalfBody",
        "Random upper/lower-body box",
    ),
    (
        "random_bbox_transform",
        f"{_T}.bbox:RandomBBoxTransform",
        "RandomBBoxTransform",
        "Random box shift, scale, rotation",
    ),
    (
        "topdown_affine",
        f"{_T}.affine:TopdownAffine",
        "TopdownAffine",
        "Warp the box to the model input (plain or UDP)",
    ),
    (
        "yolox_hsv_random_aug",
        f"{_T}.photometric:YOLOXHSVRandomAug",
        "YOLOXHSVRandomAug",
        "Random HSV shifts (YOLOX)",
    ),
    ("blur", f"{_T}.photometric:Blur", "Blur", "Random box blur"),
    ("median_blur", f"{_T}.photometric:MedianBlur", "MedianBlur", "Random median blur"),
    (
        "coarse_dropout",
        f"{_T}.photometric:CoarseDropout",
        "CoarseDropout",
        "Random rectangles set to zero",
    ),
    (
        "albumentation",
        f"{_T}.photometric:Albumentation",
        "Albumentation",
        "MMPose's albumentations list (Blur, MedianBlur, CoarseDropout)",
    ),
    (
        "generate_target",
        f"{_T}.target:GenerateTarget",
        "GenerateTarget",
        "Encode keypoints with one or several codecs",
    ),
    (
        "pack_pose_inputs",
        f"{_T}.target:PackPoseInputs",
        "PackPoseInputs",
        "Final check before collation",
    ),
)

_CONVERTERS: tuple[tuple[str, str], ...] = (
    ("coco", "COCO keypoint JSON (read, write)"),
    ("dlc", "DeepLabCut CSV/H5 (read; write CSV)"),
    ("sleap", "SLEAP .slp (read)"),
    ("yolo", "YOLO-pose dataset (read, write)"),
    ("mpii", "MPII JSON list (read)"),
    ("crowdpose", "CrowdPose JSON (read)"),
    ("aic", "AI Challenger JSON in COCO layout (read)"),
)


@hookimpl
def posecli_register_skeletons(register: RegisterCallback) -> None:
    """Register the built-in skeleton files (``posecli/data/metainfo/*.toml``)."""
    for name, text in _SKELETONS:
        register(
            name,
            f"posecli.data.metainfo:{name}",
            aliases=_SKELETON_ALIASES.get(name, ()),
            help=text,
        )


@hookimpl
def posecli_register_datasets(register: RegisterCallback) -> None:
    """Register the dataset formats."""
    for name, attr, aliases, text in _DATASETS:
        register(name, f"posecli.data.datasets.formats:{attr}", aliases=aliases, help=text)


@hookimpl
def posecli_register_transforms(register: RegisterCallback) -> None:
    """Register the pipeline transforms under snake_case names and MMPose class names."""
    for name, ref, alias, text in _TRANSFORMS:
        register(name, ref, aliases=(alias,), help=text)


@hookimpl
def posecli_register_converters(register: RegisterCallback) -> None:
    """Register the dataset formats ``convert-dataset`` reads and writes."""
    for name, text in _CONVERTERS:
        register(name, f"posecli.data.converters:{name}_format", help=text)


@hookimpl
def posecli_register_commands(app: Any) -> None:
    from posecli.cli.app import PANEL_DATA
    from posecli.cli.check_dataset import check_dataset_command
    from posecli.cli.convert_dataset import convert_dataset_command
    from posecli.cli.visualize import visualize_app

    app.command("convert-dataset", rich_help_panel=PANEL_DATA)(convert_dataset_command)
    app.command("check-dataset", rich_help_panel=PANEL_DATA)(check_dataset_command)
    app.add_typer(visualize_app, name="visualize", rich_help_panel=PANEL_DATA)
