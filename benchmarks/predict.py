"""End-to-end ``posecli predict`` throughput vs. forward-only throughput (prints one JSON line).

Model: RTMPose-t settings (``recipes/coco/rtmpose-t.toml``: CSPNeXt-t, RTMCC head, 192×256
input, flip test) with the 17-keypoint mirror-mouse skeleton and random weights, on CPU.
Source: the bundled video (994 frames, 396×406), whole-frame box, predictions.json written.
For batch sizes 1 and 16: end-to-end frames/s of the library function behind the command
(decode thread → prepare thread → model → decode → writer) and the forward-only frames/s of
the same model (``predict_outputs`` incl. flip test, on pre-cut crops, same thread count), with
the end-to-end time split. ``--frames N`` limits the video for a quick run.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
VIDEO = REPO / "examples" / "mirror-mouse" / "videos" / "test_vid.mp4"


def build_checkpoint(path: Path) -> Path:
    from posecli.api import build_model, skeleton_metainfo
    from posecli.data.metainfo import load_skeleton
    from posecli.engine.checkpoint import save_checkpoint
    from posecli.recipe.loader import load_recipe_dict, validate_recipe

    data = load_recipe_dict(REPO / "recipes" / "coco" / "rtmpose-t.toml")
    data["model"].pop("pretrained", None)
    data["model"]["head"]["out_channels"] = 17
    data["data"] = {"skeleton": "mirror_mouse"}
    recipe = validate_recipe(data, "benchmark rtmpose-t (mouse)")
    skeleton = load_skeleton("mirror_mouse")
    torch.manual_seed(0)
    model = build_model(recipe, skeleton, pretrained=False)
    save_checkpoint(path, model, recipe, metainfo=skeleton_metainfo(skeleton))
    return path


def clip(n: int | None, tmp: Path) -> Path:
    if n is None:
        return VIDEO
    import cv2

    cap = cv2.VideoCapture(str(VIDEO))
    fps = cap.get(cv2.CAP_PROP_FPS)
    size = (int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)))
    out = tmp / "clip.mp4"
    vw = cv2.VideoWriter(str(out), cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
    for _ in range(n):
        ok, frame = cap.read()
        if not ok:
            break
        vw.write(frame)
    vw.release()
    return out


def forward_only(predictor, crops: np.ndarray, batch_size: int, threads: int) -> float:
    """Frames/s of the model alone (flip test included) on ready crops."""
    from posecli.inference.run import cpu_threads

    with cpu_threads(threads):
        inputs = [
            predictor.to_tensor(crops[s : s + batch_size]) for s in range(0, len(crops), batch_size)
        ]
        predictor.forward(inputs[0])  # warm-up
        t0 = time.perf_counter()
        for x in inputs:
            predictor.forward(x)
        return len(crops) / (time.perf_counter() - t0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--frames", type=int, default=None, help="use the first N frames")
    parser.add_argument("--batch-sizes", default="1,16")
    args = parser.parse_args()
    from posecli.inference.predictor import Predictor
    from posecli.inference.run import PredictConfig, available_cores, run_predict
    from posecli.inference.sources import open_source

    threads = max(1, available_cores() - 1)
    result: dict[str, object] = {
        "benchmark": "predict",
        "model": "rtmpose-t (mouse skeleton, random weights, flip test)",
        "device": "cpu",
        "cores": available_cores(),
        "torch_threads": threads,
    }
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        ckpt = build_checkpoint(tmp / "rtmpose-t-mouse.pt")
        video = clip(args.frames, tmp)
        with open_source(video) as src:
            frames = [f.image for _, f in zip(range(64), src, strict=False)]
        for bs in (int(b) for b in args.batch_sizes.split(",")):
            predictor = Predictor(ckpt, device="cpu", batch_size=bs)
            crops = np.concatenate([predictor.crops(f).images for f in frames])
            fwd = forward_only(predictor, crops, bs, threads)
            config = PredictConfig(out=tmp / f"out{bs}", progress=False, threads=threads)
            summary = run_predict(video, predictor, config=config)
            result[f"batch{bs}"] = {
                "frames": summary.frames,
                "e2e_fps": round(summary.fps, 2),
                "forward_fps": round(fwd, 2),
                "ratio": round(summary.fps / fwd, 3),
                "split_s": {k: round(v, 3) for k, v in summary.timings.items()},
                "total_s": round(summary.seconds, 3),
            }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
