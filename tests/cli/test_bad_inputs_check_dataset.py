"""``posecli check-dataset`` on bad inputs: each case exits non-zero with the culprit named.

Files a reader cannot use are one ``Error:`` line on stderr; data it reads but no run should
use are listed in the report (stdout), exit 1 — the same validation ``train`` and ``eval`` run.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .conftest import COCO_MINI, MOUSE_CSV, assert_one_line, cli, corrupt_image, mouse_csv_copy


def _coco_with(tmp_path: Path, edit) -> Path:
    data = json.loads(COCO_MINI.read_text())
    edit(data)
    out = tmp_path / "ann.json"
    out.write_text(json.dumps(data))
    (tmp_path / "images").symlink_to(COCO_MINI.parent / "images")
    return out


def _set_cell(row: int, col: int, value: str):
    def edit(rows: list[list[str]]) -> None:
        rows[row][col] = value

    return edit


def _drop_column(col: int):
    def edit(rows: list[list[str]]) -> None:
        for r in rows:
            del r[col]

    return edit


def _rename_bodypart(col: int, name: str):
    def edit(rows: list[list[str]]) -> None:
        rows[1][col] = rows[1][col + 1] = name

    return edit


def _duplicate_row(rows: list[list[str]]) -> None:
    rows.append(list(rows[5]))


def _header_only(rows: list[list[str]]) -> None:
    del rows[3:]


ONE_LINE = {
    # case: (make file, exit code, culprits)
    "missing file": (lambda t: t / "nope.csv", 1, ["nope.csv", "not found"]),
    "unknown suffix": (
        lambda t: (t / "labels.txt").write_text("x") and t / "labels.txt",
        1,
        ["labels.txt", "--from"],
    ),
    "binary yolo yaml": (
        lambda t: (t / "data.yaml").write_bytes(b"\x80\x02\xff\xfe" * 64) and t / "data.yaml",
        1,
        ["data.yaml", "binary"],
    ),
    "DLC y column missing": (
        lambda t: mouse_csv_copy(t, _drop_column(2)),
        1,
        ["CollectedData.csv", "paw1LH_top", "no y"],
    ),
    "DLC duplicate body part": (
        lambda t: mouse_csv_copy(t, _rename_bodypart(3, "paw1LH_top")),
        1,
        ["CollectedData.csv", "paw1LH_top", "unique"],
    ),
    "DLC inf coordinate": (
        lambda t: mouse_csv_copy(t, _set_cell(4, 1, "inf")),
        1,
        ["CollectedData.csv", "img02.png", "inf", "finite"],
    ),
    "DLC text coordinate": (
        lambda t: mouse_csv_copy(t, _set_cell(4, 1, "abc")),
        1,
        ["CollectedData.csv", "'abc'"],
    ),
    "COCO annotation without keypoints": (
        lambda t: _coco_with(t, lambda d: d["annotations"][0].pop("keypoints")),
        1,
        ["ann.json", "has no 'keypoints'"],
    ),
    "COCO wrong keypoint count": (
        lambda t: _coco_with(t, lambda d: d["annotations"][0].update(keypoints=[1, 2, 2])),
        1,
        ["ann.json", "3 keypoint values", "expected"],
    ),
    "COCO unknown image id": (
        lambda t: _coco_with(t, lambda d: d["annotations"][0].update(image_id=999999)),
        1,
        ["ann.json", "unknown image_id 999999"],
    ),
    "not a COCO file": (
        lambda t: (t / "x.json").write_text('{"a": 1}') and t / "x.json",
        1,
        ["x.json", "not a COCO annotation file"],
    ),
}


@pytest.mark.parametrize("case", sorted(ONE_LINE))
def test_unreadable_input_is_one_line(case: str, tmp_path: Path) -> None:
    make, code, culprits = ONE_LINE[case]
    assert_one_line(cli("check-dataset", make(tmp_path)), code, *culprits)


def test_unknown_format_is_one_line(tmp_path: Path) -> None:
    assert_one_line(cli("check-dataset", MOUSE_CSV, "--from", "dlcc"), 1, "'dlcc'", "dlc")


REPORTED = {
    "COCO visibility 7": (
        lambda t: _coco_with(t, lambda d: d["annotations"][0]["keypoints"].__setitem__(2, 7)),
        ["visibility values other than 0/1/2", "v=7"],
    ),
    "DLC duplicated row": (
        lambda t: mouse_csv_copy(t, _duplicate_row),
        ["duplicate image files", "img03.png"],
    ),
    "header-only CSV": (lambda t: mouse_csv_copy(t, _header_only), ["no images"]),
    "keypoint outside the image": (
        lambda t: mouse_csv_copy(t, _set_cell(4, 1, "5000")),
        ["outside their image", "paw1LH_top"],
    ),
    "truncated image": (
        lambda t: (mouse_csv_copy(t), corrupt_image(t))[0],
        ["unreadable images", "img05.png", "truncated PNG"],
    ),
    "missing image": (
        lambda t: (mouse_csv_copy(t), (t / "labeled-data" / "img07.png").unlink())[0],
        ["missing images", "img07.png"],
    ),
}


@pytest.mark.parametrize("case", sorted(REPORTED))
def test_faulty_data_is_reported(case: str, tmp_path: Path) -> None:
    make, culprits = REPORTED[case]
    run = cli("check-dataset", make(tmp_path), "--json")
    assert run.code == 1, run.stdout + run.stderr
    report = json.loads(run.stdout)
    assert not report["ok"]
    joined = " | ".join(report["errors"])
    for culprit in culprits:
        assert culprit in joined, (culprit, joined)


def test_good_data_passes() -> None:
    run = cli("check-dataset", MOUSE_CSV, "--json")
    assert run.code == 0 and json.loads(run.stdout)["ok"], run.stdout
