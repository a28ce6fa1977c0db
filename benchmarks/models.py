"""Model benchmark: parameters, MACs and CPU latency per crop; prints ONE JSON line.

RTMPose t/s/m and HRNet-W32 at 256×192 (built from ``recipes/coco``), eval mode, 2 threads,
channels-last with conv-BN fused (posecli's inference path), batch 1 and 32; RTMPose-t also
at batch 16 and in plain eager NCHW (unfused) for comparison with MMPose's eager figures
(18.5 ms at batch 1, 163 ms at batch 16 on these machines). The machine's fp32 matmul GFLOP/s
is measured in the same run, so achieved GFLOP/s (2·MACs / latency) can be compared with it.

Usage: ``python benchmarks/models.py [--quick]``
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

from posecli.api import build_model
from posecli.recipe import load_recipe

RECIPES = Path(__file__).resolve().parents[1] / "recipes" / "coco"
META = {
    "num_keypoints": 17,
    "flip_indices": [0, 2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15],
}
MODELS = {
    "rtmpose-t": "rtmpose-t.toml",
    "rtmpose-s": "rtmpose-s.toml",
    "rtmpose-m": "rtmpose-m.toml",
    "hrnet-w32": "hrnet-w32.toml",
}


def matmul_gflops(n: int = 1024, seconds: float = 1.0) -> float:
    a, b = torch.randn(n, n), torch.randn(n, n)
    for _ in range(3):
        a @ b
    runs, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        a @ b
        runs += 1
    return 2 * n**3 * runs / (time.perf_counter() - start) / 1e9


def latency_ms(model: torch.nn.Module, batch: int, repeats: int, channels_last: bool) -> float:
    """Median wall time of one forward pass over ``batch`` crops, divided by ``batch``."""
    x = torch.rand(batch, 3, 256, 192) * 255
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    with torch.inference_mode():
        for _ in range(2):
            model(x)
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            model(x)
            times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1000 / batch


def build(name: str, optimised: bool) -> torch.nn.Module:
    overrides = [f"model.channels_last={'true' if optimised else 'false'}"]
    model = build_model(load_recipe(RECIPES / MODELS[name], overrides), META, pretrained=False)
    model.eval()
    if optimised:
        model.fuse()
    return model


def macs(model: torch.nn.Module) -> int:
    counter = FlopCounterMode(display=False)
    with counter, torch.inference_mode():
        model(torch.rand(1, 3, 256, 192) * 255)
    return counter.get_total_flops() // 2


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer repeats (smoke test)")
    args = parser.parse_args()
    torch.set_num_threads(2)
    torch.manual_seed(0)
    r1, r32 = (3, 1) if args.quick else (20, 3)
    result: dict[str, object] = {
        "benchmark": "models",
        "torch": torch.__version__,
        "threads": 2,
        "cpu": platform.processor() or platform.machine(),
        "input": [192, 256],
        "latency": "ms per crop, median, eval, channels_last + fused conv-BN",
        "matmul_gflops_fp32": round(matmul_gflops(), 1),
    }
    for name in MODELS:
        model = build(name, optimised=True)
        n_params = sum(p.numel() for p in build(name, optimised=False).parameters())
        m = macs(model)
        b1 = latency_ms(model, 1, r1, True)
        b32 = latency_ms(model, 32, r32, True)
        entry: dict[str, object] = {
            "params_m": round(n_params / 1e6, 2),
            "gmacs": round(m / 1e9, 3),
            "ms_b1": round(b1, 2),
            "ms_b32": round(b32, 2),
            "gflops_b32": round(2 * m / (b32 / 1000) / 1e9, 1),
        }
        if name == "rtmpose-t":
            entry["ms_b16_batch_total"] = round(latency_ms(model, 16, r32, True) * 16, 1)
            plain = build(name, optimised=False)
            entry["eager_nchw_unfused_ms_b1"] = round(latency_ms(plain, 1, r1, False), 2)
            entry["mmpose_reference_ms_b1"] = 18.5
            entry["mmpose_reference_ms_b16_batch_total"] = 163.0
        result[name] = entry
    print(json.dumps(result))


if __name__ == "__main__":
    main()
