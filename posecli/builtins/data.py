"""Built-in data components: skeletons, dataset formats, transforms, converters and the
``convert-dataset``, ``check-dataset`` and ``visualize`` commands.

Factories are lazy ``"module:attr"`` strings, so listing them imports neither numpy nor torch.
"""

from __future__ import annotations

from typing import Any

from posecli.hookspecs import RegisterCallback, hookimpl

_SKELETONS: tuple[tuple[str, str], ...] = (
    ("aflw", "AFLW face landmarks (19)"),
    ("aic", "AI Challenger human keypoints (14)"),
    ("ak", "Animal Kingdom (23)"),
    ("animalpose", "Animal-Pose (20)"),
    ("ap10k", "AP-10K animal pose (17)"),
    ("atrw", "ATRW Amur tiger (15)"),
    ("coco", "COCO person keypoints (17)"),
    ("coco_wholebody", "COCO-WholeBody (133: body 17, feet 6, face 68, hands 2x21)"),
    ("coco_wholebody_face", "COCO-WholeBody face (68)"),
    ("coco_wholebody_hand", "COCO-WholeBody hand (21)"),
    ("cofw", "COFW face landmarks (29)"),
    ("crowdpose", "CrowdPose (14)"),
    ("deepfashion2", "DeepFashion2 clothes landmarks (294, 13 categories)"),
    ("deepfashion_full", "DeepFashion FLD full-body clothes (8)"),
    ("deepfashion_lower", "DeepFashion FLD lower-body clothes (4)"),
    ("deepfashion_upper", "DeepFashion FLD upper-body clothes (6)"),
    ("exlpose", "ExLPose low-light body (14, CrowdPose order)"),
    ("face_300vw", "300-VW face landmarks in video (68)"),
    ("face_300w", "300W face landmarks (68)"),
    ("face_300wlp", "300W-LP face landmarks (68)"),
    ("fly", "Vinegar fly (32)"),
    ("freihand", "FreiHAND hand (21)"),
    ("halpe", "Halpe full body (136: body 26, face 68, hands 2x21)"),
    ("horse10", "Horse-10 (22)"),
    ("humanart", "Human-Art (17, COCO keypoints)"),
    ("humanart21", "Human-Art 21 keypoints (COCO 17 + 4 feet)"),
    ("interhand2d", "InterHand2.6M one hand (21)"),
    ("interhand2d_double", "InterHand2.6M two hands (42: right 21, then left 21)"),
    ("jhmdb", "J-HMDB (15)"),
    ("lapa", "LaPa face landmarks (106)"),
    ("locust", "Desert locust (35)"),
    ("macaque", "MacaquePose (COCO-style keypoints, 17)"),
    ("mhp", "Multi-Human Parsing pose (16, MPII order)"),
    (
        "mirror_mouse",
        "Mirror mouse (lightning-pose example): 17 keypoints, top view and mirrored bottom view",
    ),
    ("mpii", "MPII Human Pose (16)"),
    ("mpii_trb", "MPII-TRB: 14 joints and 26 contour points (40)"),
    ("ochuman", "OCHuman (COCO keypoints, 17)"),
    ("onehand10k", "OneHand10K hand (21)"),
    ("panoptic_hand2d", "CMU Panoptic hand (21)"),
    ("posetrack18", "PoseTrack18 (17, COCO order)"),
    ("rhd", "Rendered Handpose Dataset hand (21)"),
    ("sleap_fly13", "SLEAP two-fly clip: fruit fly seen from above (13)"),
    ("sleap_fly_anchor", "SLEAP two-fly clip, anchor part only: the thorax (1)"),
    ("ubody2d", "UBody 2D whole body (133, COCO-WholeBody order)"),
    ("wflw", "WFLW face landmarks (98)"),
    ("zebra", "Grévy's zebra (9)"),
)

_SKELETON_ALIASES = {
    "face_300w": ("300w", "300W"),
    "face_300wlp": ("300wlp",),
    "face_300vw": ("300vw",),
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
        "bottomup_random_affine",
        f"{_T}.bottomup:BottomupRandomAffine",
        "BottomupRandomAffine",
        "Bottom-up: random shift/scale/rotation of the whole image into the input",
    ),
    (
        "bottomup_resize",
        f"{_T}.bottomup:BottomupResize",
        "BottomupResize",
        "Bottom-up: resize the whole image to the input (fit or expand), for inference",
    ),
    (
        "bottomup_get_heatmap_mask",
        f"{_T}.bottomup:BottomupGetHeatmapMask",
        "BottomupGetHeatmapMask",
        "Bottom-up: mask of the supervised heatmap region",
    ),
    (
        "mosaic",
        f"{_T}.mix:Mosaic",
        "Mosaic",
        "One-stage: four images tiled around a random centre (YOLOX/RTMO)",
    ),
    (
        "yolox_mixup",
        f"{_T}.mix:YOLOXMixUp",
        "YOLOXMixUp",
        "One-stage: blend with a rescaled, flipped, cropped second image (YOLOX/RTMO)",
    ),
    (
        "filter_annotations",
        f"{_T}.bottomup:FilterAnnotations",
        "FilterAnnotations",
        "Drop instances by box size, area or visible keypoints",
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
    """Register the dataset formats (the catalogued MMPose formats too)."""
    from posecli.data.converters.catalog import CATALOG

    for name, attr, aliases, text in _DATASETS:
        register(name, f"posecli.data.datasets.formats:{attr}", aliases=aliases, help=text)
    for name, entry in CATALOG.items():
        register(
            name, f"posecli.data.datasets.catalog:{name}", aliases=(entry.mmpose,), help=entry.help
        )
    register(
        "combined",
        "posecli.data.datasets.combined:combined",
        aliases=("CombinedDataset",),
        help="several datasets mapped onto one skeleton (KeypointConverter), sampling ratios",
    )


@hookimpl
def posecli_register_transforms(register: RegisterCallback) -> None:
    """Register the pipeline transforms under snake_case names and MMPose class names."""
    for name, ref, alias, text in _TRANSFORMS:
        register(name, ref, aliases=(alias,), help=text)


@hookimpl
def posecli_register_converters(register: RegisterCallback) -> None:
    """Register the dataset formats ``convert-dataset`` reads and writes."""
    from posecli.data.converters.catalog import CATALOG

    for name, text in _CONVERTERS:
        register(name, f"posecli.data.converters:{name}_format", help=text)
    for name, entry in CATALOG.items():
        mode = "read, write" if entry.layout is not None and entry.layout.writable else "read"
        register(
            name, f"posecli.data.converters.catalog:{name}_format", help=f"{entry.help} ({mode})"
        )


@hookimpl
def posecli_register_commands(app: Any) -> None:
    from posecli.cli.app import PANEL_DATA
    from posecli.cli.check_dataset import check_dataset_command
    from posecli.cli.convert_dataset import convert_dataset_command
    from posecli.cli.visualize import visualize_app

    app.command("convert-dataset", rich_help_panel=PANEL_DATA)(convert_dataset_command)
    app.command("check-dataset", rich_help_panel=PANEL_DATA)(check_dataset_command)
    app.add_typer(visualize_app, name="visualize", rich_help_panel=PANEL_DATA)
