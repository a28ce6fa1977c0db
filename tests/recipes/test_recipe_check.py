"""The whole-recipe check (``posecli.recipe.check``): built components, agreed geometry,
``save_best`` against the metrics' names, derived head arguments, schedules of short runs."""

from __future__ import annotations

import logging

import pytest
from typer.testing import CliRunner

from posecli.api import derive_head_arguments
from posecli.cli.app import create_app
from posecli.engine.schedules import compile_phases
from posecli.errors import RecipeError
from posecli.recipe import load_recipe, shipped_recipes
from posecli.recipe.check import check_recipe


@pytest.mark.parametrize("name", ["rtmpose.toml", "coco/rtmpose-t.toml", "coco/simcc-res50.toml"])
def test_shipped_recipe_passes(name: str) -> None:
    check_recipe(load_recipe(name), name)


@pytest.mark.parametrize(
    ("override", "message"),
    [
        (
            "model.head.input_size=[100, 100]",
            "model.head.input_size = [100, 100] but codec.input_size = [192, 256]",
        ),
        (
            "model.head.simcc_split_ratio=3.0",
            "model.head.simcc_split_ratio = 3 but codec.simcc_split_ratio = 2",
        ),
        (
            "model.head.in_featuremap_size=[8, 6]",
            "model.head.in_featuremap_size = [8, 6] but the backbone and neck give [6, 8]",
        ),
        (
            "model.head.in_channels=100",
            "model.head.in_channels = 100 but the backbone and neck give 384",
        ),
        (
            "data.val.pipeline.2.input_size=[256, 256]",
            "data.val.pipeline.2.input_size = [256, 256] but codec.input_size = [192, 256]",
        ),
        (
            "train.save_best=AP",
            "train.save_best = 'AP' is not reported by eval.metrics (they report coco/AP,",
        ),
        (
            "eval.metrics.0.use_aera=true",
            "eval.metrics[0].use_aera: unknown argument of metric 'coco_ap'; did you mean use_area?",
        ),
        (
            "eval.metrics.0.name=cocoap",
            "eval.metrics[0].name: unknown metric 'cocoap'; did you mean",
        ),
        ("codec.sigma=[5.0, 3.0, 1.0]", "codec"),
        ("train.optimizer.name=adamx", "train.optimizer"),
        ("data.skeleton=cocoo", "data.skeleton: unknown skeleton 'cocoo'"),
    ],
)
def test_conflicts_name_both_paths(override: str, message: str) -> None:
    recipe = load_recipe("coco/rtmpose-t.toml", [override])
    with pytest.raises(RecipeError) as info:
        check_recipe(recipe, "coco/rtmpose-t.toml")
    text = str(info.value)
    assert text.startswith("coco/rtmpose-t.toml: ")
    assert message in text
    assert "\n" not in text


def test_recipe_show_runs_the_whole_check() -> None:
    app = create_app()
    result = CliRunner().invoke(
        app, ["recipe", "show", "coco/rtmpose-t.toml", "--set", "train.save_best=AP"]
    )
    assert result.exit_code == 1
    assert "train.save_best = 'AP' is not reported" in result.output
    assert CliRunner().invoke(app, ["recipe", "show", "coco/rtmpose-m.toml"]).exit_code == 0


def test_head_arguments_are_derived_as_mmpose_writes_them() -> None:
    """The values MMPose's RTMPose-t config spells out, derived from codec and backbone."""
    from posecli.api import build_model

    recipe = load_recipe("coco/rtmpose-t.toml")
    model = build_model(recipe, pretrained=False)
    cfg = derive_head_arguments(
        recipe.model.head.as_dict(), recipe.codec.kwargs, model.backbone, None, recipe.input_size
    )
    assert cfg["in_channels"] == 384
    assert cfg["in_featuremap_size"] == [6, 8]
    assert cfg["input_size"] == [192, 256]
    assert cfg["simcc_split_ratio"] == 2.0
    mouse = load_recipe("rtmpose.toml")
    m = build_model(mouse, pretrained=False)
    cfg = derive_head_arguments(
        mouse.model.head.as_dict(), mouse.codec.kwargs, m.backbone, m.neck, mouse.input_size
    )
    assert (cfg["in_channels"], cfg["in_featuremap_size"]) == (1432, [28, 28])


def test_every_shipped_recipe_is_listed() -> None:
    names = shipped_recipes()
    assert "rtmpose.toml" in names and "coco/rtmpose-m.toml" in names


def test_short_run_clips_schedule_with_one_warning(caplog: pytest.LogCaptureFixture) -> None:
    tables = [
        {"name": "linear_warmup", "iters": 500, "start_factor": 0.001},
        {"name": "step", "milestones": [170, 200], "gamma": 0.1},
    ]
    with caplog.at_level(logging.WARNING, logger="posecli"):
        phases = compile_phases(tables, iters_per_epoch=6, total_iters=6)
    assert [(p.kind, p.start, p.end) for p in phases] == [("linear_warmup", 0, 6)]
    lines = [r.getMessage() for r in caplog.records]
    assert lines == [
        "train.schedule: clipped to the run's 6 iterations: [0] linear_warmup ends at 6 "
        "instead of 500; [1] step dropped"
    ]
    # the full-length run is untouched and a schedule that really ends before it starts fails
    full = compile_phases(tables, iters_per_epoch=6, total_iters=6 * 210)
    assert [(p.start, p.end) for p in full] == [(0, 500), (500, 1260)]
    with pytest.raises(Exception, match=r"train.schedule\[1\]: ends at iteration 60"):
        compile_phases(
            [{"name": "linear_warmup", "iters": 500}, {"name": "flat", "end_epoch": 10}], 6, 6000
        )
