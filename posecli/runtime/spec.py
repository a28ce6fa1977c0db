"""``TopDownSpec``: everything a top-down runtime needs besides the network itself.

A spec says how crops are cut (input size, box padding, UDP), how the network's raw outputs
are flipped back and merged for the flip test, and how they are decoded (the codec table,
rebuilt through the codec registry, so a plugin's codec works like a built-in one). It is
built from a recipe (:meth:`TopDownSpec.from_recipe`) or read back from an exported file's
metadata (:meth:`TopDownSpec.from_metadata`), so a checkpoint and its exported file run the
same test-time code. Numpy only: no torch here.

Raw outputs (what every backend returns, after the head's test-time ``postprocess``) come in
three kinds: ``simcc`` (``simcc_x (B,K,Wx)``, ``simcc_y (B,K,Wy)``), ``heatmap``
(``heatmaps (B,C,h,w)``) and ``coords`` (``coords (B,K,2|4)``, normalised to the input).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from posecli.errors import PoseCliError

#: Format of the metadata written by :meth:`TopDownSpec.to_metadata` (1: flip test and
#: decode inside the graph; 2: raw outputs, flip test and decode in the runtime).
SPEC_VERSION = 2
OUTPUT_KINDS = ("simcc", "heatmap", "coords")
RAW_OUTPUT_NAMES = {"simcc": ["simcc_x", "simcc_y"], "heatmap": ["heatmaps"], "coords": ["coords"]}

_PADDING_NAMES = {"get_bbox_center_scale", "GetBBoxCenterScale"}
_AFFINE_NAMES = {"topdown_affine", "TopdownAffine"}


@dataclass(frozen=True)
class FlipSpec:
    """How raw outputs of a horizontally flipped crop are brought back (MMPose semantics,
    :mod:`posecli.codecs.flip`).

    Attributes:
        flip_indices: the left/right partner of each keypoint (K).
        flip_mode: heatmaps: ``heatmap``, ``udp_combined`` or ``offset``.
        shift_heatmap: heatmaps: shift one pixel right after flipping.
        simcc_shift_bins: SimCC: shift the reversed x vector this many bins (0 = MMPose).
        shift_coords: coordinates: ``x = 1 - x - 1/w`` (exact) instead of ``1 - x``.
    """

    flip_indices: tuple[int, ...]
    flip_mode: str = "heatmap"
    shift_heatmap: bool = False
    simcc_shift_bins: float = 0.0
    shift_coords: bool = True


@dataclass(frozen=True)
class TopDownSpec:
    """Crop geometry, flip test and decode of a top-down model.

    Attributes:
        input_size: crop ``(w, h)``.
        codec: the codec table ``{"name", **params}`` for ``input_size``.
        output_kind: ``simcc``, ``heatmap`` or ``coords`` (see the module docstring).
        flip_test: run the flip test (the recipe's ``model.test.flip_test`` by default).
        rotation_test: also run each crop turned by 1–3 quarter turns and average the
            outputs turned back (``model.test.rotation_test``; SimCC, square input only).
        flip: flip-back options (``None``: the skeleton has no flip indices, no flip test).
        padding: box padding of the test pipeline (``get_bbox_center_scale``).
        fixed_size: its ``fixed_size`` (crops of that many image pixels, whatever the box).
        use_udp: UDP warp matrix (``topdown_affine.use_udp``).
        mean, std, bgr_to_rgb: the model's normalisation (RGB order).
        normalize: the runtime normalises crops itself (a graph exported without its
            preprocessing); ``False``: the network takes BGR 0–255.
        num_keypoints: K.
        keypoint_names, skeleton, skeleton_links: the skeleton (names, registry name, pairs).
        recipe: the recipe's name.
    """

    input_size: tuple[int, int]
    codec: Mapping[str, Any]
    output_kind: str
    num_keypoints: int
    flip_test: bool = False
    flip: FlipSpec | None = None
    rotation_test: bool = False
    padding: float = 1.25
    use_udp: bool = False
    fixed_size: tuple[float, float] | None = None
    mean: tuple[float, float, float] = (123.675, 116.28, 103.53)
    std: tuple[float, float, float] = (58.395, 57.12, 57.375)
    bgr_to_rgb: bool = True
    normalize: bool = False
    keypoint_names: tuple[str, ...] = ()
    skeleton: str | None = None
    skeleton_links: tuple[tuple[int, int], ...] = ()
    recipe: str | None = None
    _codec: Any = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.output_kind not in OUTPUT_KINDS:
            raise PoseCliError(
                f"output kind {self.output_kind!r}: expected one of {', '.join(OUTPUT_KINDS)}"
            )
        if self.flip_test and self.flip is None:
            raise PoseCliError("flip test needs the skeleton's flip_indices")
        if self.rotation_test and (
            self.output_kind != "simcc" or self.input_size[0] != self.input_size[1]
        ):
            raise PoseCliError(
                "the rotation test needs SimCC outputs and a square input, got "
                f"{self.output_kind} outputs at {self.input_size[0]}×{self.input_size[1]}"
            )

    # -- derived -------------------------------------------------------------------------
    @property
    def output_names(self) -> list[str]:
        """Names of the raw outputs (``simcc_x``/``simcc_y``, ``heatmaps`` or ``coords``)."""
        return list(RAW_OUTPUT_NAMES[self.output_kind])

    @property
    def rotation_shift_bins(self) -> float:
        """Bins that make a reversed SimCC vector exact: ``simcc_split_ratio - 1``."""
        return float(self.codec.get("simcc_split_ratio", 2.0)) - 1.0

    def build_codec(self) -> Any:
        """The codec (built once through the codec registry; plugins' codecs included)."""
        if self._codec is None:
            object.__setattr__(self, "_codec", build_codec(self.codec))
        return self._codec

    def replace(self, **changes: Any) -> TopDownSpec:
        """A copy with ``changes`` (e.g. ``flip_test=False``)."""
        return dataclasses.replace(self, **changes)

    def test_time_summary(self) -> str:
        """One line on the test-time behaviour: flip test and decode options."""
        codec = dict(self.codec)
        name = codec.get("name")
        opts = [
            f"{k}={codec[k]}"
            for k in (
                "soft_argmax_beta",
                "soft_argmax_window",
                "use_dark",
                "unbiased",
                "blur_kernel_size",
            )
            if codec.get(k) not in (None, False)
        ]
        flip = "flip test on" if self.flip_test else "flip test off"
        if self.flip_test and self.flip is not None and self.flip.simcc_shift_bins:
            flip += f" (x shifted {self.flip.simcc_shift_bins:g} bins)"
        if self.rotation_test:
            flip += ", rotation test (4 quarter turns)"
        decode = f"decode {name}" + (f" ({', '.join(opts)})" if opts else "")
        box = (
            f"fixed {self.fixed_size[0]:g}×{self.fixed_size[1]:g} px crops"
            if self.fixed_size is not None
            else f"box padding {self.padding:g}"
        )
        return f"{flip}, {decode}, {box}{', UDP' if self.use_udp else ''}"

    # -- metadata ------------------------------------------------------------------------
    def to_metadata(self) -> dict[str, Any]:
        """JSON-ready fields stored in exported files (:mod:`posecli.export.metadata`)."""
        flip = self.flip
        return {
            "spec_version": SPEC_VERSION,
            "recipe": self.recipe,
            "skeleton": self.skeleton,
            "keypoint_names": list(self.keypoint_names),
            "skeleton_links": [list(p) for p in self.skeleton_links],
            "flip_indices": list(flip.flip_indices) if flip else list(range(self.num_keypoints)),
            "num_keypoints": self.num_keypoints,
            "input_size": [int(self.input_size[0]), int(self.input_size[1])],
            "codec": dict(self.codec),
            "output_kind": self.output_kind,
            "flip_test": bool(self.flip_test),
            "rotation_test": bool(self.rotation_test),
            "flip": None
            if flip is None
            else {k: v for k, v in dataclasses.asdict(flip).items() if k != "flip_indices"},
            "bbox_padding": float(self.padding),
            "bbox_fixed_size": None
            if self.fixed_size is None
            else [float(v) for v in self.fixed_size],
            "use_udp": bool(self.use_udp),
            "mean": [float(v) for v in self.mean],
            "std": [float(v) for v in self.std],
            "bgr_to_rgb": bool(self.bgr_to_rgb),
            "preprocess": not self.normalize,
        }

    @classmethod
    def from_metadata(cls, meta: Mapping[str, Any], source: str = "model") -> TopDownSpec:
        """The spec stored in an exported file (``source`` names it in errors)."""
        if "input_size" not in meta:
            raise PoseCliError(f"{source}: no posecli metadata (was it written by posecli export?)")
        version = int(meta.get("spec_version", 1))
        if version != SPEC_VERSION:
            raise PoseCliError(
                f"{source}: exported by an older posecli (metadata v{version}, flip test and "
                f"decode inside the graph); export the checkpoint again"
            )
        k = int(meta.get("num_keypoints") or len(meta.get("flip_indices") or []))
        flip_opts = meta.get("flip")
        flip = None
        if flip_opts is not None:
            flip = FlipSpec(tuple(int(i) for i in meta["flip_indices"]), **flip_opts)
        w, h = meta["input_size"]
        return cls(
            input_size=(int(w), int(h)),
            codec=dict(meta["codec"]),
            output_kind=str(meta["output_kind"]),
            num_keypoints=k,
            flip_test=bool(meta.get("flip_test", False)),
            flip=flip,
            rotation_test=bool(meta.get("rotation_test", False)),
            padding=float(meta.get("bbox_padding", 1.25)),
            use_udp=bool(meta.get("use_udp", False)),
            fixed_size=None
            if meta.get("bbox_fixed_size") is None
            else (float(meta["bbox_fixed_size"][0]), float(meta["bbox_fixed_size"][1])),
            mean=tuple(float(v) for v in meta.get("mean", cls.mean)),  # type: ignore[arg-type]
            std=tuple(float(v) for v in meta.get("std", cls.std)),  # type: ignore[arg-type]
            bgr_to_rgb=bool(meta.get("bgr_to_rgb", True)),
            normalize=not bool(meta.get("preprocess", True)),
            keypoint_names=tuple(str(n) for n in meta.get("keypoint_names") or ()),
            skeleton=meta.get("skeleton"),
            skeleton_links=tuple((int(a), int(b)) for a, b in meta.get("skeleton_links") or ()),
            recipe=meta.get("recipe"),
        )

    @classmethod
    def from_recipe(
        cls,
        recipe: Any,
        *,
        output_kind: str,
        num_keypoints: int,
        flip_indices: Sequence[int] | None,
        keypoint_names: Sequence[str] = (),
        skeleton_links: Sequence[Sequence[int]] = (),
        codec: Mapping[str, Any] | None = None,
    ) -> TopDownSpec:
        """The spec of a recipe (a :class:`~posecli.recipe.Recipe` or its dict).

        Args:
            recipe: the recipe; its test pipeline gives padding and UDP, ``model.test`` the
                flip test, ``model.preprocess`` the normalisation, ``codec`` the decode.
            output_kind: what the head returns (``simcc``, ``heatmap``, ``coords``).
            num_keypoints: K.
            flip_indices: the skeleton's flip partners (``None``: no flip test possible).
            keypoint_names, skeleton_links: for outputs.
            codec: a codec table overriding the recipe's (e.g. for another input size).
        """
        rd = _as_dict(recipe)
        codec_table = dict(codec if codec is not None else rd["codec"])
        model = rd.get("model") or {}
        test = dict(model.get("test") or {})
        pre = dict(model.get("preprocess") or {})
        padding, use_udp, fixed_size = pipeline_geometry(rd)
        spec_codec = build_codec(codec_table)
        size = getattr(spec_codec, "input_size", None) or codec_table.get("input_size")
        if size is None:
            raise PoseCliError("codec: cannot tell the model's input size (no input_size)")
        flip = None
        if flip_indices is not None:
            flip = flip_spec(
                test, getattr(spec_codec, "flip_config", None) or {}, codec_table, flip_indices
            )
        kwargs: dict[str, Any] = {}
        if "mean" in pre:
            kwargs["mean"] = tuple(float(v) for v in pre["mean"])
        if "std" in pre:
            kwargs["std"] = tuple(float(v) for v in pre["std"])
        if "bgr_to_rgb" in pre:
            kwargs["bgr_to_rgb"] = bool(pre["bgr_to_rgb"])
        data = rd.get("data") or {}
        return cls(
            input_size=(int(size[0]), int(size[1])),
            codec=codec_table,
            output_kind=output_kind,
            num_keypoints=int(num_keypoints),
            flip_test=bool(test.get("flip_test", True)) and flip is not None,
            flip=flip,
            rotation_test=bool(test.get("rotation_test", False)),
            padding=padding,
            use_udp=use_udp,
            fixed_size=fixed_size,
            keypoint_names=tuple(str(n) for n in keypoint_names),
            skeleton=data.get("skeleton"),
            skeleton_links=tuple((int(a), int(b)) for a, b in skeleton_links),
            recipe=rd.get("name"),
            _codec=spec_codec,
            **kwargs,
        )


def build_codec(table: Mapping[str, Any]) -> Any:
    """A codec from its table ``{"name", **params}`` through the codec registry."""
    from posecli.plugins import registry

    return registry("codecs").build_from(dict(table), path="codec")


def flip_spec(
    test: Mapping[str, Any],
    flip_config: Mapping[str, Any],
    codec: Mapping[str, Any],
    flip_indices: Sequence[int],
) -> FlipSpec:
    """Flip-back options from ``model.test`` with unset ones filled from the codec's
    ``flip_config`` (as ``PoseModel.effective_test_cfg``)."""
    mode = test.get("flip_mode")
    if mode not in ("heatmap", "udp_combined", "offset"):
        mode = (
            flip_config.get("mode")
            if flip_config.get("mode") in ("heatmap", "udp_combined", "offset")
            else "heatmap"
        )
    shift_heatmap = test.get("shift_heatmap")
    if shift_heatmap is None:
        shift_heatmap = bool(flip_config.get("shift_heatmap", False))
    shift_bins = 0.0
    if test.get("simcc_flip_shift"):
        shift_bins = float(codec.get("simcc_split_ratio", 2.0)) - 1.0
    return FlipSpec(
        flip_indices=tuple(int(i) for i in flip_indices),
        flip_mode=str(mode),
        shift_heatmap=bool(shift_heatmap),
        simcc_shift_bins=shift_bins,
        shift_coords=bool(test.get("shift_coords", True)),
    )


def pipeline_geometry(recipe: Any) -> tuple[float, bool, tuple[float, float] | None]:
    """``(box padding, use_udp, fixed_size)`` of the recipe's validation pipeline (else test,
    else train); MMPose's defaults ``(1.25, False, None)`` for steps it does not name."""
    data = _as_dict(recipe).get("data") or {}
    for split in ("val", "test", "train"):
        steps = (data.get(split) or {}).get("pipeline") or []
        if not steps:
            continue
        padding, udp, fixed = 1.25, False, None
        for step in steps:
            name = step.get("name", step.get("type"))
            if name in _PADDING_NAMES:
                padding = float(step.get("padding", 1.25))
                size = step.get("fixed_size")
                fixed = None if size is None else (float(size[0]), float(size[1]))
            elif name in _AFFINE_NAMES:
                udp = bool(step.get("use_udp", False))
        return padding, udp, fixed
    return 1.25, False, None


def normalize_crops(crops: np.ndarray, spec: TopDownSpec) -> np.ndarray:
    """``(B, h, w, 3)`` BGR crops → ``(B, 3, h, w)`` float32 network input: BGR 0–255, or
    normalised RGB when ``spec.normalize`` (a graph exported without preprocessing)."""
    x = np.asarray(crops).transpose(0, 3, 1, 2).astype(np.float32)
    if spec.normalize:
        if spec.bgr_to_rgb:
            x = x[:, ::-1]
        mean = np.asarray(spec.mean, np.float32).reshape(1, 3, 1, 1)
        std = np.asarray(spec.std, np.float32).reshape(1, 3, 1, 1)
        x = (x - mean) / std
    return np.ascontiguousarray(x, np.float32)


def _as_dict(recipe: Any) -> dict[str, Any]:
    if isinstance(recipe, Mapping):
        return dict(recipe)
    from posecli.recipe import recipe_to_dict

    return recipe_to_dict(recipe)


__all__ = [
    "OUTPUT_KINDS",
    "SPEC_VERSION",
    "FlipSpec",
    "TopDownSpec",
    "build_codec",
    "flip_spec",
    "normalize_crops",
    "pipeline_geometry",
]
