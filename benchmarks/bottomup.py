"""Bottom-up models: training and predict images/s, and the post-processing share; ONE JSON line.

Models (random weights, MMPose recipes ``coco/ae-hrnet-w32`` and ``coco/dekr-hrnet-w32`` at
``--size``² input, default 256): per model, the images/s of a training step (forward, loss,
backward; batch ``--batch`` of the bundled COCO fixture's training images through the
recipe's bottom-up pipeline) and of ``predict_instances`` on one image (flip test as the
recipe), with the seconds spent in the torch-free decoding (grouping / NMS) alone.

The fly recipe (``recipes/flies.toml``, two stages) with a trained run (``--flies-run``,
default ``work_dirs/flies``): training images/s of each stage (the centroid model on whole
1024² frames seen at 256², the centred-instance model on 128² crops; a step of the recipe's
batch through its training pipeline), and ``predict`` frames/s on the first ``--frames``
frames of the bundled clip (2 flies, 1024²): the two-stage pipeline (boxes from the trained
detector) against the centred-instance model given the labelled boxes, same backend, same
process, side by side. RTMO-s (``coco/rtmo-s``) is measured at its own 640×640 input: a training
step on mosaic + mix-up samples, ``predict_instances`` on one image and the numpy decode
(score threshold + box NMS).

Usage: ``python benchmarks/bottomup.py [--size 256] [--batch 2] [--repeat 3] [--frames 100]
[--flies-run DIR]``. The 1-minute load average before and after is reported: other jobs may
share these CPUs.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def _coco_root(tmp: Path) -> Path:
    fixture = REPO / "tests" / "data" / "mmpose-tests" / "coco"
    full = json.loads((fixture / "test_coco.json").read_text())
    for folder in ("annotations", "train2017", "val2017"):
        (tmp / folder).mkdir(parents=True)
    (tmp / "annotations" / "person_keypoints_train2017.json").write_text(json.dumps(full))
    (tmp / "annotations" / "person_keypoints_val2017.json").write_text(json.dumps(full))
    for image in full["images"]:
        for split in ("train2017", "val2017"):
            shutil.copyfile(fixture / image["file_name"], tmp / split / image["file_name"])
    return tmp


def _measure(
    name: str, root: Path, size: int, batch: int, repeat: int
) -> dict[str, float | list[int]]:
    import torch

    from posecli.api import build_model
    from posecli.data.collate import collate
    from posecli.data.loader import build_torch_dataset
    from posecli.recipe import load_recipe

    recipe = load_recipe(
        REPO / "posecli" / "recipes" / "coco" / f"{name}.toml",
        [
            f"data.root={json.dumps(str(root))}",
            "model.pretrained=[]",
            f"codec.input_size=[{size}, {size}]",
            *(
                []
                if name.startswith("rtmo")
                else [f"codec.heatmap_size=[{size // 4}, {size // 4}]"]
            ),
        ],
    )
    model = build_model(recipe, pretrained=False)
    train = build_torch_dataset(recipe, "train")
    batch_data = collate([train[i % len(train)] for i in range(batch)])
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    model.train()
    t0 = time.perf_counter()
    for _ in range(repeat):
        opt.zero_grad()
        model.loss(batch_data)["loss"].backward()
        opt.step()
    train_s = (time.perf_counter() - t0) / repeat
    val = build_torch_dataset(recipe, "val")
    one = collate([val[0]])
    model.eval()
    t0 = time.perf_counter()
    for _ in range(repeat):
        model.predict_instances(one)
    pred_s = (time.perf_counter() - t0) / repeat
    fi = model.flip_indices if model.test_cfg.flip_test else None
    outputs = model._scale_outputs(one, fi)  # flip-merged (AE: restored to the input size)
    t0 = time.perf_counter()
    model.decode_outputs(outputs)
    decode_s = time.perf_counter() - t0
    return {
        "train_images_per_s": round(batch / train_s, 3),
        "predict_images_per_s": round(1 / pred_s, 3),
        "decode_s": round(decode_s, 4),
        "input": [int(one["inputs"].shape[-1]), int(one["inputs"].shape[-2])],
    }


def _train_rate(recipe: object, repeat: int) -> float:
    """Images/s of a training step at the recipe's batch size (samples through its pipeline)."""
    import torch

    from posecli.api import build_model
    from posecli.data.collate import collate
    from posecli.data.loader import build_torch_dataset

    model = build_model(recipe, pretrained=False).train()
    data = build_torch_dataset(recipe, "train")
    batch = recipe.data.train.batch_size
    batches = [
        collate([data[(i * batch + j) % len(data)] for j in range(batch)])
        for i in range(repeat + 1)
    ]
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    for i, one in enumerate(batches):
        if i == 1:
            t0 = time.perf_counter()  # the first step warms up
        opt.zero_grad()
        model.loss(one)["loss"].backward()
        opt.step()
    return batch * repeat / (time.perf_counter() - t0)


