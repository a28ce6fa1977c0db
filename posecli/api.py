"""Library entry points: build a model from a recipe, load a posecli checkpoint."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from posecli.errors import BuildError, PoseCliError
from posecli.models.pose_model import PoseModel
from posecli.recipe import Recipe, recipe_from_toml

_HEAD_K_ARGS = ("out_channels", "num_joints")


def _skeleton_info(skeleton: Any) -> tuple[int | None, list[int] | None]:
    """(num_keypoints, flip_indices) of a Skeleton object or a metainfo mapping."""
    if skeleton is None:
        return None, None
    if isinstance(skeleton, Mapping):
        fi = skeleton.get("flip_indices")
        n = skeleton.get("num_keypoints", len(fi) if fi is not None else None)
        return (int(n) if n is not None else None), (list(fi) if fi is not None else None)
    fi = getattr(skeleton, "flip_indices", None)
    return int(skeleton.num_keypoints), (list(fi) if fi is not None else None)


def _load_skeleton(name: str) -> Any:
    from posecli.data.metainfo import load_skeleton

    return load_skeleton(name)


def build_model(recipe: Recipe, skeleton: Any = None, *, pretrained: bool = True) -> PoseModel:
    """Build the :class:`PoseModel` a recipe describes.

    Args:
        recipe: a validated recipe.
        skeleton: a ``Skeleton`` or metainfo mapping; default ``recipe.data.skeleton``.
            It supplies ``num_keypoints`` (filled into the head when the recipe omits it)
            and ``flip_indices`` (flip test).
        pretrained: load ``recipe.model.pretrained`` sources (off when restoring a checkpoint).
    """
    from posecli.models.weights import load_pretrained
    from posecli.plugins import registry

    if skeleton is None and recipe.data.skeleton:
        skeleton = _load_skeleton(recipe.data.skeleton)
    num_keypoints, flip_indices = _skeleton_info(skeleton)
    m = recipe.model
    if m.kind == "lifting":
        from posecli.models.estimators.build import build_lifter

        return build_lifter(recipe, num_keypoints, flip_indices, pretrained=pretrained)  # type: ignore[return-value]
    if m.kind == "bottomup":
        from posecli.models.estimators.bottomup_build import build_bottomup

        return build_bottomup(  # type: ignore[return-value]
            recipe, skeleton, num_keypoints, flip_indices, pretrained=pretrained
        )
    backbone = registry("backbones").build_from(m.backbone.as_dict(), path="model.backbone")
    neck = (
        registry("necks").build_from(m.neck.as_dict(), path="model.neck")
        if m.neck is not None
        else None
    )
    head_cfg = m.head.as_dict()
    head_k = next((head_cfg[k] for k in _HEAD_K_ARGS if k in head_cfg), None)
    if head_k is None and num_keypoints is not None:
        head_cfg[_head_k_arg(head_cfg["name"])] = num_keypoints
    elif head_k is not None and num_keypoints is not None and int(head_k) != num_keypoints:
        raise BuildError(f"model.head: {head_k} keypoints but the skeleton has {num_keypoints}")
    head_cfg = derive_head_arguments(
        head_cfg, recipe.codec.kwargs, backbone, neck, recipe.input_size
    )
    head = registry("heads").build_from(head_cfg, path="model.head")
    codec = registry("codecs").build_from(recipe.codec.as_dict(), path="codec")
    model = PoseModel(
        backbone,
        head,
        neck,
        codec=codec,
        num_keypoints=num_keypoints if num_keypoints is not None else head_k,
        flip_indices=flip_indices,
        test_cfg=m.test,
        mean=m.preprocess.mean,
        std=m.preprocess.std,
        bgr_to_rgb=m.preprocess.bgr_to_rgb,
    )
    if pretrained:
        for i, spec in enumerate(m.pretrained):
            try:
                load_pretrained(
                    model,
                    spec.source,
                    prefix=spec.prefix,
                    into=spec.into,
                    strict=spec.strict,
                    sha256=spec.sha256,
                )
            except PoseCliError as exc:
                raise type(exc)(f"model.pretrained.{i}: {exc}") from None
    if m.channels_last:
        model.set_channels_last(True)
    return model


#: Head arguments that repeat the codec's (same name on both): filled in when left out.
CODEC_DERIVED_HEAD_ARGS = ("input_size", "simcc_split_ratio")
#: Head arguments that the backbone and neck determine: filled in when left out.
FEATURE_DERIVED_HEAD_ARGS = ("in_channels", "in_featuremap_size")


def feature_geometry(backbone: Any, neck: Any, input_size: Sequence[int]) -> dict[str, Any]:
    """``in_channels`` and ``in_featuremap_size (w, h)`` of the last feature map the head gets,
    from one no-grad forward of zeros ``(1, 3, h, w)`` through the backbone and neck."""
    import torch

    modules = [m for m in (backbone, neck) if m is not None]
    modes = [m.training for m in modules]
    try:
        for m in modules:
            m.eval()
        with torch.no_grad():
            feats = backbone(torch.zeros(1, 3, int(input_size[1]), int(input_size[0])))
            if neck is not None:
                feats = neck(feats)
    finally:
        for m, mode in zip(modules, modes, strict=True):
            m.train(mode)
    last = feats[-1] if isinstance(feats, (list, tuple)) else feats
    geometry: dict[str, Any] = {"in_channels": int(last.shape[1])}
    if last.ndim == 4:
        geometry["in_featuremap_size"] = [int(last.shape[3]), int(last.shape[2])]
    return geometry


def derive_head_arguments(
    head_cfg: dict[str, Any],
    codec_args: Mapping[str, Any],
    backbone: Any,
    neck: Any,
    input_size: Sequence[int],
) -> dict[str, Any]:
    """Fill the head arguments that other recipe values determine, when the recipe omits them:
    ``input_size`` and ``simcc_split_ratio`` from the codec, ``in_channels`` and
    ``in_featuremap_size`` from the backbone and neck at the codec's input size. Values the
    recipe gives are kept (``posecli.recipe.check`` reports conflicts)."""
    import inspect

    from posecli.plugins import registry

    params = inspect.signature(registry("heads").get(str(head_cfg["name"])).factory).parameters
    cfg = dict(head_cfg)
    for key in CODEC_DERIVED_HEAD_ARGS:
        if key in params and key not in cfg and key in codec_args:
            cfg[key] = codec_args[key]
    missing = [k for k in FEATURE_DERIVED_HEAD_ARGS if k in params and k not in cfg]
    if missing:
        geometry = feature_geometry(backbone, neck, input_size)
        cfg.update({k: geometry[k] for k in missing if k in geometry})
    return cfg


def _head_k_arg(head_name: str) -> str:
    """The keyword a head uses for its keypoint count."""
    import inspect

    from posecli.plugins import registry

    params = inspect.signature(registry("heads").get(head_name).factory).parameters
    return next((k for k in _HEAD_K_ARGS if k in params), "out_channels")


def load_checkpoint(path: str | Path, *, prefer_ema: bool = True) -> tuple[PoseModel, Recipe]:
    """Rebuild a model and its recipe from a posecli checkpoint (EMA weights when present).

    The model is returned in eval mode; no pretrained sources are fetched.
    """
    from posecli.engine.checkpoint import read_checkpoint
    from posecli.models.weights import load_weights_into

    data = read_checkpoint(path)
    recipe = recipe_from_toml(data["recipe"], source=str(path))
    metainfo = data.get("metainfo") or None
    skeleton: Any = metainfo if metainfo and "flip_indices" in metainfo else None
    model = build_model(recipe, skeleton, pretrained=False)
    ema = data.get("ema_state_dict")
    state: Mapping[str, Any] = ema if prefer_ema and ema else data["state_dict"]
    load_weights_into(model, state, True, f"checkpoint {path}")
    model.eval()
    return model, recipe


def skeleton_metainfo(skeleton: Any) -> dict[str, Any]:
    """Plain-data metainfo of a skeleton for checkpoints (``to_metainfo()`` when available)."""
    if skeleton is None:
        return {}
    if isinstance(skeleton, Mapping):
        return dict(skeleton)
    raw = skeleton.to_metainfo() if hasattr(skeleton, "to_metainfo") else {}
    info: dict[str, Any] = {k: (v.tolist() if hasattr(v, "tolist") else v) for k, v in raw.items()}
    n, fi = _skeleton_info(skeleton)
    info.setdefault("num_keypoints", n)
    if fi is not None:
        info.setdefault("flip_indices", fi)
    return info


__all__: Sequence[str] = (
    "build_model",
    "derive_head_arguments",
    "feature_geometry",
    "load_checkpoint",
    "skeleton_metainfo",
)
