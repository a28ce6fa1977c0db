"""``posecli predict`` end to end per backend vs. the backend's forward-only throughput, and
against rtmlib on the same ONNX file; prints ONE JSON line.

Models (random weights: speed does not depend on them): the bundled mouse recipe
(``recipes/rtmpose.toml``: EfficientNet-Lite0 + RTMCC, 224×224, flip test) and RTMPose-t
(``recipes/coco/rtmpose-t.toml``, 192×256, flip test), both with the 17-keypoint mouse
skeleton. Source: the bundled video (994 frames, 396×406), whole-frame boxes,
``predictions.json`` written.

Per model and backend (``torch`` eager, ``onnxruntime`` — what ``--backend auto`` picks on the
CPU —, ``torchscript``): the frames/s of :func:`posecli.inference.run.run_predict` (decode
thread → crop thread → backend with the flip test → decode → writer; backend threads measured
by the first run and remembered, the second run — the one reported as ``e2e_fps`` — starts
with them; ``e2e_first_run_fps`` includes the measurement) and the forward-only frames/s of the same backend at the same thread count on
pre-cut crops (plain + mirrored, ``batch_size`` per run), measured before and after the
end-to-end runs and averaged (shared machines drift by ±20 % within minutes), and their ratio. ``auto_vs_baseline``
compares ``--backend auto`` with the issue's 6.4 frames/s of ``posecli predict --checkpoint``
before this runtime.

rtmlib (PyPI, a comparison only, not a dependency; ``--rtmlib-path`` may point at an unpacked
wheel) runs the same exported ONNX file (``RTMPose(..., mean=None, std=None)``: the graph
normalises) on the same frames with the same whole-frame box, one crop per call and without
flip test; posecli is measured without flip test for that comparison too.

Usage: ``python benchmarks/predict.py [--frames N] [--models mouse,rtmpose-t]``. The 1-minute
load average before and after is reported: other jobs may share these CPUs.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
VIDEO = REPO / "examples" / "mirror-mouse" / "videos" / "test_vid.mp4"
BASELINE_FPS = 6.4  # posecli predict --checkpoint on the mouse model before the runtime (issue 16)
RECIPES = {"mouse": "rtmpose.toml", "rtmpose-t": "coco/rtmpose-t.toml"}


def build_checkpoint(name: str, path: Path) -> Path:
    """A random-weight checkpoint of ``name`` with the mouse skeleton."""
    import torch

    from posecli.api import build_model, skeleton_metainfo
    from posecli.data.metainfo import load_skeleton
    from posecli.engine.checkpoint import save_checkpoint
    from posecli.recipe.loader import load_recipe_dict, validate_recipe

    data = load_recipe_dict(REPO / "recipes" / RECIPES[name])
    data["model"].pop("pretrained", None)
    data["model"]["backbone"].pop("pretrained", None)
    data["model"]["head"].pop("out_channels", None)
    data["data"] = {"skeleton": "mirror_mouse"}
    recipe = validate_recipe(data, f"benchmark {name}")
    skeleton = load_skeleton("mirror_mouse")
    torch.manual_seed(0)
    model = build_model(recipe, skeleton, pretrained=False)
    save_checkpoint(path, model, recipe, metainfo=skeleton_metainfo(skeleton))
    return path


def clip(n: int | None, tmp: Path) -> Path:
    """The bundled video, or its first ``n`` frames."""
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


def frames_of(video: Path, n: int) -> list[np.ndarray]:
    from posecli.export.check import video_frames

    return video_frames(video, n)


def forward_only(predictor: Any, frames: list[np.ndarray], threads: int, repeats: int = 2) -> float:
    """Frames/s of the backend alone at ``threads`` (flip test: mirrored crops in each run)."""
    predictor.backend.set_threads(threads)
    crops = np.concatenate([predictor.crops(f).images for f in frames])
    bs = predictor.batch_size
    batches = [crops[s : s + bs] for s in range(0, len(crops), bs)]
    if predictor.flip_test:
        batches = [np.concatenate([b, b[:, :, ::-1]]) for b in batches]
    predictor.backend.run(batches[0])  # warm-up
    t0 = time.perf_counter()
    for _ in range(repeats):
        for b in batches:
            predictor.backend.run(b)
    return repeats * len(crops) / (time.perf_counter() - t0)


def end_to_end(predictor: Any, video: Path, out: Path) -> dict[str, Any]:
    """Two runs of the same work: the first measures the thread count (and remembers it), the
    second starts with it, as a user's next run of the same model does."""
    from posecli.inference.run import PredictConfig, run_predict

    config = PredictConfig(out=out, progress=False, force=True)
    first = run_predict(video, predictor, config=config)
    summary = run_predict(video, predictor, config=config)
    return {
        "frames": summary.frames,
        "fps": summary.fps,
        "first_run_fps": first.fps,
        "threads": predictor.backend.threads,
        "threads_measured": first.threads,
        "split_s": {k: round(v, 2) for k, v in summary.timings.items()},
    }


