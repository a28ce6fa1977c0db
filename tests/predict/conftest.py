"""Fixtures of the predict tests: a tiny random-weight mouse checkpoint made once per session."""

from __future__ import annotations

from pathlib import Path

import pytest

from ._tiny import REPO, make_tiny_checkpoint

VIDEO = REPO / "examples" / "mirror-mouse" / "videos" / "test_vid.mp4"
FLY_CLIP = REPO / "examples" / "sleap-flies" / "clip.mp4"


@pytest.fixture(scope="session")
def tiny_ckpt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tiny_checkpoint(tmp_path_factory.mktemp("ckpt") / "tiny.pt")


@pytest.fixture(scope="session")
def predictor(tiny_ckpt: Path):
    from posecli.inference.load import load_predictor

    return load_predictor(tiny_ckpt, backend="torch", device="cpu", batch_size=16)


@pytest.fixture(scope="session")
def video_run(tiny_ckpt: Path, tmp_path_factory: pytest.TempPathFactory):
    """``posecli predict`` on the bundled video: json + csv + rendered video, tracked."""
    from posecli.inference.load import load_predictor
    from posecli.inference.run import PredictConfig, run_predict

    out = tmp_path_factory.mktemp("video_run")
    pred = load_predictor(tiny_ckpt, backend="torch", device="cpu", batch_size=16)
    config = PredictConfig(
        out=out,
        formats=["json", "csv"],
        render=True,
        track=True,
        track_metric="iou",  # random weights: keypoint scores are too low for OKS
        smooth=True,
        progress=False,
    )
    return run_predict(VIDEO, pred, config=config), out


@pytest.fixture(scope="session", autouse=True)
def export_cache(tmp_path_factory: pytest.TempPathFactory):
    """``--backend auto`` exports into a temporary cache, never the user's."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("POSECLI_CACHE_DIR", str(tmp_path_factory.mktemp("posecli-cache")))
        yield
