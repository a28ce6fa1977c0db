"""The recipe check's bottom-up branch: a synthetic two-instance image through the pipelines.

Called by :func:`posecli.recipe.check.check_recipe` for ``model.kind = "bottomup"``: the
model, optimiser and metrics are built, ``train.save_best`` is checked against the metrics'
names, then a grey image holding two instances runs through the training pipeline and the
loss (finite), and through the validation pipeline and ``predict_instances``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from posecli.errors import PoseCliError, RecipeError
from posecli.recipe.schema import Recipe


def synthetic_bottomup_sample(
    num_keypoints: int, input_size: Any, skeleton: Any = None
) -> dict[str, Any]:
    """A raw bottom-up sample: a grey ``(h, w)`` image with two instances side by side."""
    from posecli.recipe.check import synthetic_sample

    w, h = int(input_size[0]), int(input_size[1])
    one = synthetic_sample(num_keypoints, (w // 2, h // 2), skeleton)  # image (h, w)
    kp = one["keypoints"][0]
    box = one["bbox"][0]
    shift = np.array([w / 4, 0], np.float32)
    keypoints = np.stack([kp - shift, kp + shift]).astype(np.float32)
    bbox = np.stack([box - np.tile(shift, 2), box + np.tile(shift, 2)]).astype(np.float32)
    one.update(
        id=[0, 1],
        bbox=bbox,
        bbox_score=np.ones(2, np.float32),
        keypoints=keypoints,
        keypoints_visible=np.ones((2, num_keypoints), np.float32),
        area=np.repeat(one["area"], 2),
        iscrowd=np.zeros(2, np.int64),
        track_id=np.full(2, -1, np.int64),
    )
    return one


def check_multiscale_test(recipe: Recipe, method: str) -> None:
    """``model.test.multiscale_test`` and every evaluation pipeline's
    ``bottomup_resize.aug_scales`` agree, and the method has the test (MMPose: AE only)."""
    wanted = recipe.model.test.multiscale_test
    if wanted and method != "ae":
        raise RecipeError(
            f"model.test.multiscale_test: MMPose has the multi-scale test for AE heads only, "
            f"not {recipe.model.head.name!r}"
        )
    for split in ("val", "test"):
        cfg = getattr(recipe.data, split, None)
        for i, step in enumerate(cfg.pipeline if cfg is not None else ()):
            if step.name.lower() not in ("bottomup_resize", "bottomupresize"):
                continue
            has = bool(step.kwargs.get("aug_scales"))
            if has != wanted:
                raise RecipeError(
                    f"data.{split}.pipeline[{i}] (bottomup_resize): aug_scales "
                    + (
                        "is set but model.test.multiscale_test is false"
                        if has
                        else "is needed by model.test.multiscale_test (e.g. aug_scales = [0.5, 1.5])"
                    )
                )


def check_bottomup_recipe(recipe: Recipe, skeleton: Any) -> None:
    """Raise :class:`RecipeError` on the first problem of a bottom-up recipe."""
    import torch

    from posecli.api import build_model
    from posecli.data.collate import collate
    from posecli.data.loader import pipeline_defaults
    from posecli.data.transforms.compose import build_pipeline
    from posecli.engine.optim import build_optimizer
    from posecli.evaluation import build_metrics, reported_names
    from posecli.recipe.check import _one_line, _pipelines

    model = build_model(recipe, skeleton, pretrained=False)
    if recipe.train is not None:
        build_optimizer(model, recipe.train.optimizer, no_decay_norm_bias=True)
    metrics = build_metrics([m.as_dict() for m in recipe.eval.metrics], skeleton)
    if recipe.train is not None and recipe.train.save_best is not None:
        names = reported_names(metrics)
        if names and recipe.train.save_best not in names:
            raise RecipeError(
                f"train.save_best = {recipe.train.save_best!r} is not reported by eval.metrics "
                f"(they report {', '.join(names)})"
            )
    check_multiscale_test(recipe, getattr(model, "method", ""))
    k = getattr(model, "num_keypoints", None)
    if not k:
        return
    defaults = pipeline_defaults(recipe)
    rng = np.random.default_rng(0)
    for path, tables in _pipelines(recipe):
        if not tables:
            continue
        pipeline = build_pipeline([t.as_dict() for t in tables], path=path, defaults=defaults)
        training = not path.startswith(("data.val", "data.test"))
        try:
            batch = collate(
                [pipeline(synthetic_bottomup_sample(int(k), recipe.input_size, skeleton), rng)]
            )
        except PoseCliError:
            raise
        except Exception as exc:
            raise RecipeError(f"{path}: fails on a synthetic sample: {_one_line(exc)}") from None
        where = "model (loss)" if training else "model (predict)"
        try:
            if training:
                model.train()
                losses = model.loss(batch)
                if not torch.isfinite(losses["loss"]).all():
                    raise RecipeError(f"{where}: the loss is not finite on a synthetic batch")
            else:
                model.eval()
                model.predict_instances(batch)
        except PoseCliError:
            raise
        except Exception as exc:
            raise RecipeError(
                f"{where}: fails on a batch from {path} (codec {recipe.codec.name!r}, head "
                f"{recipe.model.head.name!r}): {_one_line(exc)}"
            ) from None
    model.eval()


__all__ = ["check_bottomup_recipe", "check_multiscale_test", "synthetic_bottomup_sample"]
