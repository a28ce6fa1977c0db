"""Every shipped recipe runs end to end on real data in its own format.

For each ``posecli/recipes/**/*.toml``: train one epoch with tiny overrides (no pretrained
download), validate, ``posecli eval`` the checkpoint (COCO AP with the detected boxes of the
recipe's validation split and with ground-truth boxes), predict one image from the checkpoint,
export to ONNX with ``--check`` and predict the image again from the exported file. A recipe added without an entry in :data:`RUNS` fails
:func:`test_every_shipped_recipe_is_covered`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from typer.testing import CliRunner

from posecli.cli.app import create_app
from posecli.recipe import load_recipe, shipped_recipes

REPO = Path(__file__).resolve().parents[2]
MOUSE = REPO / "examples" / "mirror-mouse"


@dataclass(frozen=True)
class RecipeRun:
    """How one recipe is run on its data: ``overrides(data_root)`` and the checks after."""

    overrides: Callable[[Path], list[str]]
    data: str  # fixture name giving the data root: "coco_root" or "" (bundled example)
    metric: str  # a value the eval must print
    predict_source: Callable[[Path], list[str]] = field(default=lambda root: [])


def _coco(root: Path) -> list[str]:
    return [
        f"data.root={json.dumps(str(root))}",
        "model.pretrained=[]",
        "train.epochs=1",
        "data.train.batch_size=4",
        "data.train.num_workers=0",
        "data.val.batch_size=64",
        "data.val.num_workers=0",
        "data.val.dataset.det_score_thr=0.3",
    ]


def _coco_predict(root: Path) -> list[str]:
    det = root / "person_detection_results" / "COCO_val2017_detections_AP_H_56_person.json"
    return [str(root / "val2017" / "000000196141.jpg"), "--bbox-file", str(det)]


def _mouse(root: Path) -> list[str]:
    return ["train.epochs=1", "train.val_interval=1", "data.val.batch_size=18"]


def _mouse_predict(root: Path) -> list[str]:
    return [str(MOUSE / "labeled-data" / "img05.png"), "--bbox", "whole"]


COCO_RUN = RecipeRun(_coco, "coco_root", "coco/AP", _coco_predict)


def _small_input(name: str) -> list[str]:
    """96×128 crops instead of 192×256 (a quarter of the compute): the head, the pipelines and
    the export follow the codec (their geometry is derived), heatmaps stay at stride 4."""
    codec = load_recipe(name).codec.kwargs
    small = ["codec.input_size=[96, 128]"]
    if "heatmap_size" in codec:
        small.append("codec.heatmap_size=[24, 32]")
    return small


def _mmpose_fixture(name: str) -> Callable[[Path], list[str]]:
    """The whole-body/face/hand recipes on MMPose's fixtures (tests/data/mmpose-tests)."""
    from tests.data_pipeline.test_mmpose_recipes import COMMON, FIXTURE_OVERRIDES

    return lambda root: [*COMMON, *FIXTURE_OVERRIDES[name]]


def _image(path: str) -> Callable[[Path], list[str]]:
    return lambda root: [str(REPO / "tests" / "data" / "mmpose-tests" / path), "--bbox", "whole"]


_WB_IMAGE = _image("coco/000000196141.jpg")

#: A few frames of the bundled fly clip: the fly recipes run on their own example data.
_FLY_QUICK = [
    "train.epochs=1",
    "data.train.max_images=6",
    "data.val.max_images=3",
    "data.train.batch_size=4",
]


def _fly_frame(root: Path) -> list[str]:
    """The clip's first frame as a PNG (predict on one image, boxes from the detector)."""
    import tempfile

    import cv2

    path = Path(tempfile.gettempdir()) / f"posecli-test-fly-frame0-{os.getpid()}.png"
    if not path.is_file():
        cap = cv2.VideoCapture(str(REPO / "examples" / "sleap-flies" / "clip.mp4"))
        cv2.imwrite(str(path), cap.read()[1])
        cap.release()
    return [str(path)]


def _whole_image_run(heatmaps: bool) -> RecipeRun:
    """A bottom-up / one-stage COCO recipe at 128² (heatmaps at 32² when it has them; RTMO's
    per-batch random sizes in 96–160 instead of 480–800): a sixteenth of the compute of 512²;
    predict on an image without boxes."""
    sizes = (
        ["codec.input_size=[128, 128]", "codec.heatmap_size=[32, 32]"]
        if heatmaps
        else ["codec.input_size=[128, 128]", "train.callbacks.1.random_size_range=[96, 160]"]
    )
    return RecipeRun(
        lambda root: [
            f"data.root={json.dumps(str(root))}",
            "model.pretrained=[]",
            "train.epochs=1",
            *sizes,
            "data.train.batch_size=2",
            "data.train.num_workers=0",
            "data.val.num_workers=0",
        ],
        "coco_root",
        "coco/AP",
        lambda root: [str(root / "val2017" / "000000196141.jpg")],
    )


