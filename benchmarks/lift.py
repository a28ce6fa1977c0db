"""2D→3D lifting speed on the CPU; prints ONE JSON line.

1. Forward throughput (sequences/s, random weights: speed does not depend on them) of
   VideoPose3D-243 (``posecli/recipes/h36m/videopose3d-243.toml``: strided TCN, one output frame
   per 243-frame sequence) and MotionBERT (``motionbert.toml``: DSTformer, 243-frame clips, every
   frame an output) at each batch size of ``--batches`` (default 1 and 64), eager PyTorch,
   ``torch.inference_mode``, after one warm-up call.
2. End to end: ``posecli predict`` on the first ``--frames`` frames of the bundled mouse video
   (396×406) with a random-weight RTMPose-style 2D checkpoint (tests/predict/_tiny.py), 2D only
   vs ``--lift`` with a small TCN lifter (receptive field 9) trained for a few steps on synthetic
   projections of the mouse skeleton (tests/lifting/_synthetic.py); frames/s of each and their
   ratio, after one untimed 2D run. Lifting streams with the run (``LiftStream`` in front of the
   writers, ``predictions_3d.csv`` streamed); loading the lifter is included.

Usage: ``python benchmarks/lift.py [--batches 1,64] [--mb-batches 1,64] [--frames 200]``.
The 1-minute load average before and after is reported: other jobs may share these CPUs.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def _forward_rate(recipe_name: str, batch: int, repeats: int) -> float:
    from posecli.api import build_model
    from posecli.export.lifting import example_inputs
    from posecli.recipe import load_recipe

    recipe = load_recipe(REPO / "posecli" / "recipes" / "h36m" / f"{recipe_name}.toml")
    model = build_model(recipe, pretrained=False).eval()
    x = example_inputs(model, batch)
    with torch.inference_mode():
        model(x)  # warm-up
        start = time.perf_counter()
        for _ in range(repeats):
            model(x)
        seconds = time.perf_counter() - start
    return batch * repeats / seconds


def _predict_fps(video: Path, ckpt: Path, out: Path, lift: Path | None) -> float:
    from typer.testing import CliRunner

    from posecli.cli.app import create_app

    args = ["-q", "predict", str(video), "-c", str(ckpt), "--backend", "torch", "--device", "cpu"]
    args += ["--out", str(out), "--track", "--track-metric", "iou", "--force"]
    if lift is not None:
        args += ["--lift", str(lift)]
    start = time.perf_counter()
    res = CliRunner().invoke(create_app(), args)
    seconds = time.perf_counter() - start
    if res.exit_code != 0:
        raise SystemExit(f"predict failed: {res.output}")
    frames = len(json.loads((out / "predictions.json").read_text())["frames"])
    return frames / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", default="1,64", help="VideoPose3D-243 batch sizes")
    parser.add_argument("--mb-batches", default="1,64", help="MotionBERT batch sizes")
    parser.add_argument("--repeats", type=int, default=3, help="timed calls per batch size")
    parser.add_argument("--frames", type=int, default=200, help="frames of the bundled video")
    args = parser.parse_args()
    load_before = os.getloadavg()[0]
    result: dict[str, object] = {"threads": torch.get_num_threads()}
    for name, key, batches in (
        ("videopose3d-243", "videopose3d_243", args.batches),
        ("motionbert", "motionbert", args.mb_batches),
    ):
        for b in (int(v) for v in batches.split(",")):
            reps = args.repeats if name != "motionbert" or b == 1 else 1
            result[f"{key}_seq_per_s_b{b}"] = round(_forward_rate(name, b, reps), 3)
    from tests.lifting._synthetic import train_mouse_lifter
    from tests.lifting.test_predict_lift import _clip
    from tests.predict._tiny import make_tiny_checkpoint

    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp)
        video = _clip(t / "clip.mp4", args.frames)
        ckpt = make_tiny_checkpoint(t / "tiny.pt")
        lifter, _ = train_mouse_lifter(t / "lifter.pt", steps=20)
        _predict_fps(video, ckpt, t / "warm", None)  # warm-up: imports, caches, first frames
        fps_2d = _predict_fps(video, ckpt, t / "p2d", None)
        fps_lift = _predict_fps(video, ckpt, t / "plift", lifter)
    result.update(
        frames=args.frames,
        predict_2d_fps=round(fps_2d, 2),
        predict_lift_fps=round(fps_lift, 2),
        lift_vs_2d=round(fps_lift / fps_2d, 3),
        loadavg_before=round(load_before, 2),
        loadavg_after=round(os.getloadavg()[0], 2),
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
