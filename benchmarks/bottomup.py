"""Bottom-up models: training and predict images/s, and the post-processing share; ONE JSON line.

Models (random weights, MMPose recipes ``coco/ae-hrnet-w32`` and ``coco/dekr-hrnet-w32`` at
``--size``² input, default 256): per model, the images/s of a training step (forward, loss,
backward; batch ``--batch`` of the bundled COCO fixture's training images through the
recipe's bottom-up pipeline) and of ``predict_instances`` on one image (flip test as the
recipe), with the seconds spent in the torch-free decoding (grouping / NMS) alone.

Usage: ``python benchmarks/bottomup.py [--size 256] [--batch 2] [--repeat 3]``. The 1-minute
load average before and after is reported: other jobs may share these CPUs. The fly recipe and
RTMO-s of the issue are not built yet, so they are not measured.
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


def _measure(name: str, root: Path, size: int, batch: int, repeat: int) -> dict[str, float]:
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
            f"codec.heatmap_size=[{size // 4}, {size // 4}]",
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
    outputs = model.predict_outputs(one["inputs"], fi)
    t0 = time.perf_counter()
    model.decode_outputs(outputs)
    decode_s = time.perf_counter() - t0
    return {
        "train_images_per_s": round(batch / train_s, 3),
        "predict_images_per_s": round(1 / pred_s, 3),
        "decode_s": round(decode_s, 4),
        "input": [int(one["inputs"].shape[-1]), int(one["inputs"].shape[-2])],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    load = [round(os.getloadavg()[0], 2)]
    with tempfile.TemporaryDirectory() as tmp:
        root = _coco_root(Path(tmp))
        results = {
            name: _measure(name, root, args.size, args.batch, args.repeat)
            for name in ("ae-hrnet-w32", "dekr-hrnet-w32")
        }
    load.append(round(os.getloadavg()[0], 2))
    print(json.dumps({"size": args.size, "batch": args.batch, **results, "loadavg_1m": load}))


if __name__ == "__main__":
    main()
