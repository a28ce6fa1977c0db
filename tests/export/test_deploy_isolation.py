"""posecli.runtime runs an ONNX model without importing torch or posecli's model/engine code."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from .conftest import VIDEO, ExportCache

SCRIPT = """
import json, sys
import cv2
from posecli.runtime import Predictor, open_exported
spec, backend = open_exported(sys.argv[1], threads=1)
model = Predictor(spec, backend)
cap = cv2.VideoCapture(sys.argv[2]); ok, frame = cap.read(); cap.release()
res = model.predict(frame, [[0, 0, frame.shape[1], frame.shape[0]], [10, 10, 200, 150]])
kp, scores = res.keypoints, res.keypoint_scores
bad = [m for m in sys.modules if m == "torch" or m.startswith(("torch.", "posecli.models",
       "posecli.engine", "posecli.inference", "posecli.export", "posecli.api"))]
print(json.dumps({"shape": list(kp.shape), "scores": list(scores.shape), "bad": bad}))
"""


def test_runtime_imports_no_torch(exported: ExportCache) -> None:
    path = exported("rle").path
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(path), str(VIDEO)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out == {"shape": [2, 17, 2], "scores": [2, 17], "bad": []}


PREDICT_SCRIPT = """
import json, sys
from posecli.cli.app import main
try:
    main(["-q", "predict", sys.argv[1], "--model", sys.argv[2], "--out", sys.argv[3]])
except SystemExit as exc:
    code = exc.code
else:
    code = 0
bad = [m for m in sys.modules if m == "torch" or m.startswith(("torch.", "posecli.models",
       "posecli.engine", "posecli.api"))]
print(json.dumps({"code": code, "bad": bad}))
"""


def test_predict_command_with_onnx_imports_no_training_code(
    exported: ExportCache, tmp_path: Path
) -> None:
    image = VIDEO.parents[1] / "labeled-data" / "img05.png"
    out = tmp_path / "preds"
    proc = subprocess.run(
        [sys.executable, "-c", PREDICT_SCRIPT, str(image), str(exported("rle").path), str(out)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result == {"code": 0, "bad": []}
    records = json.loads((out / "predictions.json").read_text())
    assert len(records["frames"]) == 1
