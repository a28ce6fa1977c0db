"""A :class:`~posecli.runtime.bottomup_predictor.BottomupPredictor` running a torch model."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from posecli.runtime.bottomup_predictor import BottomupPredictor


def resize_of(recipe: Any) -> Any:
    """The ``bottomup_resize`` of the recipe's validation (or test) pipeline; default: the
    codec's input size, ``expand``, size factor 32 (MMPose's bottom-up test setting)."""
    from posecli.data.transforms.bottomup import BottomupResize

    for split in ("val", "test"):
        cfg = getattr(recipe.data, split, None)
        for step in cfg.pipeline if cfg is not None else ():
            if step.name.lower() in ("bottomup_resize", "bottomupresize"):
                args = {"input_size": list(recipe.input_size), **step.kwargs}
                return BottomupResize(**args)
    return BottomupResize(list(recipe.input_size), size_factor=32, resize_mode="expand")


def torch_bottomup_predictor(
    model: Any,
    recipe: Any,
    *,
    skeleton: Any = None,
    device: str = "cpu",
    flip_test: bool | None = None,
    source: str = "",
) -> BottomupPredictor:
    """Frames → ``model.predict_instances`` (flip test per recipe unless ``flip_test``)."""
    model = model.to(device).eval()
    if flip_test is not None:
        model.test_cfg = model.test_cfg.model_copy(update={"flip_test": bool(flip_test)})

    def infer(inputs: np.ndarray, meta: dict[str, Any]) -> tuple[list[np.ndarray], ...]:
        batch: dict[str, Any] = {"inputs": torch.from_numpy(inputs).to(device)}
        for key, value in meta.items():
            if isinstance(value, list):  # aug_inputs: one array per extra scale
                batch[key] = [torch.from_numpy(v).to(device) for v in value]
            else:
                batch[key] = torch.from_numpy(value)
        with torch.inference_mode():
            kps, scores = model.predict_instances(batch)
        if model.last_bboxes is not None:
            return kps, scores, model.last_bboxes, model.last_bbox_scores
        return kps, scores

    return BottomupPredictor(
        infer,
        resize_of(recipe),
        int(model.num_keypoints),
        skeleton=skeleton,
        backend="torch",
        device=str(device),
        source=source,
    )


__all__ = ["resize_of", "torch_bottomup_predictor"]
