"""The trainer's loop and callbacks on the bundled mouse recipe: event order, callback state
through a resume, a raising callback, the log handler on a failed build, and accumulation."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from posecli import plugins
from posecli.cli.app import create_app
from posecli.engine.callbacks import Callback
from posecli.engine.checkpoint import read_checkpoint
from posecli.engine.trainer import Trainer
from posecli.errors import BuildError
from posecli.hookspecs import hookimpl
from posecli.recipe import load_recipe

from .conftest import FAST, RECIPE, set_args


class Recorder(Callback):
    """Records every event (with its main argument) and counts epochs as resumable state."""

    name = "recorder"

    def __init__(self) -> None:
        self.events: list[tuple[str, Any]] = []
        self.epochs = 0
        self.loaded: dict[str, Any] | None = None

    def setup(self, trainer: Trainer) -> None:
        self.events.append(("setup", None))

    def on_train_start(self, trainer: Trainer) -> None:
        self.events.append(("on_train_start", trainer.epoch))

    def on_epoch_start(self, trainer: Trainer) -> None:
        self.events.append(("on_epoch_start", trainer.epoch))

    def on_step_end(self, trainer: Trainer, step: Any) -> None:
        self.events.append(("on_step_end", (step.epoch, step.iter, step.step, step.stepped)))

    def on_train_epoch_end(self, trainer: Trainer, record: dict[str, Any]) -> None:
        self.events.append(("on_train_epoch_end", record["epoch"]))

    def on_validation_end(self, trainer: Trainer, validation: Any) -> None:
        self.events.append(("on_validation_end", sorted(validation.values)))

    def on_epoch_end(self, trainer: Trainer) -> None:
        self.epochs += 1
        self.events.append(("on_epoch_end", trainer.epoch))

    def on_checkpoint(self, trainer: Trainer, path: Path, kind: str) -> None:
        self.events.append(("on_checkpoint", (path.name, kind)))

    def on_train_end(self, trainer: Trainer, result: Any) -> None:
        self.events.append(("on_train_end", result.epochs_run))

    def state_dict(self) -> dict[str, Any]:
        return {"epochs": self.epochs}

    def load_state_dict(self, state: Any) -> None:
        self.loaded = dict(state)


def _recipe(*extra: str) -> Any:
    return load_recipe(RECIPE, [*FAST, *extra])


@pytest.mark.slow
def test_events_in_order_and_state_through_a_resume(tmp_path: Path) -> None:
    work = tmp_path / "run"
    first = Recorder()
    trainer = Trainer(_recipe("train.epochs=1"), work_dir=work, progress=False, callbacks=[first])
    try:
        trainer.run()
    finally:
        trainer.close()
    names = [e for e, _ in first.events]
    assert names == [
        "setup",
        "on_train_start",
        "on_epoch_start",
        *["on_step_end"] * 6,
        "on_train_epoch_end",
        "on_validation_end",
        "on_epoch_end",
        "on_checkpoint",
        "on_checkpoint",
        "on_train_end",
    ]
    steps = [arg for e, arg in first.events if e == "on_step_end"]
    assert steps == [(1, i, i, True) for i in range(1, 7)]
    assert dict(first.events)["on_validation_end"] == ["EPE", "PCK_img"]
    checkpoints = [arg for e, arg in first.events if e == "on_checkpoint"]
    assert checkpoints == [("last.pt", "last"), ("best.pt", "best")]
    # the recorder ran after the built-ins but before checkpoint: its state is in last.pt
    assert trainer.callbacks.names()[-2:] == ["recorder", "checkpoint"]
    assert read_checkpoint(work / "last.pt")["callbacks"] == {"recorder": {"epochs": 1}}

    again = Recorder()
    resumed = Trainer(
        _recipe("train.epochs=1"), work_dir=work, resume=True, progress=False, callbacks=[again]
    )
    resumed.close()
    assert again.loaded == {"epochs": 1}


class Boom(Callback):
    """Raises at the end of epoch 2's training pass, after epoch 1 was checkpointed."""

    def __init__(self, epoch: int = 2) -> None:
        self.epoch = epoch
        self.failed_with: BaseException | None = None

    def on_train_epoch_end(self, trainer: Trainer, record: dict[str, Any]) -> None:
        if record["epoch"] == self.epoch:
            raise OSError("no space left on device")

    def on_exception(self, trainer: Trainer, exc: BaseException) -> None:
        Boom.seen = exc  # type: ignore[attr-defined]


class BoomPlugin:
    @staticmethod
    @hookimpl
    def posecli_register_callbacks(register):  # type: ignore[no-untyped-def]
        register("boom", Boom, help="raises at the end of an epoch's training pass")


@pytest.mark.slow
def test_a_raising_callback_stops_with_one_line_and_keeps_the_checkpoint(
    tmp_path: Path, fresh_plugins: plugins.PluginManager
) -> None:
    fresh_plugins.add_plugin(BoomPlugin, "boom-plugin")
    work = tmp_path / "run"
    result = CliRunner().invoke(
        create_app(),
        [
            "-q",
            "train",
            str(RECIPE),
            "--work-dir",
            str(work),
            *set_args([*FAST, 'train.callbacks=[{name = "boom"}]']),
        ],
    )
    assert result.exit_code == 1
    assert result.stderr.strip() == (
        "Error: callback 'boom' failed in on_train_epoch_end: OSError: no space left on device; "
        f"stopped. Last good checkpoint: {work / 'last.pt'}"
    )
    assert read_checkpoint(work / "last.pt")["epoch"] == 1
    assert "no space left" in str(Boom.seen)  # type: ignore[attr-defined]


def test_a_failed_build_leaves_no_log_handler_behind(tmp_path: Path) -> None:
    logger = logging.getLogger("posecli")
    before = list(logger.handlers)
    with pytest.raises(BuildError, match="model.backbone.widen_factr"):
        Trainer(_recipe("model.backbone.widen_factr=1.0"), work_dir=tmp_path / "run")
    assert logger.handlers == before


@pytest.mark.slow
def test_leftover_micro_batches_step_and_leave_no_gradient(tmp_path: Path) -> None:
    """6 micro-batches, accumulate 4: a window of 4 and a short window of 2, both stepped;
    the progress bar counts the micro-batches it advances by."""
    trainer = Trainer(_recipe("train.epochs=1", "train.accumulate=4"), work_dir=tmp_path / "run")
    try:
        assert (trainer.micro_batches, trainer.iters_per_epoch) == (6, 2)
        trainer.optimizer.zero_grad(set_to_none=True)
        trainer.train_one_epoch()
        assert trainer.step == 2
        assert all(p.grad is None for p in trainer.model.parameters())
        progress = trainer.callbacks.get("progress")
        progress.on_train_start(trainer)
        assert progress.bar.iters == 6
        progress.on_train_end(trainer, None)
    finally:
        trainer.close()
