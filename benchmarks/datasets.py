"""Dataset readers and the whole-body metric at scale, printed as one JSON line.

Readers: a synthetic 100,000-instance file in each large format (COCO-WholeBody, CrowdPose,
MPII; 20,000 images, values drawn with a fixed seed) is written to a temporary folder, then
read into posecli's column table; instances/s is the median of ``--repeats`` reads. For the
COCO-layout files the same JSON is indexed by pycocotools' ``COCO`` (what MMPose's readers start
from) for comparison: ``vs_pycocotools`` = posecli instances/s ÷ pycocotools instances/s (the
pycocotools figure covers only its index, not building arrays). xtcocotools is not installed
here (its wheel does not import under numpy 2), so no figure for it.

Metric: 5,000 images × 2 people of COCO-WholeBody predictions (ground truth plus 3 px noise)
through ``coco_wholebody`` (rescoring, OKS-NMS, six COCO evaluations: whole body and five
parts), vs one pycocotools ``COCOeval`` over the 133 keypoints alone.

Usage: ``python benchmarks/datasets.py [--instances 100000] [--repeats 3]``.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

WB_SIZES = {"keypoints": 17, "foot_kpts": 6, "face_kpts": 68, "lefthand_kpts": 21}
WB_SIZES["righthand_kpts"] = 21


def _kpts(rng: np.random.Generator, n: int, k: int, w: int = 640, h: int = 480) -> np.ndarray:
    xy = rng.uniform([0, 0], [w - 1, h - 1], size=(n, k, 2)).round(2)
    v = rng.choice([0.0, 1.0, 2.0], size=(n, k, 1), p=[0.3, 0.2, 0.5])
    return np.concatenate([np.where(v > 0, xy, 0.0), v], axis=-1)


def _coco_layout(n: int, fields: dict[str, int], rng: np.random.Generator) -> dict[str, Any]:
    n_img = max(1, n // 5)
    images = [
        {"id": i + 1, "file_name": f"{i:06d}.jpg", "width": 640, "height": 480}
        for i in range(n_img)
    ]
    per = {f: _kpts(rng, n, k).reshape(n, -1) for f, k in fields.items()}
    boxes = rng.uniform([0, 0, 20, 20], [400, 300, 200, 160], size=(n, 4)).round(2)
    anns = []
    for j in range(n):
        a: dict[str, Any] = {
            "id": j + 1,
            "image_id": j % n_img + 1,
            "category_id": 1,
            "bbox": boxes[j].tolist(),
            "area": float(boxes[j, 2] * boxes[j, 3]),
            "iscrowd": 0,
            "num_keypoints": int((per["keypoints"][j, 2::3] > 0).sum()),
        }
        for f in fields:
            a[f] = per[f][j].tolist()
        anns.append(a)
    names = [f"kp{i}" for i in range(fields["keypoints"])]
    cats = [{"id": 1, "name": "person", "keypoints": names, "skeleton": []}]
    return {"images": images, "annotations": anns, "categories": cats}


def _mpii(n: int, rng: np.random.Generator) -> list[dict[str, Any]]:
    joints = rng.uniform(0, 600, size=(n, 16, 2)).round(2)
    vis = rng.integers(0, 2, size=(n, 16))
    centre = rng.uniform(100, 500, size=(n, 2)).round(2)
    scale = rng.uniform(0.5, 3.0, size=n).round(3)
    return [
        {
            "image": f"{j // 5:06d}.jpg",
            "center": centre[j].tolist(),
            "scale": float(scale[j]),
            "joints": joints[j].tolist(),
            "joints_vis": vis[j].tolist(),
        }
        for j in range(n)
    ]


def _median_s(fn: Callable[[], Any], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def _pycocotools_s(path: Path, repeats: int) -> float:
    from pycocotools.coco import COCO

    def load() -> None:
        with contextlib.redirect_stdout(io.StringIO()):
            COCO(str(path))

    return _median_s(load, repeats)


def readers(n: int, repeats: int, tmp: Path) -> dict[str, Any]:
    from posecli.data.converters import get_format

    rng = np.random.default_rng(0)
    out: dict[str, Any] = {}
    crowd = {"keypoints": 14}
    files = {
        "coco_wholebody": (tmp / "wholebody.json", _coco_layout(n, WB_SIZES, rng)),
        "crowdpose": (tmp / "crowdpose.json", _coco_layout(n, crowd, rng)),
        "mpii": (tmp / "mpii.json", _mpii(n, rng)),
    }
    for fmt, (path, data) in files.items():
        path.write_text(json.dumps(data))
        skeleton = {"crowdpose": "crowdpose"}.get(fmt)
        reader = get_format(fmt)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ann = reader.read(path, skeleton=skeleton)
            assert ann.num_instances == n
            seconds = _median_s(lambda r=reader, p=path, s=skeleton: r.read(p, skeleton=s), repeats)
        row: dict[str, Any] = {
            "instances": n,
            "mb": round(path.stat().st_size / 1e6, 1),
            "seconds": round(seconds, 3),
            "instances_per_s": round(n / seconds),
        }
        if fmt != "mpii":
            ref = _pycocotools_s(path, repeats)
            row["pycocotools_instances_per_s"] = round(n / ref)
            row["vs_pycocotools"] = round(ref / seconds, 2)
        out[fmt] = row
    return out


def wholebody_metric(n_images: int, tmp: Path) -> dict[str, Any]:
    from posecli.data.metainfo import load_skeleton
    from posecli.evaluation import build_metric
    from posecli.evaluation.coco import evaluate_coco
    from posecli.evaluation.wholebody import wholebody_gt

    rng = np.random.default_rng(1)
    n = 2 * n_images
    data = _coco_layout(n, WB_SIZES, rng)
    path = tmp / "wholebody_gt.json"
    path.write_text(json.dumps(data))
    gt = wholebody_gt(path)
    flat = np.asarray([a["keypoints"] for a in gt["annotations"]]).reshape(n, 133, 3)
    pred = flat[..., :2] + rng.normal(0, 3.0, (n, 133, 2))
    boxes = np.asarray([a["bbox"] for a in gt["annotations"]])
    meta = {
        "img_id": np.asarray([a["image_id"] for a in gt["annotations"]]),
        "id": np.arange(1, n + 1),
        "bbox_score": np.ones(n),
        "category_id": np.ones(n, np.int64),
        "input_scale": boxes[:, 2:] * 1.25,
    }
    skeleton = load_skeleton("coco_wholebody")
    metric = build_metric({"name": "coco_wholebody", "ann_file": str(path)}, skeleton)
    t0 = time.perf_counter()
    metric.process({"keypoints": pred, "scores": np.ones((n, 133))}, meta)
    values = metric.compute()
    ours = time.perf_counter() - t0
    t0 = time.perf_counter()
    evaluate_coco(gt, metric.coco_results, skeleton.sigmas.astype(np.float64))
    one = time.perf_counter() - t0
    return {
        "images": n_images,
        "instances": n,
        "seconds": round(ours, 2),
        "instances_per_s": round(n / ours),
        "pycocotools_wholebody_eval_seconds": round(one, 2),
        "vs_one_pycocotools_eval": round(one / ours, 3),
        "AP": round(values["coco-wholebody/AP"], 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--instances", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--metric-images", type=int, default=5_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        result = {
            "readers": readers(args.instances, args.repeats, Path(tmp)),
            "coco_wholebody_metric": wholebody_metric(args.metric_images, Path(tmp)),
        }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
