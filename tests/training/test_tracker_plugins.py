"""The first-party tracker plugins (TensorBoard, MLflow) installed with pip into a temporary
virtual environment: listed as callbacks of their distributions, and their own test suites
(real ``posecli train`` runs of the mouse recipe read back with each tracker's reader) pass."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.venvs import clean_env, make_venv, pip_install

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
PLUGINS = {
    "tensorboard": REPO / "plugins" / "posecli-plugin-tensorboard",
    "mlflow": REPO / "plugins" / "posecli-plugin-mlflow",
}


@pytest.fixture(scope="module")
def tracker_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    python = make_venv(tmp_path_factory.mktemp("trackers") / "env", posecli_source=True)
    pip_install(python, *PLUGINS.values())
    return python


def test_trackers_are_callbacks_of_their_distributions(tracker_venv: Path) -> None:
    done = subprocess.run(
        [str(tracker_venv), "-m", "posecli", "list", "callbacks", "--json"],
        capture_output=True,
        text=True,
        env=clean_env(),
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    by_name = {e["name"]: e for e in json.loads(done.stdout)}
    assert by_name["tensorboard"]["plugin"] == "posecli-plugin-tensorboard"
    assert by_name["mlflow"]["plugin"] == "posecli-plugin-mlflow"
    assert by_name["checkpoint"]["plugin"] == "posecli"


@pytest.mark.parametrize("name", sorted(PLUGINS))
def test_the_plugins_own_tests_pass(tracker_venv: Path, name: str) -> None:
    done = subprocess.run(
        [str(tracker_venv), "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"],
        capture_output=True,
        text=True,
        env=clean_env(OMP_NUM_THREADS="1"),
        timeout=900,
        cwd=PLUGINS[name],
    )
    assert done.returncode == 0, done.stdout[-3000:]
