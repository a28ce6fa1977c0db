"""The callback contract: building through the registry, firing events, errors naming the
culprit, per-keypoint errors and curves.png's per-keypoint panel."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import cv2
import numpy as np
import pytest
import torch

from posecli.engine.callbacks import (
    EVENTS,
    Callback,
    CallbackError,
    CallbackList,
    Validation,
    build_callback,
)
from posecli.engine.curves import draw_curves, latest_keypoint_errors
from posecli.engine.default_callbacks import builtin_tables, recipe_callbacks
from posecli.engine.metrics_log import MetricsLog, read_metrics
from posecli.engine.validation import image_to_input
from posecli.errors import BuildError, PoseCliError
from posecli.models.pose_model import to_image_space
from posecli.recipe.schema import Component


class Boom(Callback):
    def on_epoch_end(self, trainer: object) -> None:
        raise RuntimeError("disk full\nsecond line")


def test_a_raising_callback_becomes_one_line_naming_it() -> None:
    boom = Boom()
    boom.name = "boom"
    callbacks = CallbackList([Callback(), boom], checkpoint_note=lambda: "Last good: x/last.pt")
    with pytest.raises(CallbackError) as info:
        callbacks.fire("on_epoch_end", None)
    assert str(info.value) == (
        "callback 'boom' failed in on_epoch_end: RuntimeError: disk full; stopped. "
        "Last good: x/last.pt"
    )


def test_posecli_errors_pass_through_and_on_exception_never_raises() -> None:
    class Refuses(Callback):
        def on_train_start(self, trainer: object) -> None:
            raise PoseCliError("train.save_best = 'AP' is not a computed metric")

        def on_exception(self, trainer: object, exc: BaseException) -> None:
            raise RuntimeError("cleanup failed too")

    callbacks = CallbackList([Refuses()])
    with pytest.raises(PoseCliError, match="^train.save_best = 'AP'") as info:
        callbacks.fire("on_train_start", None)
    assert type(info.value) is PoseCliError
    callbacks.fire_exception(None, info.value)  # logged, not raised


def test_state_dicts_are_kept_by_name() -> None:
    class Counter(Callback):
        def __init__(self) -> None:
            self.n = 0

        def state_dict(self) -> dict[str, int]:
            return {"n": self.n} if self.n else {}

        def load_state_dict(self, state: dict[str, int]) -> None:
            self.n = state["n"]

    a, b = Counter(), Counter()
    a.name, b.name, a.n = "counter", "counter", 3
    assert CallbackList([a, Callback()]).state_dict() == {"counter": {"n": 3}}
    CallbackList([b]).load_state_dict({"counter": {"n": 3}, "gone": {"x": 1}})
    assert b.n == 3


def test_build_callback_through_the_registry() -> None:
    ema = build_callback({"name": "EMAHook", "momentum": 0.01})
    assert ema.name == "ema" and ema.momentum == 0.01
    with pytest.raises(BuildError, match=r"^train.callbacks.momentun: unknown argument"):
        build_callback({"name": "ema", "momentun": 0.01})
    with pytest.raises(BuildError, match=r"^train.callbacks.name: .*tensorbord"):
        build_callback({"name": "tensorbord"})


def test_a_misspelt_event_is_refused(fresh_plugins: object) -> None:
    from posecli.hookspecs import hookimpl

    class Typo(Callback):
        def on_epoch_ned(self, trainer: object) -> None: ...

    class Plugin:
        @staticmethod
        @hookimpl
        def posecli_register_callbacks(register):  # type: ignore[no-untyped-def]
            register("typo", Typo, help="misspelt event")

    fresh_plugins.add_plugin(Plugin, "typo-plugin")  # type: ignore[attr-defined]
    with pytest.raises(BuildError, match="has on_epoch_ned, which is not an event"):
        build_callback({"name": "typo"})
    assert EVENTS[0] == "on_train_start" and EVENTS[-1] == "on_exception"


def _trainer_stub(**train: object) -> SimpleNamespace:
    from posecli.recipe.schema import TrainSection

    return SimpleNamespace(cfg=TrainSection(epochs=3, **train), progress=False)


def test_builtins_follow_their_recipe_keys_and_cannot_be_named_again() -> None:
    stub = _trainer_stub(ema={"momentum": 0.02}, early_stopping={"patience": 2, "min_delta": 0.5})
    assert [t["name"] for t in builtin_tables(stub)] == [
        "ema",
        "metrics_log",
        "curves",
        "early_stopping",
        "checkpoint",
    ]
    tables = {t["name"]: t for t in builtin_tables(stub)}
    assert tables["checkpoint"]["min_delta"] == 0.5 and tables["early_stopping"]["patience"] == 2
    assert tables["ema"]["momentum"] == 0.02
    stub.cfg.callbacks = [Component(name="EMAHook")]
    with pytest.raises(BuildError) as info:
        recipe_callbacks(stub)  # type: ignore[arg-type]
    assert str(info.value) == "train.callbacks.0: 'ema' is a built-in callback, set by train.ema"


def _validation(pred: np.ndarray, gt: np.ndarray, visible: np.ndarray) -> Validation:
    n, k = visible.shape
    return Validation(
        epoch=1,
        values={},
        keypoints=pred,
        scores=np.ones((n, k), np.float32),
        gt_keypoints=gt,
        visible=visible,
        crops=np.zeros((0, 1, 1, 3), np.uint8),
        crop_keypoints=np.zeros((0, k, 2), np.float32),
        crop_scores=np.zeros((0, k), np.float32),
    )


def test_keypoint_errors_average_labelled_instances_only() -> None:
    gt = np.zeros((2, 3, 2), np.float32)
    pred = gt.copy()
    pred[0, 0] = (3, 4)  # 5 px
    pred[1, 0] = (6, 8)  # 10 px
    pred[1, 1] = (30, 40)  # 50 px but unlabelled
    visible = np.array([[1, 0, 0], [1, 0, 1]], np.float32)
    errors = _validation(pred, gt, visible).keypoint_errors()
    assert errors[0] == pytest.approx(7.5) and np.isnan(errors[1]) and errors[2] == 0.0


def test_image_to_input_inverts_to_image_space() -> None:
    rng = np.random.default_rng(0)
    kp_in = rng.uniform(0, 112, (4, 17, 2)).astype(np.float32)
    center = rng.uniform(100, 300, (4, 2)).astype(np.float32)
    scale = rng.uniform(50, 200, (4, 2)).astype(np.float32)
    kp_img = to_image_space(
        torch.from_numpy(kp_in), 112, 96, torch.from_numpy(center), torch.from_numpy(scale)
    ).numpy()
    np.testing.assert_allclose(image_to_input(kp_img, center, scale, (112, 96)), kp_in, atol=1e-3)


def test_curves_show_the_latest_keypoint_errors(tmp_path: Path) -> None:
    path = tmp_path / "metrics.jsonl"
    with MetricsLog(path) as log:
        for epoch, scale in ((1, 2.0), (2, 1.0)):
            log.write({"type": "epoch", "epoch": epoch, "step": 6 * epoch, "loss": 1.0 / epoch})
            errors = {"nose": 4.0 * scale, "tail": 20.0 * scale, "paw": float("nan")}
            log.write(
                {"type": "val", "epoch": epoch, "EPE": 8.0 * scale, "keypoint_errors": errors}
            )
    records = read_metrics(path)
    assert json.loads(path.read_text().splitlines()[-1])["keypoint_errors"]["paw"] is None
    assert latest_keypoint_errors(records) == (2, {"nose": 4.0, "tail": 20.0, "paw": None})
    with_bars = cv2.imread(str(draw_curves(path)))
    records[-1].pop("keypoint_errors")
    records[1].pop("keypoint_errors")
    plain = tmp_path / "plain.jsonl"
    with MetricsLog(plain) as log:
        for rec in records:
            log.write(rec)
    without = cv2.imread(str(draw_curves(plain)))
    assert with_bars.shape[1] == without.shape[1] and with_bars.shape[0] > without.shape[0] + 300
    bars = with_bars[without.shape[0] :]
    red = np.all(np.abs(bars.astype(int) - [40, 39, 214]) < 30, axis=2)  # the worst keypoints
    assert red.sum() > 500
