"""``posecli visualize dataset|predictions``, ``visualize-heatmap`` and
``finalize-predictions`` on bad inputs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .conftest import IMAGE, REPO, VIDEO, assert_one_line, cli

RECIPE = REPO / "recipes" / "rtmpose.toml"

DATASET_CASES = {
    "unknown split": (["--split", "bogus"], 2, ["--split", "train, val or test"]),
    "missing recipe": (["--n", "1"], 1, ["none.toml"]),
    "unknown --set key": (["--set", "data.train.batch=3"], 1, ["data.train.batch"]),
}


@pytest.mark.parametrize("case", sorted(DATASET_CASES))
def test_visualize_dataset(case: str, tmp_path: Path, in_repo: Path) -> None:
    args, code, culprits = DATASET_CASES[case]
    recipe = tmp_path / "none.toml" if case == "missing recipe" else RECIPE
    run = cli("visualize", "dataset", recipe, "-o", tmp_path / "vis", *args)
    assert_one_line(run, code, *culprits)


def _predictions(tmp_path: Path, tiny_ckpt: Path) -> Path:
    out = tmp_path / "pred"
    run = cli("-q", "predict", IMAGE, "-c", tiny_ckpt, "--backend", "torch", "-o", out)
    assert run.code == 0, run.stderr
    return out / "predictions.json"


def test_visualize_predictions(tmp_path: Path, tiny_ckpt: Path) -> None:
    pred = _predictions(tmp_path, tiny_ckpt)
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "other"}')
    cases = [
        (["visualize", "predictions", tmp_path / "none.json", "--source", IMAGE, "-o", "x.png"],
         1, ["none.json"]),
        (["visualize", "predictions", bad, "--source", IMAGE, "-o", tmp_path / "x.png"],
         1, ["bad.json"]),
        (["visualize", "predictions", pred, "--source", IMAGE], 2, ["--out"]),
        (["visualize", "predictions", pred, "--source", IMAGE, "-o", pred], 1, ["predictions.json"]),
    ]  # fmt: skip
    for args, code, culprits in cases:
        assert_one_line(cli(*args), code, *culprits)


def test_drawing_on_another_source_warns(tmp_path: Path, tiny_ckpt: Path) -> None:
    """Issue 14.10: predictions of an image drawn onto a video say so."""
    import warnings

    pred = _predictions(tmp_path, tiny_ckpt)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        cli("visualize", "predictions", pred, "--source", VIDEO, "-o", tmp_path / "v.mp4")
    assert any("img01.png" in str(w.message) and "test_vid.mp4" in str(w.message) for w in caught)


HEATMAP_CASES = {
    "bad --bbox": (["--bbox", "1,2,3"], 2, ["--bbox", "x1,y1,x2,y2"]),
    "missing image": (["--image", "{t}/none.png"], 1, ["none.png"]),
    "missing checkpoint": (["-c", "{t}/none.pt"], 1, ["none.pt"]),
    "existing --out": (["-o", "{t}/exists.png"], 1, ["exists.png", "--force"]),
    "--out under a file": (["-o", "{t}/afile/h.png"], 1, ["afile"]),
    "unknown image format": (["-o", "{t}/h.xyz"], 1, ["h.xyz", ".png"]),
}


@pytest.mark.parametrize("case", sorted(HEATMAP_CASES))
def test_visualize_heatmap(case: str, tmp_path: Path, tiny_ckpt: Path) -> None:
    """Issue 14.7: an output that cannot be written names the reason, not the format."""
    (tmp_path / "exists.png").write_bytes(b"x")
    (tmp_path / "afile").write_text("x")
    opts = {"--image": str(IMAGE), "-c": str(tiny_ckpt), "-o": str(tmp_path / "h.png")}
    args, code, culprits = HEATMAP_CASES[case]
    args = [a.format(t=tmp_path) for a in args]
    extra = []
    for i in range(0, len(args), 2):
        if args[i] in opts:
            opts[args[i]] = args[i + 1]
        else:
            extra += args[i : i + 2]
    image = opts.pop("--image")
    flat = [v for kv in opts.items() for v in kv]
    assert_one_line(cli("visualize-heatmap", image, *flat, *extra), code, *culprits)


def test_tiny_image_warns(tmp_path: Path, tiny_ckpt: Path) -> None:
    import warnings

    import cv2
    import numpy as np

    small = tmp_path / "one.png"
    cv2.imwrite(str(small), np.zeros((1, 1, 3), np.uint8))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        run = cli("visualize-heatmap", small, "-c", tiny_ckpt, "-o", tmp_path / "h.png")
    assert run.code == 0, run.stderr
    assert any("1×1" in str(w.message) for w in caught)


def test_finalize_predictions(tmp_path: Path) -> None:
    """A hard-killed predict's partial file becomes predictions.json (incomplete)."""
    partial = tmp_path / "predictions.json.partial.jsonl"
    header = {"header": {"format": "posecli-predictions", "version": 1, "source": "v.mp4"}}
    frame = {"frame": 0, "time_s": 0.0, "instances": []}
    partial.write_text(json.dumps(header) + "\n" + json.dumps(frame) + "\n" + '{"frame": 1, "ti')
    run = cli("finalize-predictions", partial)
    assert run.code == 0, run.stderr
    doc = json.loads((tmp_path / "predictions.json").read_text())
    assert doc["complete"] is False and [f["frame"] for f in doc["frames"]] == [0]
    assert not partial.exists()
    assert_one_line(cli("finalize-predictions", partial), 1, "partial.jsonl", "no such file")
    other = tmp_path / "x.json"
    other.write_text("{}")
    assert_one_line(cli("finalize-predictions", other), 1, "x.json", "*.partial.jsonl")
    bad = tmp_path / "p.json.partial.jsonl"
    bad.write_text("hello\n")
    assert_one_line(cli("finalize-predictions", bad), 1, "p.json.partial.jsonl", "header")
