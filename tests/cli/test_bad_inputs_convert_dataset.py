"""``posecli convert-dataset`` on bad inputs, and ``--force`` replacing a YOLO folder whole."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import MOUSE_CSV, assert_one_line, cli

CASES = {
    # case: (arguments after the source, exit code, culprits)
    "unknown --to": (["--to", "cocco", "-o", "{t}/x.json"], 1, ["'cocco'", "coco"]),
    "format that cannot be written": (["--to", "mpii", "-o", "{t}/x.json"], 1, ["'mpii'"]),
    "--val-fraction out of range": (
        ["--to", "coco", "-o", "{t}/x.json", "--val-fraction", "1.5"],
        2,
        ["--val-fraction"],
    ),
    "wrong --from for the file": (
        ["--from", "coco", "--to", "yolo", "-o", "{t}/y"],
        1,
        ["CollectedData.csv"],
    ),
    "bad --bbox-from": (
        ["--to", "coco", "-o", "{t}/x.json", "--bbox-from", "box"],
        1,
        ["CollectedData.csv", "'box'"],
    ),
    "no --out": (["--to", "coco"], 2, ["--out"]),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_arguments(case: str, tmp_path: Path) -> None:
    args, code, culprits = CASES[case]
    run = cli("convert-dataset", MOUSE_CSV, *[a.format(t=tmp_path) for a in args])
    assert_one_line(run, code, *culprits)


def test_missing_source(tmp_path: Path) -> None:
    run = cli("convert-dataset", tmp_path / "none.csv", "--to", "coco", "-o", tmp_path / "x.json")
    assert_one_line(run, 1, "none.csv")


def test_existing_outputs_are_refused_without_force(tmp_path: Path) -> None:
    (tmp_path / "x.json").write_text("{}")
    assert_one_line(
        cli("convert-dataset", MOUSE_CSV, "--to", "coco", "-o", tmp_path / "x.json"),
        1,
        "x.json",
        "--force",
    )
    (tmp_path / "y").mkdir()
    (tmp_path / "y" / "mine.txt").write_text("user file")
    assert_one_line(
        cli("convert-dataset", MOUSE_CSV, "--to", "yolo", "-o", tmp_path / "y"),
        1,
        "y",
        "mine.txt",
        "--force",
    )
    assert (tmp_path / "y" / "mine.txt").read_text() == "user file"


def test_force_replaces_the_whole_yolo_folder(tmp_path: Path) -> None:
    """Issue 14.2: a second conversion with a split and --force leaves no stale labels."""
    out = tmp_path / "y"
    assert cli("convert-dataset", MOUSE_CSV, "--to", "yolo", "-o", out).code == 0
    assert len(list((out / "labels" / "train").iterdir())) == 90
    run = cli(
        "convert-dataset", MOUSE_CSV, "--to", "yolo", "-o", out, "--val-fraction", "0.2", "--force"
    )
    assert run.code == 0, run.stderr
    train = {p.name for p in (out / "labels" / "train").iterdir()}
    val = {p.name for p in (out / "labels" / "val").iterdir()}
    assert (len(train), len(val)) == (72, 18) and not train & val
    assert str(out.resolve()) in (out / "data.yaml").read_text()  # not the temporary sibling
    assert [p.name for p in tmp_path.iterdir()] == ["y"]  # no temporary sibling left
    check = cli("check-dataset", out / "data.yaml", "--json")
    assert check.code == 0, check.stdout
