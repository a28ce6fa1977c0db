"""Build a :class:`BottomupPoseEstimator` from a recipe whose ``model.kind = "bottomup"``."""

from __future__ import annotations

import inspect
from typing import Any

from posecli.errors import BuildError, PoseCliError
from posecli.models.estimators.bottomup import BottomupPoseEstimator
from posecli.recipe import Recipe


def build_bottomup(
    recipe: Recipe,
    skeleton: Any,
    num_keypoints: int | None,
    flip_indices: list[int] | None,
    *,
    pretrained: bool,
) -> BottomupPoseEstimator:
    """The bottom-up model of ``recipe``; the head's ``num_keypoints`` comes from the skeleton
    when the recipe leaves it out (a different value is an error naming both)."""
    from posecli.models.weights import load_pretrained
    from posecli.plugins import registry

    m = recipe.model
    backbone = registry("backbones").build_from(m.backbone.as_dict(), path="model.backbone")
    neck = (
        registry("necks").build_from(m.neck.as_dict(), path="model.neck")
        if m.neck is not None
        else None
    )
    head_cfg = m.head.as_dict()
    params = inspect.signature(registry("heads").get(str(head_cfg["name"])).factory).parameters
    if "num_keypoints" in params:
        given = head_cfg.get("num_keypoints")
        if given is None and num_keypoints is not None:
            head_cfg["num_keypoints"] = num_keypoints
        elif given is not None and num_keypoints is not None and int(given) != num_keypoints:
            raise BuildError(
                f"model.head.num_keypoints = {given} but the skeleton has {num_keypoints}"
            )
    if "sigmas" in params and skeleton is not None:  # OKS-based heads (RTMO)
        from posecli.evaluation.metrics import skeleton_sigmas

        head_cfg.update(skeleton_sigmas(skeleton, head_cfg))
    head = registry("heads").build_from(head_cfg, path="model.head")
    codec = registry("codecs").build_from(recipe.codec.as_dict(), path="codec")
    links = None
    if skeleton is not None:
        raw = (
            skeleton.get("links")
            if isinstance(skeleton, dict)
            else getattr(skeleton, "links", None)
        )
        if raw:
            links = [list(p["link"]) if isinstance(p, dict) else list(p) for p in raw]
            if links and not isinstance(links[0][0], int):
                links = None  # metainfo links by name: the rescore net needs indices
    if links is None and recipe.data.skeleton:
        from posecli.data.metainfo import load_skeleton

        links = [list(p) for p in load_skeleton(recipe.data.skeleton).links] or None
    model = BottomupPoseEstimator(
        backbone,
        head,
        neck,
        codec=codec,
        num_keypoints=num_keypoints if num_keypoints is not None else head_cfg.get("num_keypoints"),
        flip_indices=flip_indices,
        skeleton_links=links,
        test_cfg=m.test,
        nms_dist_thr=m.test.nms_dist_thr,
        nms_joints_thr=m.test.nms_joints_thr,
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
    return model


__all__ = ["build_bottomup"]
