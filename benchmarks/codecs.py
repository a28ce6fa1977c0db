"""Codec decode/encode throughput: whole-batch ``batch_decode`` vs a per-instance ``decode`` loop.

Prints one JSON line. Batch: N=64 instances × K=17, heatmaps 64×48 (input 192×256), SimCC
384/512 bins. Heatmaps are encoded targets of random keypoints plus noise (model-like).
Targets (issue 3): batch DARK ≤ 4.9 ms, UDP ≤ 3.7 ms, plain MSRA ≤ 8.9 ms, SimCC ≤ 1.35 ms.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from posecli.codecs import build

N, K = 64, 17
INPUT = (192, 256)
HEATMAP = (48, 64)
REPEATS = 30


def _best_ms(fn: Callable[[], Any], repeats: int = REPEATS) -> float:
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times) * 1e3)


def _keypoints(rng: np.random.Generator) -> np.ndarray:
    return rng.uniform([8, 8], [INPUT[0] - 8, INPUT[1] - 8], size=(N, 1, K, 2)).astype(np.float32)


def _outputs(codec: Any, kps: np.ndarray, rng: np.random.Generator, key: str) -> np.ndarray:
    out = np.stack([codec.encode(kp)[key] for kp in kps])
    return (out + rng.normal(0, 0.01, out.shape)).astype(np.float32)


def main() -> None:
    rng = np.random.default_rng(0)
    kps = _keypoints(rng)
    result: dict[str, Any] = {"n": N, "k": K, "heatmap": list(HEATMAP), "simcc_bins": [384, 512]}
    cases = {
        "msra": build("msra_heatmap", input_size=INPUT, heatmap_size=HEATMAP, sigma=2),
        "msra_dark": build(
            "msra_heatmap", input_size=INPUT, heatmap_size=HEATMAP, sigma=2, unbiased=True
        ),
        "udp": build("udp_heatmap", input_size=INPUT, heatmap_size=HEATMAP, sigma=2),
    }
    for label, codec in cases.items():
        hm = _outputs(codec, kps, rng, "heatmaps")
        batch = _best_ms(lambda c=codec, h=hm: c.batch_decode(h))
        loop = _best_ms(lambda c=codec, h=hm: [c.decode(x) for x in h], repeats=5)
        enc = _best_ms(lambda c=codec: [c.encode(kp) for kp in kps[:16]], repeats=5) / 16
        result[label] = {
            "batch_ms": round(batch, 3),
            "loop_ms": round(loop, 3),
            "speedup": round(loop / batch, 2),
            "batch_instances_per_s": round(N / batch * 1e3),
            "encode_us_per_instance": round(enc * 1e3, 1),
        }
    simcc = build("simcc", input_size=INPUT, sigma=(4.9, 5.66), normalize=False)
    sx = _outputs(simcc, kps, rng, "keypoint_x_labels")[:, 0]
    sy = _outputs(simcc, kps, rng, "keypoint_y_labels")[:, 0]
    batch = _best_ms(lambda: simcc.batch_decode(sx, sy))
    loop = _best_ms(lambda: [simcc.decode(a, b) for a, b in zip(sx, sy, strict=True)], repeats=5)
    enc = _best_ms(lambda: [simcc.encode(kp) for kp in kps[:16]], repeats=5) / 16
    result["simcc"] = {
        "batch_ms": round(batch, 3),
        "loop_ms": round(loop, 3),
        "speedup": round(loop / batch, 2),
        "batch_instances_per_s": round(N / batch * 1e3),
        "encode_us_per_instance": round(enc * 1e3, 1),
    }
    targets = {"msra": 8.9, "msra_dark": 4.9, "udp": 3.7, "simcc": 1.35}
    result["targets_ms"] = targets
    result["targets_met"] = all(result[k]["batch_ms"] <= v for k, v in targets.items())
    print(json.dumps(result))


if __name__ == "__main__":
    main()
