"""The ``mlflow`` training callback: one MLflow run per posecli run.

What it records (through ``mlflow.tracking.MlflowClient``, no global MLflow state):

- params: the resolved recipe flattened to dotted keys (``train.optimizer.lr``,
  ``data.train.pipeline.2.name``...), once; tags ``posecli.work_dir`` and ``posecli.version``;
- metrics against the global optimiser step: ``train/loss``, ``train/lr`` every
  ``train.log_interval`` iterations, ``epoch/loss`` and ``epoch/images_per_s`` per epoch,
  ``val/<metric>`` and ``val_keypoint_error/<keypoint>`` per validation;
- artifacts: ``recipe.toml`` at the start; the whole run directory when the run ends
  (checkpoints included unless ``checkpoints = false``), also when it fails;
- the run's status: ``FINISHED``, ``FAILED`` or ``KILLED`` (interrupted).

The tracking URI is ``tracking_uri``, else MLflow's own default (``MLFLOW_TRACKING_URI``, else
the local SQLite store ``sqlite:///mlflow.db`` in the working directory; MLflow 3 no longer
opens plain ``./mlruns`` folders without ``MLFLOW_ALLOW_FILE_STORE=true``). Nothing leaves the
machine unless the URI points elsewhere. The run id is kept in ``last.pt``, so ``--resume``
continues the same MLflow run.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from posecli.engine.callbacks import Callback, StepInfo, Validation

__all__ = ["MLflowCallback", "flatten_params"]

_MAX_PARAM = 6000  # MLflow's limit on a parameter value
_BATCH = 100  # MLflow's limit on params per log_batch


def flatten_params(tree: Any, prefix: str = "") -> Iterator[tuple[str, str]]:
    """``(dotted.key, value)`` pairs of a nested recipe dump; lists of tables are indexed,
    other lists are JSON; values are truncated to MLflow's 6000 characters."""
    if isinstance(tree, Mapping):
        for key, value in tree.items():
            yield from flatten_params(value, f"{prefix}.{key}" if prefix else str(key))
    elif isinstance(tree, list) and tree and all(isinstance(v, Mapping) for v in tree):
        for i, value in enumerate(tree):
            yield from flatten_params(value, f"{prefix}.{i}")
    else:
        text = json.dumps(tree) if isinstance(tree, list) else str(tree)
        yield prefix, text[:_MAX_PARAM]


class MLflowCallback(Callback):
    """Record the run in MLflow.

    Args:
        tracking_uri: Where runs are stored (default: MLflow's, see the module doc).
        experiment: Experiment name (default: the recipe's name).
        run_name: Run name (default: the run directory's name).
        checkpoints: Also upload ``*.pt`` files with the run directory.
        artifact_location: Where a new experiment keeps its artifacts (default: MLflow's,
            ``./mlruns`` beside a database store).
    """

    def __init__(
        self,
        tracking_uri: str | None = None,
        experiment: str | None = None,
        run_name: str | None = None,
        checkpoints: bool = True,
        artifact_location: str | None = None,
    ) -> None:
        self.tracking_uri = tracking_uri
        self.artifact_location = artifact_location
        self.experiment = experiment
        self.run_name = run_name
        self.checkpoints = bool(checkpoints)
        self.run_id: str | None = None
        self.client: Any = None

    # -- resume ------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {"run_id": self.run_id} if self.run_id else {}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.run_id = state.get("run_id") or None

    # -- events ------------------------------------------------------------------------------
    def on_train_start(self, trainer: Any) -> None:
        import mlflow
        from mlflow.tracking import MlflowClient

        import posecli

        if not trainer.is_main:
            return
        self.client = MlflowClient(self.tracking_uri or mlflow.get_tracking_uri())
        if self.run_id is not None and trainer.resume_from is not None:
            self.client.update_run(self.run_id, status="RUNNING")
            return
        name = self.experiment or trainer.recipe.name or "posecli"
        found = self.client.get_experiment_by_name(name)
        experiment_id = (
            found.experiment_id
            if found
            else self.client.create_experiment(name, artifact_location=self.artifact_location)
        )
        run = self.client.create_run(
            experiment_id,
            run_name=self.run_name or trainer.work_dir.name,
            tags={
                "posecli.work_dir": str(trainer.work_dir),
                "posecli.version": getattr(posecli, "__version__", "unknown"),
            },
        )
        self.run_id = run.info.run_id
        self._log_params(trainer.recipe.model_dump(mode="json", exclude_none=True))
        from posecli.recipe import recipe_to_toml

        self.client.log_text(self.run_id, recipe_to_toml(trainer.recipe), "recipe.toml")

    def _log_params(self, dump: Mapping[str, Any]) -> None:
        from mlflow.entities import Param

        params = [Param(k, v) for k, v in flatten_params(dump)]
        for i in range(0, len(params), _BATCH):
            self.client.log_batch(self.run_id, params=params[i : i + _BATCH])

    def _log_metrics(self, values: Mapping[str, float], step: int) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        metrics = [
            Metric(k, float(v), now, int(step)) for k, v in values.items() if np.isfinite(float(v))
        ]
        if self.client is not None and metrics:
            self.client.log_batch(self.run_id, metrics=metrics)

    def on_step_end(self, trainer: Any, step: StepInfo) -> None:
        if self.client is not None and step.iter % trainer.cfg.log_interval == 0:
            self._log_metrics({"train/loss": step.loss, "train/lr": step.lr}, step.step)

    def on_train_epoch_end(self, trainer: Any, record: dict[str, Any]) -> None:
        values = {f"epoch/{k}": record[k] for k in ("loss", "images_per_s") if k in record}
        self._log_metrics(values, trainer.step)

    def on_validation_end(self, trainer: Any, validation: Validation) -> None:
        from posecli.engine.log_callbacks import keypoint_names

        values = {f"val/{k}": v for k, v in validation.values.items()}
        if validation.gt_keypoints.shape == validation.keypoints.shape:
            errors = validation.keypoint_errors()
            names = keypoint_names(trainer.skeleton, len(errors))
            values.update(
                {f"val_keypoint_error/{n}": float(e) for n, e in zip(names, errors, strict=True)}
            )
        self._log_metrics(values, trainer.step)

    def _upload(self, work_dir: Path) -> None:
        for path in sorted(work_dir.rglob("*")):
            if not path.is_file() or path.name.startswith("mlflow.db"):
                continue
            if path.suffix == ".pt" and not self.checkpoints:
                continue
            folder = path.parent.relative_to(work_dir).as_posix()
            self.client.log_artifact(self.run_id, str(path), None if folder == "." else folder)

    def _finish(self, trainer: Any, status: str) -> None:
        if self.client is None or self.run_id is None:
            return
        try:
            self._upload(Path(trainer.work_dir))
        finally:
            self.client.set_terminated(self.run_id, status)
            self.client = None

    def on_train_end(self, trainer: Any, result: Any) -> None:
        self._finish(trainer, "FINISHED")

    def on_exception(self, trainer: Any, exc: BaseException) -> None:
        self._finish(trainer, "KILLED" if isinstance(exc, KeyboardInterrupt) else "FAILED")
