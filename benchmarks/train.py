"""Training throughput on this CPU: prints ONE JSON line.

Two models on the bundled mirror-mouse training split (its recipe's dataset, image cache and
train pipeline), each with 0 and 2 loader workers, all in the same run:

* ``rtmpose_t``: RTMPose-t (CSPNeXt-t + RTMCC head, SimCC σ = (4.9, 5.66)) at 192×256 (w×h),
  batch 32: ``recipes/rtmpose.toml`` with codec, backbone and head overridden by those of
  ``recipes/coco/rtmpose-t.toml`` (random init: throughput does not depend on the weights);
* ``mouse``: the mouse recipe's own model (EfficientNet-Lite0 + RTMCC head) at its input size
  and batch size.

One iteration = wait for the next batch (``data_s``: the loader's work in the main process with
0 workers, the time blocked on the workers' queue with 2) + one step (``step_s``: forward, loss,
backward, optimiser step), as the trainer does it: channels-last model and inputs, AdamW with
the recipe's settings, full batches (``drop_last``), epochs following each other through the
sampler. ``--warmup`` iterations per configuration (loader start-up included) are not counted.
The four configurations run round robin, one iteration each in turn (order reversed every
round), so that load from other processes falls on all of them alike; a 2-worker loader
refills its prefetch queue (at most one batch per iteration) while the others step.
``images_per_s`` = images / (data + step time); ``data_wait_share`` = data / (data + step);
``images_per_s_median_iter`` and ``step_s_median`` use the median iteration, robust to other
processes taking the cores for a while.
Torch uses 2 threads, OpenCV 1 (the loader's workers use 1 torch thread each); malloc is
tuned as ``posecli train`` tunes it on the CPU (``posecli.engine.allocator``; its effect is
measured by ``benchmarks/malloc.py``).

Usage: ``python benchmarks/train.py [--iters 10] [--warmup 2]``
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import tomllib
import torch

from posecli.api import build_model
from posecli.data.loader import build_dataloader
from posecli.engine.allocator import tune_malloc_for_training
from posecli.engine.evaluate import to_device
from posecli.engine.optim import build_optimizer
from posecli.recipe import load_recipe

ROOT = Path(__file__).resolve().parents[1]
MOUSE = ROOT / "recipes" / "rtmpose.toml"
RTMPOSE_T = ROOT / "recipes" / "coco" / "rtmpose-t.toml"


def toml_value(value: Any) -> str:
    """``value`` as a TOML inline value (for ``--set`` style overrides)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"cannot write {type(value).__name__} as TOML")


def rtmpose_t_overrides() -> list[str]:
    """Codec, backbone and head of RTMPose-t (the keypoint count comes from the skeleton)."""
    t = tomllib.loads(RTMPOSE_T.read_text())
    head = {k: v for k, v in t["model"]["head"].items() if k != "out_channels"}
    return [
        f"codec={toml_value(t['codec'])}",
        f"model.backbone={toml_value(t['model']['backbone'])}",
        f"model.head={toml_value(head)}",
        "model.pretrained=[]",
        "model.channels_last=true",
        "data.train.batch_size=32",
    ]


class Run:
    """One configuration (model, optimiser, loader) stepped one iteration at a time."""

    def __init__(self, overrides: list[str], workers: int, seed: int = 0) -> None:
        recipe = load_recipe(MOUSE, [*overrides, "data.train.drop_last=true"])
        torch.manual_seed(seed)
        model = build_model(recipe)
        self.channels_last = recipe.model.channels_last
        if self.channels_last:
            model = model.to(memory_format=torch.channels_last)
        self.model = model.train()
        self.optimizer = build_optimizer(
            model, recipe.train.optimizer, no_decay_norm_bias=recipe.train.no_decay_norm_bias
        )
        self.loader = build_dataloader(recipe, "train", seed=seed, num_workers=workers, root=ROOT)
        self.batches: Iterator[dict[str, Any]] = iter(())
        self.data_s: list[float] = []
        self.step_s: list[float] = []
        self.images = 0

    def iteration(self, count: bool) -> None:
        t0 = time.perf_counter()
        batch = next(self.batches, None)
        if batch is None:  # next epoch (persistent workers are kept)
            self.batches = iter(self.loader)
            batch = next(self.batches)
        batch = to_device(batch, torch.device("cpu"))
        if self.channels_last:
            batch["inputs"] = batch["inputs"].contiguous(memory_format=torch.channels_last)
        t1 = time.perf_counter()
        loss = self.model.loss(batch)["loss"]
        loss.backward()
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        t2 = time.perf_counter()
        if count:
            self.data_s.append(t1 - t0)
            self.step_s.append(t2 - t1)
            self.images += int(batch["inputs"].shape[0])

    def close(self) -> None:
        self.batches = iter(())  # drops the workers' iterator

    def summary(self) -> dict[str, float]:
        data, step = sum(self.data_s), sum(self.step_s)
        per_iter = [d + s for d, s in zip(self.data_s, self.step_s, strict=True)]
        batch = self.images / len(per_iter)
        return {
            "images_per_s": round(self.images / (data + step), 2),
            "images_per_s_median_iter": round(batch / statistics.median(per_iter), 2),
            "data_wait_share": round(data / (data + step), 4),
            "data_s_per_iter": round(data / len(per_iter), 4),
            "step_s_per_iter": round(step / len(per_iter), 4),
            "step_s_median": round(statistics.median(self.step_s), 4),
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iters", type=int, default=10, help="counted iterations per config")
    parser.add_argument("--warmup", type=int, default=2, help="iterations not counted")
    args = parser.parse_args()
    if args.iters < 1 or args.warmup < 0:
        parser.error("--iters must be >= 1 and --warmup >= 0")
    torch.set_num_threads(2)
    malloc_tuned = tune_malloc_for_training()
    import cv2

    cv2.setNumThreads(1)
    mouse = load_recipe(MOUSE)
    assert mouse.data.train is not None
    models = {
        "rtmpose_t": (rtmpose_t_overrides(), [192, 256], 32),
        "mouse": ([], list(mouse.input_size), mouse.data.train.batch_size),
    }
    runs = {
        (name, w): Run(overrides, w) for name, (overrides, _, _) in models.items() for w in (0, 2)
    }
    try:
        for i in range(args.warmup + args.iters):  # round robin: same conditions for all
            order = list(runs.values())
            for run in order if i % 2 == 0 else order[::-1]:
                run.iteration(count=i >= args.warmup)
    finally:
        for run in runs.values():
            run.close()
    result: dict[str, Any] = {
        name: {
            "input_size": size,
            "batch_size": batch,
            **{f"workers{w}": runs[(name, w)].summary() for w in (0, 2)},
        }
        for name, (_, size, batch) in models.items()
    }
    result.update(
        iters=args.iters,
        warmup=args.warmup,
        torch_threads=torch.get_num_threads(),
        channels_last=True,
        malloc_tuned=malloc_tuned,
        cpus=os.cpu_count(),
        torch=torch.__version__,
        machine=platform.machine(),
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
