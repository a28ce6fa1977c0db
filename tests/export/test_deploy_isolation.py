"""posecli.deploy runs an ONNX model without importing torch or posecli's model/engine code."""

from __future__ import annotations

import json
import subprocess
import sys

from .conftest import VIDEO, ExportCache

SCRIPT = """
import json, sys
import cv2
import posecli.deploy
model = posecli.deploy.load(sys.argv[1], threads=1)
cap = cv2.VideoCapture(sys.argv[2]); ok, frame = cap.read(); cap.release()
kp, scores = model(frame, [[0, 0, frame.shape[1], frame.shape[0]], [10, 10, 200, 150]])
bad = [m for m in sys.modules if m == "torch" or m.startswith(("torch.", "posecli.models",
       "posecli.engine", "posecli.inference", "posecli.api"))]
print(json.dumps({"shape": list(kp.shape), "scores": list(scores.shape), "bad": bad}))
"""


def test_deploy_imports_no_torch(exported: ExportCache) -> None:
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
