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


__all__: Sequence[str] = ("build_model", "load_checkpoint", "skeleton_metainfo")
