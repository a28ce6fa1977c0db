"""Training failure modes: NaN loss, corrupt images, bad recipes."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from posecli import plugins
from posecli.cli.app import create_app
from posecli.hookspecs import hookimpl

from .conftest import FAST, RECIPE, REPO, set_args

pytestmark = pytest.mark.slow


def nan_loss_plugin(name: str, after: int) -> type:
    """A plugin registering loss ``name``: the KL loss, turning NaN after ``after`` calls."""
    from posecli.models.losses.simcc import KLDiscretLoss

    class NanAfter(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.inner = KLDiscretLoss()
            self.calls = 0

        def forward(self, pred, target, weight=None):  # type: ignore[no-untyped-def]
            self.calls += 1
            loss = self.inner(pred, target, weight)
            return loss * float("nan") if self.calls > after else loss

    class Plugin:
        @staticmethod
        @hookimpl
        def posecli_register_losses(register):  # type: ignore[no-untyped-def]
            register(name, NanAfter)

    return Plugin


def _train(work: Path, *overrides: str) -> tuple[int, str]:
    """Run the fast training recipe through the CLI with extra ``--set`` overrides."""
    result = CliRunner().invoke(
        create_app(),
        ["-q", "train", str(RECIPE), "--work-dir", str(work), *set_args([*FAST, *overrides])],
    )
    return result.exit_code, result.stderr


def _train_with_loss(work: Path, loss: str) -> tuple[int, str]:
    return _train(work, f'model.head.loss={{name = "{loss}"}}')


def test_nan_loss_stops_cleanly(tmp_path: Path, fresh_plugins: plugins.PluginManager) -> None:
    fresh_plugins.add_plugin(nan_loss_plugin("nan_after_two", 2), "nan-plugin")
    code, err = _train_with_loss(tmp_path / "run", "nan_after_two")
    assert code == 1
    assert err.strip() == (
        "Error: loss became nan at epoch 1, iteration 3; stopped before any checkpoint was written"
    )


def test_nan_after_a_checkpoint_keeps_it(
    tmp_path: Path, fresh_plugins: plugins.PluginManager
) -> None:
    fresh_plugins.add_plugin(nan_loss_plugin("nan_later", 8), "nan-later")
    work = tmp_path / "run"
    code, err = _train_with_loss(work, "nan_later")
    assert code == 1
    assert f"Last good checkpoint: {work / 'last.pt'}" in err
    assert (work / "last.pt").exists()


def _copy_data_with_corrupt_png(tmp_path: Path) -> Path:
    src = REPO / "examples" / "mirror-mouse"
    dst = tmp_path / "mouse"
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("videos"))
    png = dst / "labeled-data" / "img01.png"
    png.write_bytes(png.read_bytes()[:300])  # truncated PNG
    return dst


def _corrupt_data_overrides(tmp_path: Path) -> list[str]:
    labels = _copy_data_with_corrupt_png(tmp_path) / "CollectedData.csv"
    return [f'data.train.dataset.ann_file="{labels}"', f'data.val.dataset.ann_file="{labels}"']


def test_corrupt_image_is_a_one_line_error(tmp_path: Path) -> None:
    code, err = _train(tmp_path / "run", *_corrupt_data_overrides(tmp_path))
    assert code == 1
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "img01.png" in lines[0], err


def test_corrupt_image_skipped_when_asked(tmp_path: Path) -> None:
    work = tmp_path / "run"
    code, err = _train(
        work, "train.epochs=1", "data.skip_bad_samples=true", *_corrupt_data_overrides(tmp_path)
    )
    assert code == 0, err
    assert "img01.png" in (work / "train.log").read_text()