def _flies(run: Path, frames: int, repeat: int) -> dict[str, object]:
    """Training and predict speed of the two-stage fly recipe."""
    import cv2
    import numpy as np

    from posecli.data.converters.sleap import read_sleap
    from posecli.engine.two_stage import detector_recipe
    from posecli.predict import stream
    from posecli.recipe import load_recipe

    clip = REPO / "examples" / "sleap-flies" / "clip.mp4"
    centred = load_recipe(
        REPO / "posecli" / "recipes" / "flies.toml", ["model.backbone.pretrained=false"]
    )
    centroid = detector_recipe(centred, ["model.backbone.pretrained=false"])
    out: dict[str, object] = {
        "train_images_per_s": {
            "centroid_1024_at_256": round(_train_rate(centroid, repeat), 2),
            "centred_instance_crops_128": round(_train_rate(centred, repeat), 2),
        }
    }
    ckpt = run / "best.pt"
    if not ckpt.is_file() or not (run / "detector" / "best.pt").is_file():
        out["predict"] = f"not measured: no trained run in {run} (posecli train recipes/flies.toml)"
        return out
    ann = read_sleap(REPO / "examples" / "sleap-flies" / "clip.slp", skeleton="sleap_fly13")
    frame_of = np.array([ann.images[i].frame_idx for i in ann.image_index])
    xywh = ann.bbox

    def labelled(frame: object) -> np.ndarray:
        rows = np.flatnonzero(frame_of == frame.index)  # type: ignore[attr-defined]
        return np.concatenate([xywh[rows, :2], xywh[rows, :2] + xywh[rows, 2:]], axis=1)

    cap = cv2.VideoCapture(str(clip))
    images = [cap.read()[1] for _ in range(frames)]
    cap.release()

    def rate(**kwargs: object) -> float:
        list(stream(images[:8], model=ckpt, **kwargs))  # warm-up: sessions, threads
        t0 = time.perf_counter()
        n = sum(1 for _ in stream(images, model=ckpt, **kwargs))
        return n / (time.perf_counter() - t0)

    two_stage = rate()
    given = rate(boxes=labelled)
    two_stage_again = rate()
    out["predict_frames_per_s"] = {
        "two_stage": round((two_stage + two_stage_again) / 2, 2),
        "two_stage_before_after": [round(two_stage, 2), round(two_stage_again, 2)],
        "centred_instance_labelled_boxes": round(given, 2),
        "frames": frames,
        "frame_size": [1024, 1024],
    }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--frames", type=int, default=100)
    parser.add_argument("--flies-run", type=Path, default=REPO / "work_dirs" / "flies")
    args = parser.parse_args()
    load = [round(os.getloadavg()[0], 2)]
    with tempfile.TemporaryDirectory() as tmp:
        root = _coco_root(Path(tmp))
        results: dict[str, object] = {
            name: _measure(name, root, args.size, args.batch, args.repeat)
            for name in ("ae-hrnet-w32", "dekr-hrnet-w32")
        }
        # RTMO-s at its own 640×640 (mosaic + mix-up training pipeline, one-stage predict)
        results["rtmo-s"] = _measure("rtmo-s", root, 640, args.batch, args.repeat)
    results["flies"] = _flies(args.flies_run, args.frames, args.repeat)
    load.append(round(os.getloadavg()[0], 2))
    print(json.dumps({"size": args.size, "batch": args.batch, **results, "loadavg_1m": load}))


if __name__ == "__main__":
    main()