def rtmlib_fps(onnx: Path, input_size: tuple[int, int], frames: list[np.ndarray]) -> float:
    """Frames/s of rtmlib's RTMPose on the same file and whole-frame boxes."""
    import contextlib

    from rtmlib import RTMPose

    with contextlib.redirect_stdout(sys.stderr):  # rtmlib prints a line on loading
        model = RTMPose(
            str(onnx),
            model_input_size=input_size,
            mean=None,
            std=None,
            backend="onnxruntime",
            device="cpu",
        )
    box = [[0, 0, frames[0].shape[1], frames[0].shape[0]]]
    model(frames[0], box)  # warm-up
    t0 = time.perf_counter()
    for f in frames:
        model(f, box)
    return len(frames) / (time.perf_counter() - t0)


def bench_model(
    name: str, tmp: Path, video: Path, backends: list[str], rtmlib: bool
) -> dict[str, Any]:
    from posecli.inference.load import load_predictor
    from posecli.runtime import available_cores

    ckpt = build_checkpoint(name, tmp / f"{name}.pt")
    sample = frames_of(video, 48)
    out: dict[str, Any] = {}
    for backend in backends:
        predictor = load_predictor(ckpt, backend=backend, device="cpu")
        threads = available_cores()
        fwd_before = forward_only(predictor, sample, threads)
        e2e = end_to_end(predictor, video, tmp / f"out-{name}-{backend}")
        fwd_after = forward_only(predictor, sample, e2e["threads"] or threads)
        fwd = (fwd_before + fwd_after) / 2  # the machine's speed drifts: bracket the run
        out[backend] = {
            "e2e_fps": round(e2e["fps"], 2),
            "e2e_first_run_fps": round(e2e["first_run_fps"], 2),
            "forward_fps": round(fwd, 2),
            "forward_fps_before_after": [round(fwd_before, 2), round(fwd_after, 2)],
            "ratio": round(e2e["fps"] / fwd, 3),
            "threads": e2e["threads"],
            "threads_measured": e2e["threads_measured"],
            "split_s": e2e["split_s"],
        }
    auto = load_predictor(ckpt, backend="auto", device="cpu", flip_test=False)
    e2e = end_to_end(auto, video, tmp / f"out-{name}-noflip")
    out["auto_no_flip_e2e_fps"] = round(e2e["fps"], 2)
    out["auto_no_flip_e2e_first_run_fps"] = round(e2e["first_run_fps"], 2)
    if rtmlib:
        from posecli.inference.load import _cache_key, export_cache_dir

        onnx = export_cache_dir() / f"{_cache_key(str(ckpt))}.onnx"
        all_frames = frames_of(video, 10**6)
        fps = rtmlib_fps(onnx, auto.input_size, all_frames)
        out["rtmlib_fps"] = round(fps, 2)
        out["auto_no_flip_vs_rtmlib"] = round(e2e["fps"] / fps, 3)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--frames", type=int, default=None, help="use the first N frames")
    parser.add_argument("--models", default="mouse,rtmpose-t")
    parser.add_argument("--backends", default="onnxruntime,torch,torchscript")
    parser.add_argument("--rtmlib-path", default=None, help="a folder holding the rtmlib package")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(message)s", stream=sys.stderr)
    if args.rtmlib_path:
        sys.path.insert(0, args.rtmlib_path)
    try:
        import rtmlib  # noqa: F401

        rtmlib_ok: Any = True
    except ImportError as exc:
        rtmlib_ok = f"not importable ({exc}); pip install rtmlib or pass --rtmlib-path"
    from posecli.runtime import available_cores

    result: dict[str, Any] = {
        "benchmark": "predict",
        "device": "cpu",
        "cores": available_cores(),
        "video": VIDEO.name,
        "load_avg_before": round(os.getloadavg()[0], 2),
    }
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        os.environ["POSECLI_CACHE_DIR"] = str(tmp / "cache")
        video = clip(args.frames, tmp)
        for name in args.models.split(","):
            result[name] = bench_model(
                name, tmp, video, args.backends.split(","), rtmlib_ok is True
            )
    if rtmlib_ok is not True:
        result["rtmlib"] = rtmlib_ok
    mouse = result.get("mouse", {})
    if "onnxruntime" in mouse:
        result["auto_vs_baseline"] = round(mouse["onnxruntime"]["e2e_fps"] / BASELINE_FPS, 2)
    result["load_avg_after"] = round(os.getloadavg()[0], 2)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
