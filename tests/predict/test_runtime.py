"""The runtime: torch-free import, one direction of imports, backends agree with the
checkpoint's evaluation path (flip test included), streaming, sinks and stages, thread tuning."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

from posecli.inference.load import load_predictor
from posecli.runtime import FramePrediction, Predictor, ThreadMemory, ThreadTuner

from ._tiny import REPO
from .conftest import VIDEO


def _frames(n: int) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(VIDEO))
    frames = [cap.read()[1] for _ in range(n)]
    cap.release()
    return frames


def test_runtime_imports_without_torch() -> None:
    code = (
        "import sys; sys.modules['torch'] = None\n"
        "import posecli.runtime, posecli.runtime.backends, posecli.runtime.spec\n"
        "print([m for m in sys.modules if m.startswith(('posecli.inference', 'posecli.export',"
        " 'posecli.models', 'posecli.engine'))])"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


def _imports(package: str) -> set[str]:
    """Every ``posecli.*`` module imported anywhere (top level or lazily) in ``package``."""
    found: set[str] = set()
    for path in (REPO / "posecli" / package).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                found.add(node.module)
            elif isinstance(node, ast.Import):
                found.update(a.name for a in node.names)
    return {m for m in found if m.startswith("posecli.")}


def test_imports_go_one_way() -> None:
    """inference → export → runtime: never back (no cycles between the three packages)."""
    runtime = _imports("runtime")
    assert not {m for m in runtime if m.startswith(("posecli.inference", "posecli.export"))}
    assert not {m for m in _imports("export") if m.startswith("posecli.inference")}
    for gone in (
        "posecli/deploy.py",
        "posecli/inference/predictor.py",
        "posecli/export/predictor.py",
    ):
        assert not (REPO / gone).exists()


def test_torch_backend_equals_the_evaluation_path(predictor: Predictor, tiny_ckpt: Path) -> None:
    """Flip test and decode in the runtime give ``PoseModel.predict``'s keypoints."""
    import torch

    from posecli.api import load_checkpoint

    assert predictor.flip_test and predictor.backend.name == "torch"
    frames = _frames(3)
    ours = predictor.predict(frames)
    crops = [predictor.crops(f) for f in frames]
    model, _ = load_checkpoint(tiny_ckpt)
    x = torch.from_numpy(np.concatenate([c.images for c in crops])).permute(0, 3, 1, 2)
    kp, sc = model.predict(
        {
            "inputs": x,
            "input_center": np.concatenate([c.centers for c in crops]),
            "input_scale": np.concatenate([c.scales for c in crops]),
        }
    )
    np.testing.assert_allclose(np.concatenate([r.keypoints for r in ours]), kp.numpy(), atol=1e-3)
    np.testing.assert_allclose(
        np.concatenate([r.keypoint_scores for r in ours]), sc.numpy(), atol=1e-4
    )


