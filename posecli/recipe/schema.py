"""The recipe schema: fixed sections (``extra="forbid"``) holding component tables.

A *component table* is ``{name = "...", <arguments>}``; its arguments are free here and checked
against the component factory's signature by the registry when it is built, so a typo is
reported with its dotted recipe path (``model.backbone.widen_factr``).

Layout (see ``recipes/rtmpose.toml`` for a complete example)::

    name, extends, seed, work_dir
    [codec]                      component (``simcc``, ``msra_heatmap``...)
    [model]                      backbone / neck / head (+ head.loss) / preprocess / test / pretrained
    [data]                       skeleton, root, train / val / test splits (dataset + pipeline)
    [train]                      epochs, optimizer, schedule, ema, amp, checkpoints...
    [eval]                       metrics
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class Fixed(BaseModel):
    """A section whose keys are fixed: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class Component(BaseModel):
    """A component table: ``name`` plus free arguments for the component's factory."""

    model_config = ConfigDict(extra="allow")

    name: str = Field(description="Registered component name (or MMPose alias).")

    @property
    def kwargs(self) -> dict[str, Any]:
        """The arguments beside ``name``."""
        return dict(self.model_extra or {})

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, **self.kwargs}


class Pretrained(Fixed):
    """Weights loaded into the model (or one submodule) after it is built."""

    source: str = Field(
        description="Local path, https:// URL, torchvision://NAME or mmpose://NAME."
    )
    prefix: str = Field("", description="Take only keys under this prefix, e.g. 'backbone.'.")
    into: str = Field("", description="Load into this submodule of the model ('' = whole model).")
    strict: bool = False
    sha256: str | None = Field(None, description="Expected sha256 (or its prefix) of the file.")


class Preprocess(Fixed):
    """Normalisation applied inside the model (buffers, not state-dict entries)."""

    mean: tuple[float, float, float] = (123.675, 116.28, 103.53)
    std: tuple[float, float, float] = (58.395, 57.12, 57.375)
    bgr_to_rgb: bool = True


class TestConfig(Fixed):
    """Test-time behaviour of the head."""

    __test__ = False  # not a pytest class

    flip_test: bool = True
    flip_mode: Literal["heatmap", "udp_combined", "offset", "simcc", "coords"] | None = None
    shift_heatmap: bool | None = None
    shift_coords: bool = True
    simcc_flip_shift: bool = Field(
        False,
        description="SimCC flip test: shift the flipped x vectors by ratio-1 bins, removing "
        "MMPose's half-pixel bias (off = MMPose's behaviour).",
    )
    rotation_test: bool = Field(
        False,
        description="Top-down SimCC heads with a square input: also run the crop turned by "
        "90°, 180° and 270° (each with the flip test when on) and average the outputs turned "
        "back (4× the compute). For models trained with full rotations, e.g. animals filmed "
        "from above.",
    )
    output_heatmaps: bool = False
    multiscale_test: bool = Field(
        False,
        description="Bottom-up (AE): average the heatmaps of the image at every scale of the "
        "validation pipeline's bottomup_resize.aug_scales (tags from the first scale).",
    )
    align_corners: bool = Field(
        False, description="Multi-scale test: align_corners of the bilinear heatmap resize."
    )
    restore_heatmap_size: bool = Field(
        False,
        description="Bottom-up (AE): resize the flip-merged heatmaps and tags bilinearly to "
        "the input size and group there (MMPose's AE configs).",
    )
    nms_dist_thr: float = Field(
        0.0, ge=0, description="Bottom-up (DEKR): nearby-joints NMS distance ratio (0: off)."
    )
    nms_joints_thr: int | None = Field(
        None, description="Bottom-up (DEKR): joints that make two poses duplicates (K // 2)."
    )


class ModelSection(Fixed):
    kind: Literal["topdown", "bottomup", "lifting"] = Field(
        "topdown",
        description="Estimator: top-down (crops in), bottom-up (whole images in, every "
        "instance out) or 2D→3D lifting (keypoints in).",
    )
    backbone: Component
    neck: Component | None = None
    head: Component
    traj_backbone: Component | None = Field(None, description="Lifting: trajectory backbone.")
    traj_head: Component | None = Field(None, description="Lifting: trajectory head.")
    preprocess: Preprocess = Field(default_factory=Preprocess)
    test: TestConfig = Field(default_factory=TestConfig)
    pretrained: list[Pretrained] = Field(default_factory=list)
    channels_last: bool = True


class Split(Fixed):
    """One data split: a dataset, its pipeline and its loader settings."""

    dataset: Component
    pipeline: list[Component] = Field(default_factory=list)
    batch_size: int = Field(32, ge=1)
    num_workers: int = Field(0, ge=0)
    persistent_workers: bool = True
    shuffle: bool | None = None
    drop_last: bool = False
    cache_images: bool = False
    max_images: int | None = Field(
        None, ge=1, description="Only the split's first N images (quick runs, smoke tests)."
    )