#: Every shipped recipe and how it runs; a new recipe needs an entry.
RUNS: dict[str, RecipeRun] = {
    "rtmpose.toml": RecipeRun(_mouse, "", "EPE", _mouse_predict),
    **{
        f"coco/{name}.toml": COCO_RUN
        for name in (
            "hrnet-w32",
            "hrnet-w32-dark",
            "hrnet-w32-udp",
            "res50",
            "rle-res50",
            "simcc-res50",
            "rtmpose-t",
            "rtmpose-s",
            "rtmpose-m",
            "rtmpose-l",
        )
    },
    "wholebody/rtmpose-m.toml": RecipeRun(
        _mmpose_fixture("wholebody/rtmpose-m.toml"), "", "coco-wholebody/AP", _WB_IMAGE
    ),
    "wholebody/rtmw-m.toml": RecipeRun(
        _mmpose_fixture("wholebody/rtmw-m.toml"), "", "coco-wholebody/AP", _WB_IMAGE
    ),
    "face/rtmpose-m.toml": RecipeRun(
        _mmpose_fixture("face/rtmpose-m.toml"),
        "",
        "NME",
        _image("wflw/7_Cheering_Cheering_7_16.jpg"),
    ),
    "hand/rtmpose-m.toml": RecipeRun(_mmpose_fixture("hand/rtmpose-m.toml"), "", "AUC", _WB_IMAGE),
    **{  # bottom-up: whole images at 256², no boxes for predict
        f"coco/{name}.toml": _whole_image_run(heatmaps=True)
        for name in ("ae-hrnet-w32", "dekr-hrnet-w32", "cid-hrnet-w32")
    },
    **{  # one-stage RTMO: whole images at 256², its own boxes and scores
        f"coco/{name}.toml": _whole_image_run(heatmaps=False)
        for name in ("rtmo-s", "rtmo-m", "rtmo-l")
    },
    "flies.toml": RecipeRun(  # both stages: the centred-instance model, then its detector
        lambda root: [*_FLY_QUICK, f"detector.set={json.dumps(_FLY_QUICK)}"],
        "",
        "match/recall",
        _fly_frame,
    ),
    "flies-centroid.toml": RecipeRun(lambda root: _FLY_QUICK, "", "match/recall", _fly_frame),
}


#: 2D→3D lifting recipes (keypoint sequences in) run end to end in tests/lifting/test_recipes.py.
LIFTING = {
    f"h36m/{n}.toml"
    for n in ("simplebaseline3d", "videopose3d-27", "videopose3d-243", "motionbert")
}


def test_every_shipped_recipe_is_covered() -> None:
    missing = sorted(set(shipped_recipes()) - set(RUNS) - LIFTING)
    assert not missing, f"add these recipes to RUNS in {Path(__file__).name}: {missing}"
    assert not sorted(set(RUNS) - set(shipped_recipes())), "RUNS names recipes that do not exist"


def _invoke(args: list[str]) -> str:
    result = CliRunner().invoke(create_app(), args)
    assert result.exit_code == 0, f"posecli {' '.join(args)}\n{result.output}"
    return result.stdout  # warnings and logs go to stderr


def _eval_json(args: list[str]) -> dict[str, float]:
    out = _invoke(["eval", *args, "--json"])
    return json.loads(out[out.index("{") :])


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(RUNS))
def test_recipe_end_to_end(
    name: str, tmp_path: Path, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = RUNS[name]
    root = request.getfixturevalue(run.data) if run.data else REPO
    monkeypatch.chdir(REPO)  # the mouse recipe's data paths are relative to the clone
    work = tmp_path / "run"
    overrides = run.overrides(root) + (_small_input(name) if run is COCO_RUN else [])
    sets = [a for o in overrides for a in ("--set", o)]
    train = ["train", name, *sets, "--work-dir", str(work)]
    if name == "coco/rtmpose-t.toml":  # one recipe through a real process, as users run it
        proc = subprocess.run(
            [sys.executable, "-m", "posecli", "--quiet", *train],
            capture_output=True,
            text=True,
            timeout=900,
        )
        assert proc.returncode == 0, proc.stderr[-3000:]
        assert "train.schedule: clipped to the run's" in (work / "train.log").read_text()
    else:
        _invoke(["--quiet", *train])
    checkpoint = work / "best.pt"
    assert checkpoint.is_file() and (work / "last.pt").is_file()

    values = _eval_json([str(checkpoint)])  # the recipe's validation split
    assert (run.metric in values and values[run.metric] >= 0.0) or run.metric == "EPE"
    if run.data == "coco_root":  # ground-truth boxes: the annotation file evaluated whole
        gt = _eval_json(
            [str(checkpoint), "--data", str(root / "annotations" / "person_keypoints_val2017.json")]
        )
        assert 0.0 <= gt["coco/AP"] <= 1.0

    # predict from the checkpoint (PyTorch), export with --check, predict from the file (ONNX
    # Runtime): --backend auto's path, without a second, cached export of the same checkpoint
    source = run.predict_source(root)
    from_checkpoint = _predict(tmp_path / "pred", source, "--checkpoint", str(checkpoint))
    onnx = tmp_path / "model.onnx"
    export = ["--quiet", "export", str(checkpoint), "--to", "onnx", "--out", str(onnx), "--check"]
    _invoke(export)
    assert onnx.is_file()
    from_file = _predict(tmp_path / "pred-onnx", source, "--model", str(onnx))
    assert len(from_file) == len(from_checkpoint)


def _predict(out: Path, source: list[str], *model: str) -> list[dict]:
    """``posecli predict`` into ``out``; the records of its ``predictions.json``."""
    backend = ["--backend", "torch"] if model[0] == "--checkpoint" else []
    _invoke(["--quiet", "predict", *source, *model, *backend, "--out", str(out)])
    predictions = json.loads((out / "predictions.json").read_text())
    assert predictions, "predict wrote no predictions"
    return predictions