def test_auto_backend_exports_once_and_agrees(
    predictor: Predictor,
    tiny_ckpt: Path,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.setenv("POSECLI_CACHE_DIR", str(tmp_path))
    with caplog.at_level("INFO", logger="posecli.inference.load"):
        auto = load_predictor(tiny_ckpt, backend="auto", device="cpu")
        again = load_predictor(tiny_ckpt, backend="onnxruntime", device="cpu")
    assert auto.backend.name == again.backend.name == "onnxruntime"
    exported = [r.message for r in caplog.records if " once to " in r.message]
    assert len(exported) == 1 and "parity with PyTorch" in exported[0]
    assert any("cached export" in r.message for r in caplog.records)
    assert auto.flip_test and auto.skeleton is not None
    frames = _frames(4)
    for a, b in zip(auto.predict(frames), predictor.predict(frames), strict=True):
        assert np.abs(a.keypoints - b.keypoints).max() <= 1e-3
    off = load_predictor(tiny_ckpt, device="cpu", flip_test=False)
    assert not off.flip_test and off.backend.name == "onnxruntime"


def test_stream_yields_before_the_source_ends(predictor: Predictor) -> None:
    frames = _frames(2) * 20
    consumed: list[int] = []

    def source() -> Iterator[np.ndarray]:
        for i, frame in enumerate(frames):
            consumed.append(i)
            yield frame

    small = Predictor(predictor.spec, predictor.backend, batch_size=2)
    results = small.stream(source(), threads=None, prefetch=2)
    first = next(results)
    assert isinstance(first, FramePrediction) and first.frame == 0
    assert len(consumed) < len(frames)
    rest = list(results)
    assert [r.frame for r in rest] == list(range(1, 40))
    np.testing.assert_allclose(rest[1].keypoints, first.keypoints, atol=1e-4)  # same image


def test_extra_stages_and_sinks_join_run_predict(predictor: Predictor, tmp_path: Path) -> None:
    """The hook for later stages (e.g. a lifter) and their writers: ``write(frame, result)``."""
    from posecli.inference.run import PredictConfig, run_predict

    from ..inference.conftest import make_video

    seen: list[tuple[int, int, float]] = []

    def lift(frame, result):  # type: ignore[no-untyped-def]
        result.extras["mean_x"] = float(result.keypoints[..., 0].mean())
        return result

    class Recorder:
        def write(self, frame, result):  # type: ignore[no-untyped-def]
            seen.append((frame.index, result.frame, result.extras["mean_x"]))

        def close(self) -> None:
            pass

    video = make_video(tmp_path / "v.avi", n=5, size=(64, 48))
    config = PredictConfig(out=tmp_path / "out", progress=False, track=True, track_metric="iou")
    summary = run_predict(video, predictor, config=config, stages=[lift], sinks=[Recorder()])
    assert summary.frames == 5 and [s[:2] for s in seen] == [(i, i) for i in range(5)]
    records = json.loads((tmp_path / "out" / "predictions.json").read_text())["frames"]
    assert [r["instances"][0]["track_id"] for r in records] == [0] * 5


class _FakeBackend:
    """A backend whose runs take 3 s with 1 thread and 1 s with 2, plus 20 s for the first run
    after each switch (on a fake clock)."""

    name, device = "fake", "cpu"

    def __init__(self, clock: list[float]) -> None:
        self.clock, self.threads, self.calls, self.cold = clock, 1, [], True

    def set_threads(self, threads: int) -> None:
        self.threads = threads
        self.calls.append(threads)
        self.cold = True

    def run_batch(self) -> None:
        self.clock[0] += (3.0 if self.threads == 1 else 1.0) + (20.0 if self.cold else 0.0)
        self.cold = False


def test_thread_tuner_keeps_the_fastest(monkeypatch: pytest.MonkeyPatch) -> None:
    import posecli.runtime.threads as threads

    clock = [0.0]
    monkeypatch.setattr(threads.time, "perf_counter", lambda: clock[0])
    backend = _FakeBackend(clock)
    tuner = ThreadTuner(backend, candidates=[2, 1], batches=2)
    for _ in range(10):
        tuner.step(4)
        backend.run_batch()
    # the first batch after each switch is slow (a new session) and is not timed
    assert tuner.chosen == 2 and backend.threads == 2 and backend.calls == [2, 1, 2]
    assert tuner.rates == {2: pytest.approx(4.0), 1: pytest.approx(4 / 3)}
    assert tuner.finish() == "threads 2 (measured: 1 → 1.3 frames/s, 2 → 4.0 frames/s)"


def test_thread_memory_skips_the_measurement_next_time(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import posecli.runtime.threads as threads

    clock = [0.0]
    monkeypatch.setattr(threads.time, "perf_counter", lambda: clock[0])
    memory = ThreadMemory(tmp_path / "threads.json")
    first = _FakeBackend(clock)
    tuner = ThreadTuner(first, candidates=[2, 1], batches=2, memory=memory, key="model-a")
    for _ in range(8):
        tuner.step(4)
        first.run_batch()
    assert memory.recall("model-a") == (2, {2: pytest.approx(4.0), 1: pytest.approx(1.33)})
    again = _FakeBackend(clock)
    tuner = ThreadTuner(again, candidates=[2, 1], batches=2, memory=memory, key="model-a")
    assert tuner.chosen == 2 and again.calls == [2]  # set once, no candidate tried
    tuner.step(4)
    assert tuner.finish().startswith("threads 2 (measured in an earlier run: 1 → 1.3")
    other = _FakeBackend(clock)
    ThreadTuner(other, candidates=[2, 1], memory=memory, key="model-b")
    assert other.calls == [2] and memory.recall("model-b") is None  # measured afresh
    # a choice no longer among the candidates (fewer cores now) is measured again
    assert (
        ThreadTuner(_FakeBackend(clock), candidates=[1], memory=memory, key="model-a").recalled
        is False
    )


def test_thread_memory_survives_a_damaged_file(tmp_path: Path) -> None:
    path = tmp_path / "threads.json"
    path.write_text("{not json")
    memory = ThreadMemory(path)
    assert memory.recall("k") is None
    memory.remember("k", 1, {1: 9.5, 2: 7.25})
    assert memory.recall("k") == (1, {1: 9.5, 2: 7.25})
    assert json.loads(path.read_text())["k"]["threads"] == 1
    path.write_text(json.dumps({"k": {"threads": "x"}}))
    assert memory.recall("k") is None


def test_run_predict_remembers_the_thread_count(
    tiny_ckpt: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from posecli.inference.run import PredictConfig, run_predict

    monkeypatch.setenv("POSECLI_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr("posecli.runtime.threads.available_cores", lambda: 2)
    monkeypatch.setattr("posecli.runtime.predictor.available_cores", lambda: 2)
    pred = load_predictor(tiny_ckpt, backend="onnxruntime", device="cpu", batch_size=2)
    folder = tmp_path / "frames"
    folder.mkdir()
    for i, frame in enumerate(_frames(2) * 8):
        cv2.imwrite(str(folder / f"{i:02d}.png"), frame)
    config = PredictConfig(out=None, progress=False)
    first = run_predict(folder, pred, config=config)
    assert first.threads is not None and first.threads.startswith("threads ")
    assert "earlier run" not in first.threads and "1 → " in first.threads
    second = run_predict(folder, pred, config=config)
    assert second.threads is not None and "(measured in an earlier run: 1 → " in second.threads
    stored = json.loads((tmp_path / "cache" / "threads.json").read_text())
    (key,) = stored
    assert "|onnxruntime|cores=2|batch=2|flip=1|WholeFrameBoxes" in key, key


def test_contracts_are_checked_when_built(predictor: Predictor, tmp_path: Path) -> None:
    from posecli.errors import PoseCliError
    from posecli.inference.run import run_predict

    with pytest.raises(PoseCliError, match="object is not a Backend"):
        Predictor(predictor.spec, object())  # type: ignore[arg-type]
    with pytest.raises(PoseCliError, match="int is not a sink"):
        run_predict(tmp_path, predictor, sinks=[3])  # type: ignore[list-item]


def test_posecli_predict_stream(predictor: Predictor, tmp_path: Path) -> None:
    import posecli.predict

    from ..inference.conftest import make_video

    frames = _frames(3)
    results = list(posecli.predict.stream(frames, predictor=predictor))
    assert [r.frame for r in results] == [0, 1, 2]
    np.testing.assert_allclose(
        results[1].keypoints, predictor.predict(frames[1]).keypoints, atol=1e-4
    )
    video = make_video(tmp_path / "v.avi", n=4, size=(64, 48))
    tracked = list(posecli.predict.stream(video, predictor=predictor, track=True))
    assert [r.frame for r in tracked] == [0, 1, 2, 3]
    assert all(r.track_ids is not None and r.keypoints.shape == (1, 17, 2) for r in tracked)