class DataSection(Fixed):
    skeleton: str | None = Field(None, description="Skeleton name or TOML file.")
    root: str | None = Field(None, description="Directory that relative dataset paths start from.")
    train: Split | None = None
    val: Split | None = None
    test: Split | None = None
    skip_bad_samples: bool = False


class EMAConfig(Fixed):
    enabled: bool = True
    momentum: float = Field(0.0002, gt=0, lt=1)
    warmup: bool = Field(True, description="MMPose's exponential momentum warm-up.")
    warmup_iters: int = 2000
    update_buffers: bool = True


class PipelineSwitch(Fixed):
    """Replace the training pipeline from ``epoch`` on (RTMPose's stage 2)."""

    epoch: int = Field(ge=0)
    pipeline: list[Component]


class EarlyStopping(Fixed):
    patience: int = Field(10, ge=1)
    min_delta: float = 0.0


class TrainSection(Fixed):
    epochs: int = Field(ge=1)
    val_interval: int = Field(1, ge=1)
    log_interval: int = Field(10, ge=1)
    optimizer: Component = Field(
        default_factory=lambda: Component.model_validate({"name": "adamw", "lr": 1e-3})
    )
    no_decay_norm_bias: bool = True
    schedule: list[Component] = Field(default_factory=list)
    clip_grad: float | None = Field(None, gt=0)
    accumulate: int = Field(1, ge=1)
    ema: EMAConfig | None = None
    amp: Literal["none", "fp16", "bf16"] = "none"
    pipeline_switch: PipelineSwitch | None = None
    save_best: str | None = Field(None, description="Metric that selects best.pt, e.g. 'PCK'.")
    save_best_rule: Literal["greater", "less"] | None = None
    early_stopping: EarlyStopping | None = None
    sync_bn: bool = False
    deterministic: bool = False
    callbacks: list[Component] = Field(
        default_factory=list,
        description="Extra training callbacks, e.g. [{name = 'tensorboard'}] (posecli list "
        "callbacks); they run after the built-in ones, before checkpoint.",
    )


class EvalSection(Fixed):
    metrics: list[Component] = Field(default_factory=list)


class DetectorSection(Fixed):
    """The box detector of a top-down recipe's two-stage pipeline (SLEAP's centroid model).

    ``posecli train`` trains ``recipe`` (relative to this recipe's file) after the top-down
    model, into ``<run>/detector/``; ``posecli predict --checkpoint <run>/best.pt`` then takes
    its boxes from that run (or from ``weights``) without ``--bbox`` or ``--detector``.
    """

    name: str = Field("bottomup", description="Registered detector (posecli list detectors).")
    recipe: str | None = Field(None, description="Recipe of the detector, trained after the model.")
    weights: str | None = Field(None, description="Detector weights (instead of training one).")
    bbox_thr: float = Field(0.3, ge=0.0, le=1.0, description="Least box score kept.")
    set: list[str] = Field(
        default_factory=list,
        description="Overrides of the detector's recipe, as --set takes them "
        "(e.g. ['train.epochs=2']).",
    )

    @model_validator(mode="after")
    def _weights_or_recipe(self) -> DetectorSection:
        if self.recipe is not None and self.weights is not None:
            raise ValueError("detector: give recipe (trained with the model) or weights, not both")
        return self


class Recipe(Fixed):
    """A whole, validated recipe."""

    name: str | None = None
    extends: str | None = Field(None, description="Base recipe, deep-merged under this one.")
    description: str | None = None
    seed: int = 0
    work_dir: str | None = None
    codec: Component
    model: ModelSection
    data: DataSection = Field(default_factory=DataSection)
    train: TrainSection | None = None
    eval: EvalSection = Field(default_factory=EvalSection)
    detector: DetectorSection | None = None

    @model_validator(mode="after")
    def _detector_feeds_a_topdown_model(self) -> Recipe:
        if self.detector is not None and self.model.kind != "topdown":
            raise ValueError(
                f"detector: a {self.model.kind} model finds its instances itself; "
                "only a top-down recipe takes a detector"
            )
        return self

    @model_validator(mode="after")
    def _codec_has_input_size(self) -> Recipe:
        if self.model.kind == "topdown" and "input_size" not in self.codec.kwargs:
            raise ValueError("codec.input_size: missing; a top-down codec needs [width, height]")
        size = self.codec.kwargs.get("input_size")
        if size is not None and not (
            isinstance(size, (list, tuple))
            and len(size) == 2
            and all(isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0 for v in size)
        ):
            raise ValueError(f"codec.input_size must be [width, height] in pixels, got {size!r}")
        return self

    @property
    def input_size(self) -> tuple[int, int]:
        """The model's input size ``(w, h)``, taken from the codec (``(0, 0)`` for lifting
        recipes: their inputs are keypoint sequences, not crops)."""
        if self.model.kind == "lifting" and "input_size" not in self.codec.kwargs:
            return 0, 0
        w, h = self.codec.kwargs["input_size"]
        return int(w), int(h)
