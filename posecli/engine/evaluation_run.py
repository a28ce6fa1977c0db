"""Evaluate a checkpoint on a recipe split: the library function behind ``posecli eval``."""

from __future__ import annotations

import inspect
import json
import logging
from pathlib import Path
from typing import Any

import numpy as np

from posecli.data.validate import require_valid_splits
from posecli.errors import DataError, PoseCliError, UsageError
from posecli.recipe import Recipe, apply_overrides, recipe_to_dict, validate_recipe

log = logging.getLogger(__name__)

DEFAULT_METRICS = ({"name": "pck", "thr": 0.05}, {"name": "auc"}, {"name": "epe"})
SPLITS = ("train", "val", "test")


def _check_split(recipe: Recipe, split: str, data: Path | None, bbox_file: Path | None) -> None:
    if split not in SPLITS:
        raise UsageError(f"--split {split!r}: expected one of {', '.join(SPLITS)}")
    if data is None and getattr(recipe.data, split) is None:
        known = [s for s in SPLITS if getattr(recipe.data, s) is not None]
        raise PoseCliError(
            f"the checkpoint's recipe has no data.{split} split (has: {', '.join(known) or 'none'})"
        )
    if bbox_file is not None and data is None:
        params = inspect.signature(_dataset_factory(recipe, split)).parameters
        if "det_file" not in params:
            name = getattr(recipe.data, split).dataset.name
            raise PoseCliError(f"--bbox-file: dataset {name!r} cannot use detected boxes")


def _dataset_factory(recipe: Recipe, split: str) -> Any:
    from posecli.plugins import registry

    return registry("datasets").get(getattr(recipe.data, split).dataset.name).factory


def map_keypoints(ann: Any, skeleton: Any, source: str) -> Any:
    """``ann`` re-indexed to ``skeleton``'s keypoints by name (extra keypoints dropped).

    Raises:
        DataError: a keypoint of ``skeleton`` that the data does not have (names listed).
    """
    from dataclasses import replace

    have = list(ann.skeleton.keypoint_names)
    want = list(skeleton.keypoint_names)
    if have == want:
        return replace(ann, skeleton=skeleton)
    where = {n: i for i, n in enumerate(have)}
    missing = [n for n in want if n not in where]
    if missing:
        shown = ", ".join(missing[:6]) + (
            f" (+{len(missing) - 6} more)" if len(missing) > 6 else ""
        )
        raise DataError(
            f"--data {source}: keypoint names do not match the checkpoint's skeleton "
            f"{skeleton.name!r}: the data lacks {shown} (it has: {', '.join(have[:6])}...)"
        )
    idx = np.array([where[n] for n in want], np.int64)
    return replace(
        ann,
        skeleton=skeleton,
        keypoints=ann.keypoints[:, idx],
        visibility=ann.visibility[:, idx],
    )


def _data_dataset(
    recipe: Recipe,
    split: str,
    data: Path,
    data_format: str | None,
    bbox_file: Path | None,
    skeleton: Any,
) -> Any:
    """A torch dataset of the whole file ``data`` (any format), through the split's
    evaluation pipeline, keypoints mapped to the checkpoint's skeleton by name."""
    from posecli.data.datasets.base import PoseDataset
    from posecli.data.loader import PoseTorchDataset, pipeline_defaults
    from posecli.data.transforms.compose import build_pipeline
    from posecli.data.validate import detect_format, read_annotations

    cfg = getattr(recipe.data, split) if split != "train" else None
    cfg = cfg or recipe.data.val or recipe.data.test or recipe.data.train
    fmt = data_format or detect_format(data)
    options = {}
    if fmt == "dlc":  # boxes as the recipe's DLC dataset makes them (default: whole image)
        options["bbox"] = cfg.dataset.as_dict().get("bbox", "image")
    ann, _, _ = read_annotations(data, fmt, **options)
    if skeleton is not None:
        ann = map_keypoints(ann, skeleton, str(data))
    dets = None
    if bbox_file is not None:
        from posecli.data.converters.coco import read_detections

        dets = read_detections(bbox_file)
    tables = [step.as_dict() for step in cfg.pipeline]
    pipe = build_pipeline(tables, path=f"data.{split}.pipeline", defaults=pipeline_defaults(recipe))
    mode = "bottomup" if recipe.model.kind == "bottomup" else "topdown"
    return PoseTorchDataset(PoseDataset(ann, mode=mode, test_mode=True, detections=dets), pipe)


