"""Every multi-instance family on the bundled fly clip (13 keypoints, 2 flies, SLEAP format):
the shipped COCO recipes of AE, CID, DEKR and RTMO retargeted to the clip with ``--set``,
trained a step, evaluated, predicting a frame without boxes, and exported."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from posecli.cli.app import create_app

REPO = Path(__file__).resolve().parents[2]
SLP = "examples/sleap-flies/clip.slp"


def _dataset(split: str) -> str:
    """The clip's split as a TOML inline table (frames 0–1199 train, 1200–1499 validate)."""
    return f'{{name = "sleap", ann_file = "{SLP}", split = "{split}", val_last = 300, mode = "bottomup"}}'


def _overrides(recipe: str) -> list[str]:
    size = "[128, 128]"  # a quarter of 256² (DEKR's deformable backward is slow)
    out = [
        'data.skeleton="sleap_fly13"',
        'data.root="."',
        f"data.train.dataset={_dataset('train')}",
        f"data.val.dataset={_dataset('val')}",
        "data.train.max_images=4",
        "data.val.max_images=2",
        "data.train.batch_size=2",
        "data.train.num_workers=0",
        "data.val.num_workers=0",
        "model.pretrained=[]",
        "train.epochs=1",
        f"codec.input_size={size}",
    ]
    if "rtmo" in recipe:
        out += ["train.pipeline_switch=null", "train.callbacks=[]"]
    else:
        out.append("codec.heatmap_size=[32, 32]")
    if "ae-" in recipe:  # COCO's grouping order names 17 keypoints: the default order
        out.append("codec.decode_keypoint_order=[]")
    if "dekr" in recipe:  # the rescore net is trained on COCO's 17-keypoint limbs
        out.append("model.head.rescore_cfg=null")
    return out


def _invoke(args: list[str]) -> str:
    result = CliRunner().invoke(create_app(), args)
    assert result.exit_code == 0, f"posecli {' '.join(args)}\n{result.output}"
    return result.stdout


@pytest.mark.slow
@pytest.mark.parametrize(
    "recipe",
    [
        "coco/ae-hrnet-w32.toml",
        "coco/cid-hrnet-w32.toml",
        "coco/dekr-hrnet-w32.toml",
        "coco/rtmo-s.toml",
    ],
)
def test_family_trains_evaluates_predicts_and_exports_on_the_fly_clip(
    recipe: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(REPO)
    work = tmp_path / "run"
    sets = [a for o in _overrides(recipe) for a in ("--set", o)]
    _invoke(["--quiet", "train", recipe, *sets, "--work-dir", str(work)])
    ckpt = work / "best.pt"
    assert ckpt.is_file()
    out = _invoke(["eval", str(ckpt), "--json"])
    values = json.loads(out[out.index("{") :])
    assert 0.0 <= values["coco/AP"] <= 1.0

    import cv2

    frame = tmp_path / "frame.png"
    cap = cv2.VideoCapture(str(REPO / "examples" / "sleap-flies" / "clip.mp4"))
    cv2.imwrite(str(frame), cap.read()[1])
    cap.release()
    pred = tmp_path / "pred"
    _invoke(["--quiet", "predict", str(frame), "--checkpoint", str(ckpt), "--out", str(pred)])
    frames = json.loads((pred / "predictions.json").read_text())["frames"]
    assert len(frames) == 1
    assert all(len(i["keypoints"]) == 13 for i in frames[0]["instances"])

    onnx = tmp_path / "m.onnx"
    args = ["--quiet", "export", str(ckpt), "--to", "onnx", "--out", str(onnx), "--check"]
    _invoke(args)
    assert onnx.is_file()
