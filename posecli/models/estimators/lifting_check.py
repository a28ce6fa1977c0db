"""Recipe check of a lifting recipe (``model.kind = "lifting"``): build every component and run
one synthetic sequence batch through each pipeline, the loss and predict, before any work."""

from __future__ import annotations

from typing import Any

import numpy as np

from posecli.errors import PoseCliError, RecipeError


def synthetic_lifting_sample(
    num_keypoints: int, length: int, multiple_target: bool, flip_indices: list[int], seed: int = 0
) -> dict[str, Any]:
    """A raw lifting sample (``posecli.data.datasets.h36m`` keys): a standing figure 5 m in
    front of a 1000×1000 camera, projected, over ``length`` frames."""
    rng = np.random.default_rng(seed)
    tgt = rng.normal(0, 0.2, (length, num_keypoints, 3)).astype(np.float32)
    tgt[..., 2] += 5.0
    f, c = 1145.0, 500.0
    kp = (tgt[..., :2] / tgt[..., 2:] * f + c).astype(np.float32)
    mid = -1 if not multiple_target else slice(None)
    return {
        "keypoints": kp,
        "keypoints_visible": np.ones(kp.shape[:-1], np.float32),
        "lifting_target": tgt[mid].copy(),
        "lifting_target_visible": np.ones(tgt[mid].shape[:-1], np.float32),
        "camera_param": {
            "w": 1000,
            "h": 1000,
            "f": np.array([f, f], np.float32),
            "c": np.array([c, c], np.float32),
        },
        "flip_indices": flip_indices,
        "id": 0,
        "img_id": 0,
        "category_id": 1,
        "action": "Synthetic",
        "subject": "S0",
        "target_img_path": "<synthetic>",
    }


def check_lifting_recipe(recipe: Any, skeleton: Any) -> None:
    """Raise :class:`RecipeError` naming the first part of a lifting recipe that fails."""
    import torch

    from posecli.api import build_model
    from posecli.data.collate import collate
    from posecli.data.transforms.compose import build_pipeline
    from posecli.engine.optim import build_optimizer
    from posecli.evaluation import build_metrics, reported_names

    model = build_model(recipe, skeleton, pretrained=False)
    if recipe.train is not None:
        build_optimizer(model, recipe.train.optimizer, no_decay_norm_bias=True)
    metrics = build_metrics([m.as_dict() for m in recipe.eval.metrics], skeleton)
    if recipe.train is not None and recipe.train.save_best is not None:
        names = reported_names(metrics)
        if recipe.train.save_best not in names:
            raise RecipeError(
                f"train.save_best = {recipe.train.save_best!r} is not reported by eval.metrics "
                f"(they report {', '.join(names) or 'nothing'})"
            )
    k = int(model.num_keypoints or 0)
    fi = list(model.flip_indices or range(k))
    defaults = {"encoder": recipe.codec.as_dict()}
    for split in ("train", "val", "test"):
        cfg = getattr(recipe.data, split)
        if cfg is None or not cfg.pipeline or not k:
            continue
        table = cfg.dataset.kwargs
        multi = int(table.get("multiple_target", 0) or 0)
        length = multi or int(table.get("seq_len", 1))
        path = f"data.{split}.pipeline"
        pipeline = build_pipeline([t.as_dict() for t in cfg.pipeline], path=path, defaults=defaults)
        rng = np.random.default_rng(0)
        try:
            batch = collate(
                [
                    pipeline(synthetic_lifting_sample(k, length, bool(multi), fi, s), rng)
                    for s in (0, 1)
                ]
            )
        except PoseCliError:
            raise
        except Exception as exc:
            raise RecipeError(
                f"{path}: fails on a synthetic sequence: {type(exc).__name__}: {exc}"
            ) from None
        try:
            if split == "train":
                model.train()
                losses = model.loss(batch)
                if not torch.isfinite(losses["loss"]):
                    raise RecipeError("model (loss): not finite on a synthetic batch")
            else:
                model.eval()
                model.predict(batch)
        except PoseCliError:
            raise
        except Exception as exc:
            raise RecipeError(
                f"model: fails on a batch from {path} (codec {recipe.codec.name!r}, backbone "
                f"{recipe.model.backbone.name!r}): {type(exc).__name__}: {exc}"
            ) from None
    model.eval()


__all__ = ["check_lifting_recipe", "synthetic_lifting_sample"]
