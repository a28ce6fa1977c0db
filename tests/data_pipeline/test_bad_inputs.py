"""Bad inputs give one-line DataErrors naming the file and the record."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from posecli.data.converters.coco import read_coco
from posecli.data.io import read_image
from posecli.data.metainfo import load_skeleton
from posecli.data.transforms import LoadImage
from posecli.errors import DataError

from .conftest import COCO_MINI


def _coco(tmp_path: Path, edit) -> Path:
    data = json.loads(COCO_MINI.read_text())
    edit(data)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data))
    return path


def _one_line(exc: pytest.ExceptionInfo) -> str:
    text = str(exc.value)
    assert "\n" not in text
    return text


def test_missing_image(tmp_path: Path) -> None:
    with pytest.raises(DataError) as exc:
        LoadImage()({"img_path": str(tmp_path / "nope.jpg"), "img_id": 7}, np.random.default_rng(0))
    assert "nope.jpg: image id=7: image file not found" in _one_line(exc)


def test_truncated_jpeg(tmp_path: Path) -> None:
    src = COCO_MINI.parent / "images" / "000000000785.jpg"
    bad = tmp_path / "cut.jpg"
    bad.write_bytes(src.read_bytes()[:20000])
    with pytest.raises(DataError) as exc:
        read_image(bad, record="image id=785")
    assert "cut.jpg: image id=785: truncated JPEG" in _one_line(exc)


def test_garbage_image(tmp_path: Path) -> None:
    bad = tmp_path / "x.png"
    bad.write_bytes(b"not an image at all")
    with pytest.raises(DataError, match="x.png: cannot decode image"):
        read_image(bad)


def test_wrong_keypoint_count(tmp_path: Path) -> None:
    path = _coco(
        tmp_path,
        lambda d: d["annotations"][0].update(keypoints=d["annotations"][0]["keypoints"][:-3]),
    )
    with pytest.raises(DataError) as exc:
        read_coco(path)
    assert "bad.json: annotation id=" in _one_line(exc) and "expected 3×17=51" in str(exc.value)


def test_nan_keypoint(tmp_path: Path) -> None:
    def edit(d: dict) -> None:
        kp = d["annotations"][0]["keypoints"]
        j = next(i for i in range(0, len(kp), 3) if kp[i + 2] > 0)
        kp[j] = float("nan")

    with pytest.raises(DataError) as exc:
        read_coco(_coco(tmp_path, edit))
    assert "is labelled but not a finite number" in _one_line(
        exc
    ) and "bad.json: instance id=" in str(exc.value)


def test_negative_box(tmp_path: Path) -> None:
    path = _coco(tmp_path, lambda d: d["annotations"][0].update(bbox=[10, 10, -5, 20]))
    with pytest.raises(DataError) as exc:
        read_coco(path)
    assert "negative box size" in _one_line(exc) and "bad.json" in str(exc.value)


def test_unknown_skeleton_name() -> None:
    with pytest.raises(DataError) as exc:
        load_skeleton("mirror_mose")
    assert "did you mean 'mirror_mouse'" in _one_line(exc)


def test_check_dataset_reports_missing_and_corrupt_images(tmp_path: Path) -> None:
    from posecli.data.check import check_dataset

    shutil.copy(COCO_MINI, tmp_path / "ann.json")
    (tmp_path / "images").mkdir()
    report = check_dataset(tmp_path / "ann.json", "coco")
    assert not report["ok"] and report["errors"][0].startswith("missing images: 1")
    src = COCO_MINI.parent / "images" / "000000000785.jpg"
    (tmp_path / "images" / src.name).write_bytes(src.read_bytes()[:5000])
    report = check_dataset(tmp_path / "ann.json", "coco")
    assert "truncated JPEG" in report["errors"][0]


def test_truncated_json_names_the_file_and_restores_the_collector(tmp_path: Path) -> None:
    import gc

    path = tmp_path / "cut.json"
    path.write_text(COCO_MINI.read_text()[:500])
    assert gc.isenabled()
    with pytest.raises(DataError) as exc:
        read_coco(path)
    assert _one_line(exc).startswith(f"{path}: cannot read JSON")
    assert gc.isenabled()  # the reader pauses it while parsing, and must give it back
    assert read_coco(COCO_MINI).num_instances > 0 and gc.isenabled()
