"""Data-pipeline throughput, one process: prints ONE JSON line.

RTMPose training pipeline (load → bbox → flip → half-body → bbox transform → affine → HSV /
blur / median / dropout → SimCC target) and HRNet pipeline (… → affine → MSRA heatmap target)
on the bundled mirror-mouse frames at 192×256 (w×h), decoding every image and with the image
cache; plus the time to load and index a generated 100k-instance COCO file.
MMPose 1.3.2 on these frames (same machine): RTMPose 243 / 569 samples/s, HRNet 299 / 558.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
CSV = ROOT / "examples" / "mirror-mouse" / "CollectedData.csv"
SIMCC = {
    "name": "simcc",
    "input_size": [192, 256],
    "sigma": [4.9, 5.66],
    "simcc_split_ratio": 2.0,
    "normalize": False,
    "use_dark": False,
}
MSRA = {"name": "msra_heatmap", "input_size": [192, 256], "heatmap_size": [48, 64], "sigma": 2.0}
HEAD = [
    {"name": "LoadImage"},
    {"name": "GetBBoxCenterScale"},
    {"name": "RandomFlip", "direction": "horizontal"},
    {"name": "RandomHalfBody"},
]
RTMPOSE = [
    *HEAD,
    {"name": "RandomBBoxTransform", "scale_factor": [0.6, 1.4], "rotate_factor": 80},
    {"name": "TopdownAffine", "input_size": [192, 256]},
    {"name": "YOLOXHSVRandomAug"},
    {
        "name": "Albumentation",
        "transforms": [
            {"type": "Blur", "p": 0.1},
            {"type": "MedianBlur", "p": 0.1},
            {
                "type": "CoarseDropout",
                "max_holes": 1,
                "max_height": 0.4,
                "max_width": 0.4,
                "min_holes": 1,
                "min_height": 0.2,
                "min_width": 0.2,
                "p": 1.0,
            },
        ],
    },
    {"name": "GenerateTarget", "encoder": SIMCC},
]
HRNET = [
    *HEAD,
    {"name": "RandomBBoxTransform"},
    {"name": "TopdownAffine", "input_size": [192, 256]},
    {"name": "GenerateTarget", "encoder": MSRA},
]


def throughput(tables: list[dict], cache: bool, seconds: float) -> float:
    from posecli.data.datasets.formats import dlc
    from posecli.data.loader import PoseTorchDataset
    from posecli.data.transforms.compose import build_pipeline

    ds = PoseTorchDataset(
        dlc(str(CSV), skeleton="mirror_mouse"), build_pipeline(tables), cache_images=cache
    )
    if cache:
        for i in range(len(ds)):
            ds.raw(i)
    for i in range(10):
        ds[i]
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        ds[(n % len(ds), n // len(ds))]
        n += 1
    return n / (time.perf_counter() - start)


def coco_index_seconds(n_instances: int = 100_000) -> float:
    from posecli.data.datasets.formats import coco

    rng = np.random.default_rng(0)
    n_img = n_instances // 4
    images = [
        {"id": i, "file_name": f"{i:012d}.jpg", "width": 640, "height": 480} for i in range(n_img)
    ]
    kp = rng.uniform(0, 400, (n_instances, 17, 3)).round(2)
    kp[..., 2] = 2
    anns = [
        {
            "id": j,
            "image_id": j % n_img,
            "category_id": 1,
            "iscrowd": 0,
            "num_keypoints": 17,
            "bbox": [10.0, 20.0, 300.0, 400.0],
            "area": 1000.0,
            "keypoints": kp[j].reshape(-1).tolist(),
        }
        for j in range(n_instances)
    ]
    cats = [{"id": 1, "name": "person", "keypoints": [f"k{i}" for i in range(17)], "skeleton": []}]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "big.json"
        path.write_text(json.dumps({"images": images, "annotations": anns, "categories": cats}))
        start = time.perf_counter()
        ds = coco(str(path), skeleton="coco")
        _ = ds[len(ds) - 1]
        return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--seconds", type=float, default=5.0, help="measuring time per configuration"
    )
    args = parser.parse_args()
    import cv2

    cv2.setNumThreads(1)
    result = {
        "rtmpose_decode_samples_per_s": round(throughput(RTMPOSE, False, args.seconds), 1),
        "rtmpose_cached_samples_per_s": round(throughput(RTMPOSE, True, args.seconds), 1),
        "hrnet_decode_samples_per_s": round(throughput(HRNET, False, args.seconds), 1),
        "hrnet_cached_samples_per_s": round(throughput(HRNET, True, args.seconds), 1),
        "coco_100k_load_index_s": round(coco_index_seconds(), 2),
        "mmpose_reference": {"rtmpose": [243, 569], "hrnet": [299, 558]},
        "targets": {"decode": 280, "cached": 850},
        "input_size": [192, 256],
        "processes": 1,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
