"""Training progress: a rich progress bar on a terminal, plain log lines elsewhere."""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping
from types import TracebackType

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

log = logging.getLogger("posecli.train")


class TrainProgress:
    """Epoch/iteration progress with loss, learning rate, images/s and ETA.

    With ``enabled`` and a terminal on stderr, a rich bar; otherwise every ``plain_every``
    iterations one plain line on stderr (CI logs stay readable).
    """

    def __init__(
        self, epochs: int, iters_per_epoch: int, *, enabled: bool = True, plain_every: int = 50
    ) -> None:
        self.epochs = epochs
        self.iters = iters_per_epoch
        self.enabled = enabled
        self.plain_every = plain_every
        self.console = Console(file=sys.stderr)
        self.rich = enabled and self.console.is_terminal
        self._progress: Progress | None = None
        self._task: TaskID | None = None
        self._epoch = 0
        self._i = 0

    def __enter__(self) -> TrainProgress:
        if self.rich:
            self._progress = Progress(
                TextColumn("[bold]epoch {task.fields[epoch]}/{task.fields[epochs]}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("loss {task.fields[loss]:.4f}  lr {task.fields[lr]:.2e}"),
                TextColumn("{task.fields[speed]:.1f} img/s"),
                TimeElapsedColumn(),
                TextColumn("ETA"),
                TimeRemainingColumn(),
                console=self.console,
                transient=False,
            )
            self._progress.__enter__()
            self._task = self._progress.add_task(
                "train",
                total=self.epochs * self.iters,
                epoch=0,
                epochs=self.epochs,
                loss=float("nan"),
                lr=0.0,
                speed=0.0,
            )
        return self

    def start_epoch(self, epoch: int) -> None:
        self._epoch = epoch
        self._i = 0
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, epoch=epoch, completed=(epoch - 1) * self.iters)

    def advance(self, *, loss: float, lr: float, speed: float) -> None:
        self._i += 1
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, advance=1, loss=loss, lr=lr, speed=speed)
        elif self.enabled and (self._i % self.plain_every == 0 or self._i == self.iters):
            print(
                f"epoch {self._epoch}/{self.epochs} iter {self._i}/{self.iters} "
                f"loss {loss:.5f} lr {lr:.2e} {speed:.1f} img/s",
                file=sys.stderr,
                flush=True,
            )

    def note(self, values: Mapping[str, float]) -> None:
        """Show validation values under the bar (or as a plain line)."""
        if not self.enabled:
            return
        text = "  ".join(f"{k} {v:.4f}" for k, v in values.items())
        if self._progress is not None:
            self._progress.console.print(f"epoch {self._epoch} validation: {text}")
        else:
            print(f"epoch {self._epoch} validation: {text}", file=sys.stderr, flush=True)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._progress is not None:
            self._progress.__exit__(exc_type, exc, tb)
