"""Build a :class:`PoseLifter` from a recipe whose ``model.kind = "lifting"``."""

from __future__ import annotations

from typing import Any

from posecli.errors import BuildError, PoseCliError
from posecli.models.estimators.lifting import PoseLifter
from posecli.recipe import Recipe


def _component(table: Any, kind: str, path: str) -> Any:
    from posecli.plugins import registry

    return registry(kind).build_from(table.as_dict(), path=path)


def build_lifter(
    recipe: Recipe, num_keypoints: int | None, flip_indices: list[int] | None, *, pretrained: bool
) -> PoseLifter:
    """The lifter of ``recipe`` (backbone, head, optional trajectory model, codec).

    ``num_keypoints`` (the skeleton's K) is checked against the codec's.
    """
    from posecli.models.weights import load_pretrained
    from posecli.plugins import registry

    m = recipe.model
    codec = registry("codecs").build_from(recipe.codec.as_dict(), path="codec")
    codec_k = getattr(codec, "num_keypoints", None)
    if num_keypoints is not None and codec_k is not None and int(codec_k) != num_keypoints:
        raise BuildError(f"codec: {codec_k} keypoints but the skeleton has {num_keypoints}")
    if m.traj_head is None and m.traj_backbone is not None:
        raise BuildError("model.traj_backbone needs model.traj_head")
    model = PoseLifter(
        _component(m.backbone, "backbones", "model.backbone"),
        _component(m.head, "heads", "model.head"),
        codec=codec,
        traj_backbone=(
            _component(m.traj_backbone, "backbones", "model.traj_backbone")
            if m.traj_backbone is not None
            else None
        ),
        traj_head=(
            _component(m.traj_head, "heads", "model.traj_head") if m.traj_head is not None else None
        ),
        num_keypoints=num_keypoints if num_keypoints is not None else codec_k,
        flip_indices=flip_indices,
        test_cfg=m.test,
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
    return model


__all__ = ["build_lifter"]
