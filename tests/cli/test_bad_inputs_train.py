"""``posecli train`` on bad inputs: the run directory's ownership, resume points, recipes,
components and data faults found before the first step. Each case: exit code, one stderr line,
the culprit named, and the user's files untouched."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from posecli import plugins
from posecli.hookspecs import hookimpl

from .conftest import assert_one_line, cli, corrupt_image, mouse_csv_copy


def tiny_recipe(tmp_path: Path, csv: Path | None = None, rows: int = 20, **train: object) -> Path:
    """A seconds-long recipe: the tiny test model on ``rows`` mouse frames (every 5th is val)."""
    from posecli.recipe import recipe_to_toml
    from posecli.recipe.loader import validate_recipe
    from tests.predict._tiny import tiny_recipe_dict

    if csv is None:
        csv = mouse_csv_copy(tmp_path / "data", lambda r: r.__delitem__(slice(3 + rows, None)))
    data = tiny_recipe_dict(64)
    data["model"]["backbone"].pop("pretrained", None)
    data["train"].update(epochs=1, val_interval=1, log_interval=1)
    data["train"]["schedule"][0]["iters"] = 2
    data["data"]["train"]["batch_size"] = 8
    data["data"]["train"]["cache_images"] = False
    data["train"].update(train)
    for split in ("train", "val"):
        data["data"][split]["dataset"]["ann_file"] = str(csv)
    path = tmp_path / "tiny.toml"
    path.write_text(recipe_to_toml(validate_recipe(data, "tiny")))
    return path


def _users_run(folder: Path, *, last: bool = False) -> dict[str, bytes]:
    folder.mkdir(parents=True)
    files = {"best.pt": b"60-epoch model", "recipe.toml": b"name = 'mine'\n", "train.log": b"x\n"}
    files["metrics.jsonl"] = b"{}\n"
    if last:
        files["last.pt"] = b"resumable"
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return files


def _unchanged(folder: Path, files: dict[str, bytes]) -> None:
    assert sorted(p.name for p in folder.iterdir()) == sorted(files)
    for name, data in files.items():
        assert (folder / name).read_bytes() == data


def test_a_users_run_directory_is_not_overwritten(tmp_path: Path) -> None:
    """Issue 14.1: best.pt, recipe.toml and logs but no last.pt: refused, nothing touched."""
    run_dir = tmp_path / "thatdir"
    files = _users_run(run_dir)
    run = cli("train", tiny_recipe(tmp_path), "--work-dir", run_dir)
    assert_one_line(run, 1, str(run_dir), "best.pt", "--force")
    _unchanged(run_dir, files)


def test_a_resumable_run_directory_points_to_resume(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    files = _users_run(run_dir, last=True)
    assert_one_line(cli("train", tiny_recipe(tmp_path), "-w", run_dir), 1, "last.pt", "--resume")
    _unchanged(run_dir, files)


def _checkpoint(path: Path, recipe: Path, *, epoch: int, optimizer: bool) -> Path:
    from posecli.api import build_model
    from posecli.engine.checkpoint import save_checkpoint
    from posecli.recipe import load_recipe

    r = load_recipe(recipe)
    model = build_model(r, pretrained=False)
    opt = torch.optim.SGD(model.parameters(), lr=0.1) if optimizer else None
    return save_checkpoint(path, model, r, epoch=epoch, optimizer=opt)


def test_resume_from_a_weights_only_checkpoint_is_refused(tmp_path: Path) -> None:
    """Issue 14.3: best.pt (no optimiser state) at epoch 60 does not 'succeed' untrained."""
    recipe = tiny_recipe(tmp_path)
    best = _checkpoint(tmp_path / "best.pt", recipe, epoch=60, optimizer=False)
    run = cli("train", recipe, "-w", tmp_path / "new", "--resume-from", best)
    assert_one_line(run, 1, "best.pt", "weights only", "model.pretrained")
    assert not (tmp_path / "new").exists()


def test_resume_with_no_epochs_left_is_refused(tmp_path: Path) -> None:
    recipe = tiny_recipe(tmp_path)
    last = _checkpoint(tmp_path / "run" / "last.pt", recipe, epoch=60, optimizer=True)
    run = cli("train", recipe, "-w", tmp_path / "run", "--resume")
    assert_one_line(run, 1, "last.pt", "already trained 60 epochs", "train.epochs")
    assert last.is_file()


CASES = {
    # case: (extra arguments, exit code, culprits)
    "--resume without last.pt": (["--resume"], 1, ["last.pt", "not found"]),
    "--force with --resume": (["--resume", "--force"], 2, ["--force", "--resume"]),
    "--set without =": (["--set", "train.epochs"], 1, ["train.epochs"]),
    "--set unknown key": (["--set", "train.epoch=3"], 1, ["train.epoch"]),
    "--set bad type": (["--set", "train.epochs='many'"], 1, ["train.epochs"]),
    "unknown backbone argument": (
        ["--set", "model.backbone.widen_factr=1.0"],
        1,
        ["model.backbone.widen_factr", "widen_factor"],
    ),
    "backbone argument of the wrong type": (
        ["--set", 'model.backbone.out_indices="abc"'],
        1,
        ["model.backbone", "cspnext", "plugin posecli"],
    ),
    "unknown optimiser": (["--set", "train.optimizer.name='adamx'"], 1, ["adamx"]),
    "unknown skeleton": (["--set", "data.skeleton='no_such_skeleton'"], 1, ["no_such_skeleton"]),
    "--device cuda without CUDA": (["--device", "cuda:7"], 1, ["cuda"]),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_arguments_leave_no_run_directory(case: str, tmp_path: Path) -> None:
    """A failed start writes nothing: no recipe.toml, no empty logs (issue 14.1)."""
    if case == "--device cuda without CUDA" and torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    args, code, culprits = CASES[case]
    run_dir = tmp_path / "run"
    assert_one_line(cli("train", tiny_recipe(tmp_path), "-w", run_dir, *args), code, *culprits)
    assert not run_dir.exists()


def test_missing_recipe(tmp_path: Path) -> None:
    assert_one_line(cli("train", tmp_path / "nope.toml"), 1, "nope.toml", "not found")


def test_a_broken_validation_image_stops_training_before_the_first_step(tmp_path: Path) -> None:
    """Issue 14.5: every image of train and val is checked first (img05 is a val frame)."""
    csv = mouse_csv_copy(tmp_path / "data", lambda r: r.__delitem__(slice(23, None)))
    corrupt_image(tmp_path / "data", "img05.png")
    run_dir = tmp_path / "run"
    run = cli("train", tiny_recipe(tmp_path, csv), "-w", run_dir)
    assert_one_line(run, 1, "data.val", "img05.png", "truncated PNG")
    assert not run_dir.exists()


class _Broken(torch.nn.Module):
    def __init__(self, **_: object) -> None:
        raise RuntimeError("weights server unreachable")


class _BrokenPlugin:
    @staticmethod
    @hookimpl
    def posecli_register_backbones(register):  # type: ignore[no-untyped-def]
        register("broken_backbone", _Broken, help="A backbone whose constructor raises.")


def test_a_plugin_component_raising_names_component_and_plugin(
    tmp_path: Path, fresh_plugins: plugins.PluginManager
) -> None:
    fresh_plugins.add_plugin(_BrokenPlugin(), "posecli-broken")
    run = cli(
        "train", tiny_recipe(tmp_path), "-w", tmp_path / "run", "--set",
        "model.backbone={name='broken_backbone'}",
    )  # fmt: skip
    assert_one_line(
        run, 1, "model.backbone", "broken_backbone", "posecli-broken", "weights server unreachable"
    )