def evaluate_checkpoint(
    checkpoint: str | Path,
    *,
    split: str = "val",
    data: Path | None = None,
    data_format: str | None = None,
    bbox_file: Path | None = None,
    detector: str | None = None,
    detector_weights: str | None = None,
    bbox_thr: float = 0.3,
    flip_test: bool | None = None,
    rotation_test: bool | None = None,
    overrides: list[str] | None = None,
    device: str = "auto",
    batch_size: int | None = None,
    out: Path | None = None,
    force: bool = False,
) -> dict[str, float]:
    """Metrics of ``checkpoint`` on ``split`` of its recipe (MMPose names: ``PCK``, ``coco/AP``).

    Args:
        checkpoint: posecli checkpoint; EMA weights are used when it has them.
        split: ``val``, ``test`` or ``train``.
        data: an annotation file (any supported format) evaluated whole instead of the
            split's own, its keypoints mapped to the checkpoint's skeleton by name.
        data_format: the format of ``data`` (default: detected from the file).
        bbox_file: COCO detection results replacing ground-truth boxes (COCO datasets).
        detector, detector_weights: a registered detector (``posecli list detectors``) whose
            boxes scored at least ``bbox_thr`` replace the ground-truth boxes: the whole
            two-stage pipeline is evaluated, as ``posecli predict --detector`` runs it.
        flip_test: override the recipe's flip test.
        rotation_test: override the recipe's rotation test (``model.test.rotation_test``,
            checked like a ``--set``).
        overrides: ``--set`` overrides applied to the stored recipe.
        device: ``auto``, ``cpu``, ``cuda``, ``cuda:N``.
        batch_size: override the split's batch size.
        out: write COCO-format predictions here (refused if it exists unless ``force``).
    """
    import torch

    from posecli.api import load_checkpoint
    from posecli.data.loader import build_dataloader
    from posecli.data.metainfo import load_skeleton
    from posecli.engine.evaluate import predict_loader
    from posecli.engine.trainer import resolve_device
    from posecli.evaluation import build_metrics

    if out is not None and out.exists() and not force:
        raise PoseCliError(f"{out} exists; pass --force to overwrite it")
    model, recipe = load_checkpoint(checkpoint)
    if rotation_test is not None:
        overrides = [*(overrides or []), f"model.test.rotation_test={str(rotation_test).lower()}"]
    if overrides:
        recipe = validate_recipe(
            apply_overrides(recipe_to_dict(recipe), overrides), f"{checkpoint} (with --set)"
        )
        from posecli.recipe.check import check_recipe

        check_recipe(recipe, f"{checkpoint} (with --set)")
    _check_split(recipe, split, data, bbox_file)
    if detector is not None and (bbox_file is not None or recipe.model.kind == "bottomup"):
        raise UsageError(
            "--detector: pass it without --bbox-file, for a top-down checkpoint"
            if bbox_file is not None
            else "--detector: a bottom-up checkpoint finds its instances itself"
        )
    if data is None and bbox_file is not None:
        recipe = _with_det_file(recipe, split, bbox_file)
    if overrides:  # --set codec.* (decode options) and model.test.* apply to the loaded model
        from posecli.plugins import registry

        model.codec = registry("codecs").build_from(recipe.codec.as_dict(), path="codec")
    model.test_cfg = recipe.model.test
    if flip_test is not None:
        model.test_cfg = model.test_cfg.model_copy(update={"flip_test": flip_test})
    dev = resolve_device(device)
    model.to(dev).eval()
    skeleton = load_skeleton(recipe.data.skeleton) if recipe.data.skeleton else None
    tables = [m.as_dict() for m in recipe.eval.metrics] or [dict(t) for t in DEFAULT_METRICS]
    metrics = build_metrics(tables, skeleton)
    dataset = (
        _data_dataset(recipe, split, data, data_format, bbox_file, skeleton)
        if data is not None
        else _eval_dataset(recipe, split)
    )
    if detector is not None:
        dataset = _detected_dataset(dataset, detector, detector_weights, bbox_thr, dev)
    if getattr(dataset.dataset, "detections", None) is not None:
        metrics = _found_instance_metrics(metrics)
    loader = build_dataloader(
        recipe,
        split if getattr(recipe.data, split) is not None else "val",
        shuffle=False,
        batch_size=batch_size,
        dataset=dataset,
    )
    require_valid_splits({split: loader}, skip_bad_images=recipe.data.skip_bad_samples)
    records: list[tuple[dict[str, np.ndarray], dict[str, Any]]] = []
    # Instances found (bottom-up, detected boxes): the metrics take the dataset as the truth.
    for metric in metrics:
        metric.bind_dataset(loader.dataset)
    with torch.inference_mode():
        for predictions, meta in predict_loader(model, loader, dev):
            for metric in metrics:
                metric.process(predictions, meta)
            if out is not None:
                records.append((predictions, meta))
    values: dict[str, float] = {}
    for metric in metrics:
        values.update(metric.compute())
    if out is not None:
        _write_results(out, records, skeleton)
    return values


