"""The mlflow callback on a real (short) training run of the bundled mouse recipe.

Run with the plugin installed and from a posecli checkout (the recipe's data is in
``examples/mirror-mouse``). Runs go through ``posecli train`` as users type it, into a local
SQLite store in a temporary folder, and are read back with ``MlflowClient``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient
from posecli_plugin_mlflow.callback import flatten_params

REPO = Path(__file__).resolve().parents[3]
RECIPE = REPO / "recipes" / "rtmpose.toml"
FAST = [
    "codec.input_size=[112, 112]",
    "model.head.input_size=[112, 112]",
    "model.head.in_featuremap_size=[14, 14]",
    "data.train.batch_size=12",
    "train.val_interval=1",
    "train.log_interval=2",
    "train.schedule.0.iters=3",
]


def _train(work: Path, store: str, *extra: str) -> subprocess.Popen[str]:
    artifacts = (work.parent / "mlflow-artifacts").as_uri()  # not ./mlruns in the checkout
    table = (
        f'train.callbacks=[{{name = "mlflow", tracking_uri = "{store}", experiment = "mouse", '
        f'artifact_location = "{artifacts}"}}]'
    )
    sets = [*FAST, table]
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    return subprocess.Popen(
        [sys.executable, "-m", "posecli", "-q", "train", str(RECIPE), "--work-dir", str(work)]
        + [arg for s in sets for arg in ("--set", s)]
        + list(extra),
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def _killed_in_epoch_2(work: Path, proc: subprocess.Popen[str]) -> None:
    """SIGKILL once epoch 1 is checkpointed and epoch 2 has logged a line."""
    deadline = time.monotonic() + 600
    log = work / "metrics.jsonl"
    while time.monotonic() < deadline and proc.poll() is None:
        lines = log.read_text().splitlines() if log.exists() else []
        if any('"type": "train", "epoch": 2' in line for line in lines):
            break
        time.sleep(0.05)
    assert proc.poll() is None, "training ended before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, MlflowClient]:
    """An interrupted run (SIGKILL in epoch 2) resumed to the end: one MLflow run."""
    root = tmp_path_factory.mktemp("mlflow")
    store = f"sqlite:///{root / 'mlflow.db'}"
    work = root / "run"
    _killed_in_epoch_2(work, _train(work, store, "--set", "train.epochs=2"))
    client = MlflowClient(store)
    (run,) = client.search_runs([client.get_experiment_by_name("mouse").experiment_id])
    assert run.info.status == "RUNNING"  # killed: nobody could tell MLflow
    resumed = _train(work, store, "--set", "train.epochs=2", "--resume")
    _, err = resumed.communicate(timeout=600)
    assert resumed.returncode == 0, err[-3000:]
    return work, client


def test_one_run_holds_params_metrics_and_artifacts(
    recorded: tuple[Path, MlflowClient],
) -> None:
    work, client = recorded
    experiment = client.get_experiment_by_name("mouse")
    (run,) = client.search_runs([experiment.experiment_id])  # the resumed run continued it
    assert run.info.status == "FINISHED" and run.info.run_name == "run"
    params = run.data.params
    assert params["name"] == "rtmpose-mouse"
    assert params["train.epochs"] == "2"
    assert params["codec.input_size"] == "[112, 112]"
    assert params["data.train.pipeline.2.name"] == "random_flip"
    records = [json.loads(line) for line in (work / "metrics.jsonl").read_text().splitlines()]
    val = [r for r in records if r["type"] == "val"]
    history = client.get_metric_history(run.info.run_id, "val/EPE")
    assert [(m.step, m.value) for m in history] == [(r["step"], r["EPE"]) for r in val]
    assert [m.step for m in history] == [6, 12]
    nose = client.get_metric_history(run.info.run_id, "val_keypoint_error/nose_top")
    assert [m.value for m in nose] == pytest.approx([r["keypoint_errors"]["nose_top"] for r in val])
    # lines the killed run logged after its checkpoint were logged again by the resumed run
    # (MLflow keeps both); the later value of each step is the one metrics.jsonl holds
    losses = client.get_metric_history(run.info.run_id, "train/loss")
    latest = {m.step: m.value for m in sorted(losses, key=lambda m: m.timestamp)}
    train = {r["step"]: r["loss"] for r in records if r["type"] == "train"}
    assert latest == pytest.approx(train)
    names = {a.path for a in client.list_artifacts(run.info.run_id)}
    expected = {"recipe.toml", "metrics.jsonl", "train.log", "curves.png", "last.pt", "best.pt"}
    assert expected <= names


def test_flatten_params_names_every_leaf() -> None:
    tree = {"a": {"b": 1, "c": [1, 2]}, "p": [{"name": "x", "k": 2.5}], "s": "t" * 7000}
    assert dict(flatten_params(tree)) == {
        "a.b": "1",
        "a.c": "[1, 2]",
        "p.0.name": "x",
        "p.0.k": "2.5",
        "s": "t" * 6000,
    }
