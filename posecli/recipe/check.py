"""Checking a whole recipe before any work starts: every component built, geometry agreed.

:func:`check_recipe` is what ``posecli recipe show`` and the start of ``train``/``eval`` run.
It goes beyond :func:`posecli.recipe.components.check_components` (names and arguments):

1. the skeleton, codec, model (no pretrained download), every pipeline transform (training,
   validation, test and the pipeline switch), the optimiser and the metrics are built;
2. values that must agree are compared, and a conflict is one line naming both dotted paths:
   ``model.head.input_size`` / ``simcc_split_ratio`` against ``codec.*``, the head's
   ``in_channels`` / ``in_featuremap_size`` against the backbone and neck's feature map at the
   codec's input size, every ``topdown_affine.input_size`` against ``codec.input_size``;
3. ``train.save_best`` must be one of the names the metrics report (``coco/AP``, ``PCK``...),
   and every ``per_dataset`` metric must name sources of the combined validation dataset;
4. a synthetic sample (a grey image, one instance in a box) runs through the training pipeline,
   the model's loss, the validation pipeline and ``predict``: shapes of codec targets, head
   outputs and decode are proven to fit before the first real batch.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from posecli.errors import PoseCliError, RecipeError
from posecli.recipe.components import check_components
from posecli.recipe.schema import Recipe

__all__ = ["check_recipe", "synthetic_sample"]


def check_recipe(recipe: Recipe, source: str = "<recipe>", *, skeleton: Any = None) -> None:
    """Build and cross-check everything ``recipe`` names; raise :class:`RecipeError` on the
    first problem, as ``SOURCE: dotted.path: message``.

    Args:
        recipe: A validated recipe.
        source: Where it came from (file name) for messages.
        skeleton: The skeleton the run will use when the recipe names none (a dataset's own).
    """
    check_components(recipe, source=source)
    try:
        _check_built(recipe, skeleton)
    except RecipeError as exc:
        raise RecipeError(f"{source}: {exc}") from None
    except PoseCliError as exc:
        raise RecipeError(f"{source}: {exc}") from None


def _check_built(recipe: Recipe, skeleton: Any) -> None:
    from posecli.api import build_model, feature_geometry
    from posecli.engine.optim import build_optimizer
    from posecli.evaluation import build_metrics, reported_names

    if skeleton is None and recipe.data.skeleton:
        from posecli.data.metainfo import load_skeleton

        try:
            skeleton = load_skeleton(recipe.data.skeleton)
        except PoseCliError as exc:
            raise RecipeError(f"data.skeleton: {exc}") from None
    _check_per_dataset_sources(recipe)
    if recipe.model.test.rotation_test and recipe.model.kind != "topdown":
        raise RecipeError(
            f"model.test.rotation_test: top-down models only (this is a {recipe.model.kind} model)"
        )
    if recipe.model.kind == "lifting":  # 2D→3D lifter: no crop geometry (its own dry run)
        from posecli.models.estimators.lifting_check import check_lifting_recipe

        return check_lifting_recipe(recipe, skeleton)
    if recipe.model.kind == "bottomup":  # whole images: its own dry run (two instances)
        from posecli.models.estimators.bottomup_check import check_bottomup_recipe

        return check_bottomup_recipe(recipe, skeleton)
    _check_pipelines_input_size(recipe)
    head_cfg = recipe.model.head.as_dict()
    codec_args = recipe.codec.kwargs
    _check_same("model.head", head_cfg, "codec", codec_args, ("input_size", "simcc_split_ratio"))
    model = build_model(recipe, skeleton, pretrained=False)
    geometry = feature_geometry(model.backbone, getattr(model, "neck", None), recipe.input_size)
    for key, value in geometry.items():
        if key in head_cfg and _norm(head_cfg[key]) != _norm(value):
            raise RecipeError(
                f"model.head.{key} = {_show(head_cfg[key])} but the backbone and neck give "
                f"{_show(value)} at codec.input_size = {_show(codec_args['input_size'])} "
                f"(leave model.head.{key} out to derive it)"
            )
    _check_rotation_test(recipe, model)
    if recipe.train is not None:
        build_optimizer(model, recipe.train.optimizer, no_decay_norm_bias=True)
    metrics = build_metrics([m.as_dict() for m in recipe.eval.metrics], skeleton)
    if recipe.train is not None and recipe.train.save_best is not None:
        from posecli.engine.evaluation_run import DEFAULT_METRICS

        names = reported_names(metrics) or reported_names(build_metrics(DEFAULT_METRICS))
        if recipe.train.save_best not in names:
            raise RecipeError(
                f"train.save_best = {recipe.train.save_best!r} is not reported by eval.metrics "
                f"(they report {', '.join(names)})"
            )
    _dry_run(recipe, model, skeleton)


def _check_rotation_test(recipe: Recipe, model: Any) -> None:
    """``model.test.rotation_test`` needs a head that can turn its outputs back (SimCC) and a
    square input (a quarter turn maps the crop onto itself)."""
    from posecli.models.heads.base import BaseHead

    if not recipe.model.test.rotation_test:
        return
    if type(model.head).unrotate is BaseHead.unrotate:
        raise RecipeError(
            f"model.test.rotation_test: {recipe.model.head.name} has no rotation test (SimCC "
            "heads have: simcc_head, rtmcc_head, rtmw_head)"
        )
    w, h = (int(v) for v in recipe.input_size)
    if w != h:
        raise RecipeError(
            f"model.test.rotation_test: needs a square codec.input_size, got [{w}, {h}]"
        )


def combined_sources(split: Any) -> list[str] | None:
    """The source names (``alias`` or format name) of a split's ``combined`` dataset, or
    ``None`` when the split's dataset is not combined."""
    from posecli.plugins import registry

    if split is None:
        return None
    try:
        name = registry("datasets").get(split.dataset.name).name
    except PoseCliError:  # an unknown dataset is check_components' message
        return None
    if name != "combined":
        return None
    entries = split.dataset.kwargs.get("datasets") or []
    return [str(e.get("alias", e.get("name"))) for e in entries if isinstance(e, Mapping)]


def _check_per_dataset_sources(recipe: Recipe) -> None:
    """Every ``per_dataset`` metric names sources of the combined validation dataset (found at
    the end of the first validation otherwise, an epoch into training)."""
    from posecli.plugins import registry

    reg = registry("metrics")
    split = recipe.data.test if recipe.data.val is None else recipe.data.val
    if split is None:
        return  # nothing to validate on: eval --set data.val... decides
    sources = combined_sources(split)
    for i, metric in enumerate(recipe.eval.metrics):
        try:
            is_per_dataset = reg.get(metric.name).name == "per_dataset"
        except PoseCliError:  # an unknown metric is check_components' message
            continue
        if not is_per_dataset:
            continue
        if sources is None:
            raise RecipeError(
                f"eval.metrics.{i}: per_dataset needs a combined validation dataset, but "
                f"data.{'val' if recipe.data.val is not None else 'test'}.dataset is "
                f"{split.dataset.name!r}"
            )
        for name in metric.kwargs.get("datasets") or []:
            if str(name) not in sources:
                raise RecipeError(
                    f"eval.metrics.{i}.datasets: {name!r} is not a source of the validation dataset "
                    f"(its sources: {', '.join(sources)}; a source is named by its 'alias' "
                    "or its format)"
                )


def _check_pipelines_input_size(recipe: Recipe) -> None:
    expected = [int(v) for v in recipe.input_size]
    for path, pipeline in _pipelines(recipe):
        for i, step in enumerate(pipeline):
            args = step.kwargs
            is_affine = step.name.lower() in ("topdown_affine", "topdownaffine")
            if is_affine and "input_size" in args and _norm(args["input_size"]) != _norm(expected):
                raise RecipeError(
                    f"{path}.{i}.input_size = {_show(args['input_size'])} but "
                    f"codec.input_size = {_show(expected)} (leave it out to use the codec's)"
                )


def _pipelines(recipe: Recipe) -> list[tuple[str, list[Any]]]:
    found = []
    for split in ("train", "val", "test"):
        cfg = getattr(recipe.data, split)
        if cfg is not None:
            found.append((f"data.{split}.pipeline", list(cfg.pipeline)))
    if recipe.train is not None and recipe.train.pipeline_switch is not None:
        found.append(
            ("train.pipeline_switch.pipeline", list(recipe.train.pipeline_switch.pipeline))
        )
    return found


def _check_same(
    path_a: str, a: Mapping[str, Any], path_b: str, b: Mapping[str, Any], keys: Sequence[str]
) -> None:
    for key in keys:
        if key in a and key in b and _norm(a[key]) != _norm(b[key]):
            raise RecipeError(
                f"{path_a}.{key} = {_show(a[key])} but {path_b}.{key} = {_show(b[key])} "
                f"(leave {path_a}.{key} out to derive it)"
            )


def _norm(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return tuple(_norm(v) for v in value)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return value


def _show(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    return (
        repr(value)
        if isinstance(value, str)
        else f"{value:g}"
        if isinstance(value, float)
        else str(value)
    )


def synthetic_sample(
    num_keypoints: int, input_size: Sequence[int], skeleton: Any = None
) -> dict[str, Any]:
    """A raw top-down sample: a grey ``(2h, 2w)`` image with one instance whose ``K``
    keypoints lie on a grid inside a centred box (see :mod:`posecli.data.sample`)."""
    w, h = int(input_size[0]), int(input_size[1])
    img = np.full((2 * h, 2 * w, 3), 114, np.uint8)
    x1, y1, x2, y2 = 0.5 * w, 0.5 * h, 1.5 * w, 1.5 * h
    side = int(np.ceil(np.sqrt(num_keypoints)))
    grid = (np.arange(num_keypoints) % side, np.arange(num_keypoints) // side)
    kx = x1 + (grid[0] + 1) * (x2 - x1) / (side + 1)
    ky = y1 + (grid[1] + 1) * (y2 - y1) / (side + 1)
    flip = list(getattr(skeleton, "flip_indices", None) or range(num_keypoints))
    return {
        "img": img,
        "img_path": "<synthetic>",
        "img_id": 0,
        "id": 0,
        "category_id": 1,
        "ori_shape": img.shape[:2],
        "bbox": np.array([[x1, y1, x2, y2]], np.float32),
        "bbox_score": np.ones(1, np.float32),
        "keypoints": np.stack([kx, ky], -1)[None].astype(np.float32),
        "keypoints_visible": np.ones((1, num_keypoints), np.float32),
        "num_keypoints": num_keypoints,
        "area": np.array([(x2 - x1) * (y2 - y1)], np.float32),
        "flip_indices": flip,
        "upper_body_ids": list(getattr(skeleton, "upper_body_ids", ()) or ()),
        "lower_body_ids": list(getattr(skeleton, "lower_body_ids", ()) or ()),
        "dataset_keypoint_weights": np.ones(num_keypoints, np.float32),
    }


def _dry_run(recipe: Recipe, model: Any, skeleton: Any) -> None:
    """One synthetic batch through each pipeline, the loss (training) and predict (the rest)."""
    import torch

    from posecli.data.collate import collate
    from posecli.data.loader import pipeline_defaults
    from posecli.data.transforms.compose import build_pipeline

    k = getattr(model, "num_keypoints", None)
    if not k:
        return  # the keypoint count comes from the dataset: checked when it is read
    defaults = pipeline_defaults(recipe)
    rng = np.random.default_rng(0)
    for path, tables in _pipelines(recipe):
        if not tables:
            continue
        pipeline = build_pipeline([t.as_dict() for t in tables], path=path, defaults=defaults)
        try:
            samples = [
                pipeline(synthetic_sample(int(k), recipe.input_size, skeleton), rng)
                for _ in range(2)
            ]
            batch = collate(samples)
        except PoseCliError:
            raise
        except Exception as exc:
            raise RecipeError(f"{path}: fails on a synthetic sample: {_one_line(exc)}") from None
        training = not path.startswith(("data.val", "data.test"))
        where = "model (loss)" if training else "model (predict)"
        try:
            if training:
                if "inputs" not in batch:
                    raise RecipeError(
                        f"{path}: the pipeline gives no model input (no topdown_affine?)"
                    )
                model.train()
                losses = model.loss(batch)
                total = sum(v for v in losses.values() if isinstance(v, torch.Tensor))
                if not torch.isfinite(torch.as_tensor(total)).all():
                    raise RecipeError(f"{where}: the loss is not finite on a synthetic batch")
            elif "inputs" in batch:
                model.eval()
                model.predict(batch)
        except PoseCliError:
            raise
        except Exception as exc:
            raise RecipeError(
                f"{where}: fails on a batch from {path} (codec {recipe.codec.name!r}, head "
                f"{recipe.model.head.name!r}): {_one_line(exc)}"
            ) from None
    model.eval()


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"
