"""Distributed helpers: single-process behaviour and a 2-process Gloo gather of metrics."""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.multiprocessing as mp

from posecli.engine import distributed as dist
from posecli.evaluation import EPE, PCK

RNG = np.random.default_rng(0)
GT = RNG.uniform(0, 100, (10, 5, 2))
PRED = GT + RNG.normal(0, 4, (10, 5, 2))
VIS = RNG.uniform(size=(10, 5)) > 0.2
BBOX = np.tile([0.0, 0.0, 100.0, 80.0], (10, 1))


def _meta(sl: slice) -> dict[str, np.ndarray]:
    return {"keypoints": GT[sl], "keypoints_visible": VIS[sl], "bbox": BBOX[sl]}


def test_single_process_helpers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    info = dist.init_distributed(device="cpu")
    assert (info.rank, info.world_size, info.distributed, info.backend) == (0, 1, False, None)
    assert dist.is_main_process() and dist.world_size() == 1 and dist.rank() == 0
    dist.barrier()
    assert dist.all_gather_object({"a": 1}) == [{"a": 1}]
    assert dist.broadcast_object(5) == 5
    np.testing.assert_array_equal(dist.gather_arrays(np.arange(3)), np.arange(3))
    metric = EPE()
    metric.process({"keypoints": PRED}, _meta(slice(None)))
    before = metric.compute()
    dist.sync_metric(metric)
    assert metric.compute() == before
    dist.cleanup()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _worker(rank: int, world: int, port: int, out_dir: str) -> None:
    os.environ.update(
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
        RANK=str(rank),
        WORLD_SIZE=str(world),
        LOCAL_RANK=str(rank),
    )
    torch.set_num_threads(1)
    info = dist.init_distributed(device="cpu", timeout_s=60)
    try:
        # each rank evaluates its own half, in two batches
        metrics = [EPE(), PCK(thr=0.05)]
        half = slice(rank * 5, rank * 5 + 5)
        for sub in (slice(half.start, half.start + 2), slice(half.start + 2, half.stop)):
            for m in metrics:
                m.process({"keypoints": PRED[sub], "scores": np.ones(VIS[sub].shape)}, _meta(sub))
        for m in metrics:
            dist.sync_metric(m)
        values = {k: v for m in metrics for k, v in m.compute().items()}
        gathered = dist.gather_arrays({"x": np.full((rank + 1, 2), rank)})
        result = {
            "rank": info.rank,
            "world": info.world_size,
            "backend": info.backend,
            "main": dist.is_main_process(),
            "values": values,
            "gathered": np.asarray(gathered["x"]).tolist(),
            "objects": dist.all_gather_object(rank * 10),
            "broadcast": dist.broadcast_object(f"from {rank}"),
        }
        Path(out_dir, f"rank{rank}.json").write_text(json.dumps(result))
        dist.barrier()
    finally:
        dist.cleanup()


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_two_process_gloo_gathers_metrics(tmp_path: Path) -> None:
    ctx = mp.spawn(_worker, args=(2, _free_port(), str(tmp_path)), nprocs=2, join=False)
    deadline = time.monotonic() + 90
    while not ctx.join(timeout=1):
        if time.monotonic() > deadline:
            for p in ctx.processes:
                if p.is_alive():
                    p.kill()
            pytest.fail("2-process Gloo test timed out")
    expected = {}
    for m in (EPE(), PCK(thr=0.05)):
        m.process({"keypoints": PRED, "scores": np.ones(VIS.shape)}, _meta(slice(None)))
        expected.update(m.compute())
    for rank in range(2):
        res = json.loads((tmp_path / f"rank{rank}.json").read_text())
        assert (res["rank"], res["world"], res["backend"], res["main"]) == (
            rank,
            2,
            "gloo",
            rank == 0,
        )
        assert res["values"] == pytest.approx(expected, rel=1e-12)
        assert res["gathered"] == [[0, 0], [1, 1], [1, 1]]
        assert res["objects"] == [0, 10]
        assert res["broadcast"] == "from 0"
