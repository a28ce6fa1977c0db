"""Export benchmark: per-crop latency of RTMPose t/s/m in PyTorch eager, TorchScript and ONNX
Runtime, and end-to-end predict frames/s with the ONNX model; prints ONE JSON line.

Models are built from ``recipes/coco/rtmpose-{t,s,m}.toml`` at 256×192 with random weights and
exported with ``posecli.export`` (preprocessing + network in the graph; flip test and decode run in
:mod:`posecli.runtime`). Each backend runs the same computation on the same crops (BGR 0–255 →
raw SimCC outputs): eager is the :class:`~posecli.export.wrapper.ExportWrapper` on the
channels-last model (posecli's CPU inference layout) under ``torch.inference_mode``; TorchScript
is the exported, frozen file; ONNX Runtime uses graph optimisations ``ORT_ENABLE_ALL`` with
``intra_op_num_threads=2``. Latency is the median over repeats divided by the batch size (batch 1
and 16), 2 threads. End-to-end: :func:`posecli.inference.run.run_predict` on the bundled video
with the ONNX RTMPose-t through the runtime's :class:`~posecli.runtime.Predictor` (whole-frame
boxes, flip test as the recipe says, no outputs written).
The 1-minute load average before and after is reported: other jobs share these CPUs.

Usage: ``python benchmarks/export.py [--quick]``
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
VIDEO = REPO / "examples/mirror-mouse/videos/test_vid.mp4"
THREADS = 2


def _median_ms(fn: Callable[[], object], repeats: int, warmup: int = 2) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1e3


def _bench_model(variant: str, workdir: Path, repeats: int) -> dict[str, float]:
    from posecli.api import build_model
    from posecli.export.exporter import export_model
    from posecli.export.wrapper import ExportWrapper
    from posecli.recipe import load_recipe
    from posecli.runtime.backends import OrtBackend

    torch.manual_seed(0)
    recipe = load_recipe(REPO / "recipes" / "coco" / f"rtmpose-{variant}.toml")
    model = build_model(recipe, pretrained=False).eval()
    onnx_path = workdir / f"rtmpose-{variant}.onnx"
    ts_path = workdir / f"rtmpose-{variant}.ts"
    export_model(model, recipe, onnx_path, fmt="onnx", force=True)
    export_model(model, recipe, ts_path, fmt="torchscript", force=True)
    eager = ExportWrapper(model.set_channels_last(True)).eval()
    ts = torch.jit.load(str(ts_path))
    ort = OrtBackend(onnx_path, threads=THREADS)
    out: dict[str, float] = {}
    rng = np.random.default_rng(0)
    for batch in (1, 16):
        x_np = (rng.random((batch, 3, 256, 192)) * 255).astype(np.float32)
        x = torch.from_numpy(x_np)
        reps = repeats if batch == 1 else max(3, repeats // 6)

        def run_eager(x: torch.Tensor = x) -> object:
            with torch.inference_mode():
                return eager(x)

        def run_ts(x: torch.Tensor = x) -> object:
            with torch.inference_mode():
                return ts(x)

        def run_ort(x_np: np.ndarray = x_np) -> object:
            return ort._run(x_np)

        out[f"eager_b{batch}_ms"] = _median_ms(run_eager, reps) / batch
        out[f"torchscript_b{batch}_ms"] = _median_ms(run_ts, reps) / batch
        out[f"onnxruntime_b{batch}_ms"] = _median_ms(run_ort, reps) / batch
    return {k: round(v, 3) for k, v in out.items()}


def _end_to_end(onnx_path: Path, max_frames: int | None) -> dict[str, object]:
    from posecli.inference.load import load_predictor
    from posecli.inference.run import PredictConfig, run_predict

    predictor = load_predictor(onnx_path, batch_size=16, threads=THREADS, device="cpu")
    video = VIDEO
    if max_frames is not None:
        import cv2

        from posecli.export.check import video_frames

        frames = video_frames(VIDEO, max_frames)
        video = onnx_path.with_name("clip.avi")
        vw = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 250, (396, 406))
        for f in frames:
            vw.write(f)
        vw.release()
    t = time.perf_counter()
    config = PredictConfig(out=None, progress=False, threads=THREADS)
    summary = run_predict(video, predictor, config=config)
    elapsed = time.perf_counter() - t
    return {
        "frames": summary.frames,
        "fps": round(summary.frames / elapsed, 2),
        "via": "run_predict",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats, RTMPose-t only")
    args = parser.parse_args()
    torch.set_num_threads(THREADS)
    load_before = os.getloadavg()[0]
    repeats = 10 if args.quick else 30
    variants = ("t",) if args.quick else ("t", "s", "m")
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        latency = {f"rtmpose-{v}": _bench_model(v, workdir, repeats) for v in variants}
        e2e = _end_to_end(workdir / "rtmpose-t.onnx", 60 if args.quick else None)
    import onnxruntime

    t_b1 = latency["rtmpose-t"]["onnxruntime_b1_ms"]
    result = {
        "benchmark": "export",
        "input_size": [192, 256],
        "threads": THREADS,
        "latency_ms_per_crop": latency,
        "predict_onnx_rtmpose_t": e2e,
        "target_onnxruntime_t_b1_ms": 7.0,
        "target_met": bool(t_b1 <= 7.0),
        "load_avg_1min": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "cpu_count": os.cpu_count(),
        "torch": torch.__version__,
        "onnxruntime": onnxruntime.__version__,
        "machine": platform.machine(),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