def _found_instance_metrics(metrics: list[Any]) -> list[Any]:
    """The metrics that hold with detected boxes (COCO AP, matched instances); the per-box
    ones (PCK, EPE, NME...) compare a detection with nothing and are left out, said once."""
    kept = [m for m in metrics if getattr(m, "scores_found_instances", False)]
    dropped = [m.name for m in metrics if m not in kept]
    if dropped:
        log.warning(
            "with detected boxes the per-box metrics (%s) are not reported: they need the "
            "labelled boxes",
            ", ".join(dropped),
        )
    if not kept:
        raise PoseCliError(
            "with detected boxes none of the recipe's metrics applies (add coco_ap or "
            "instance_match to eval.metrics, e.g. --set 'eval.metrics=[{name=\"coco_ap\"}]')"
        )
    return kept


def _detected_dataset(
    dataset: Any, detector: str, weights: str | None, bbox_thr: float, device: str
) -> Any:
    """``dataset`` (a ``PoseTorchDataset``) with the boxes ``detector`` finds in each of its
    images instead of the labelled ones."""
    from posecli.data.datasets.base import PoseDataset
    from posecli.data.io import read_image
    from posecli.data.loader import PoseTorchDataset
    from posecli.inference.setup import make_box_provider
    from posecli.runtime.frames import Frame

    provider = make_box_provider(
        detector=detector, detector_weights=weights, bbox_thr=bbox_thr, device=device
    )
    ann = dataset.dataset.ann
    dets: dict[int, list[tuple[list[float], float]]] = {}
    for i, record in enumerate(ann.images):
        path, frame = ann.image_source(i)
        image = read_image(path, frame, record=f"image id={record.id}")
        found = provider(Frame(i, None, image, record.file_name))
        boxes, scores = found.xyxy, found.scores
        dets[record.id] = [
            ([float(x1), float(y1), float(x2 - x1), float(y2 - y1)], float(score))
            for (x1, y1, x2, y2), score in zip(boxes, scores, strict=True)
        ]
    if not any(dets.values()):
        raise PoseCliError(
            f"--detector {detector}: no box scored at least {bbox_thr:g} in the "
            f"{len(ann.images)} images evaluated (lower --bbox-thr, or train the detector longer)"
        )
    detected = PoseDataset(ann, mode="topdown", test_mode=True, detections=dets)
    return PoseTorchDataset(detected, dataset.pipeline)


def _with_det_file(recipe: Recipe, split: str, bbox_file: Path) -> Recipe:
    """The recipe with ``data.<split>.dataset.det_file`` set to ``bbox_file``."""
    table = recipe_to_dict(recipe)
    table["data"][split]["dataset"]["det_file"] = str(bbox_file.resolve())
    return validate_recipe(table, "checkpoint recipe")


def _eval_dataset(recipe: Recipe, split: str) -> Any:
    """The split's dataset with an evaluation pipeline: the training split is evaluated
    through the validation pipeline (no random augmentation), other splits through their own."""
    from posecli.data.loader import build_torch_dataset

    pipeline = None
    if split == "train" and recipe.data.val is not None:
        pipeline = [step.as_dict() for step in recipe.data.val.pipeline]
    return build_torch_dataset(recipe, split, pipeline=pipeline)


def _write_results(
    out: Path, records: list[tuple[dict[str, np.ndarray], dict[str, Any]]], skeleton: Any
) -> None:
    """COCO results JSON of every prediction (rescored, OKS-NMS as MMPose does)."""
    from posecli.data.io import atomic_write
    from posecli.evaluation.coco import make_results

    kps = np.concatenate([p["keypoints"] for p, _ in records])
    scores = np.concatenate([p["scores"] for p, _ in records])
    n = len(kps)

    def column(key: str, default: Any) -> np.ndarray:
        parts = [m.get(key) for _, m in records]
        if any(p is None for p in parts):
            return np.full(n, default)
        return np.concatenate([np.asarray(p).reshape(len(np.asarray(p)), -1)[:, 0] for p in parts])

    scales = [m.get("input_scale") for _, m in records]
    areas = (
        np.concatenate([np.asarray(s).reshape(-1, 2).prod(1) for s in scales])
        if all(s is not None for s in scales)
        else None
    )
    raw = getattr(skeleton, "sigmas", None)
    sigmas = np.asarray(raw if raw is not None else [], np.float64).reshape(-1)
    if sigmas.shape != (kps.shape[1],):  # skeletons without OKS sigmas: a uniform 0.05
        sigmas = np.full(kps.shape[1], 0.05)
    results = make_results(
        kps,
        scores,
        column("img_id", 0).astype(np.int64),
        sigmas=sigmas,
        bbox_scores=column("bbox_score", 1.0).astype(np.float64),
        areas=areas,
        ids=column("id", -1).astype(np.int64),
        category_ids=column("category_id", 1).astype(np.int64),
    )
    with atomic_write(out, force=True) as fh:
        json.dump(results, fh)
