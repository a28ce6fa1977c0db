"""``posecli eval`` on bad inputs (one line naming the culprit), and ``--data`` in any format."""

from __future__ import annotations

import collections
import datetime
import json
from pathlib import Path

import pytest
import torch

from .conftest import COCO_MINI, MOUSE_CSV, assert_one_line, cli


def _truncated(t: Path, ckpt: Path) -> Path:
    out = t / "trunc.pt"
    out.write_bytes(ckpt.read_bytes()[:50_000])
    return out


def _pickled_objects(t: Path, _: Path) -> Path:
    out = t / "objects.pt"
    torch.save({"cls": collections.OrderedDict, "when": datetime.datetime(2020, 1, 1)}, out)
    return out


def _text(t: Path, _: Path) -> Path:
    out = t / "notes.pt"
    out.write_text("not a model\n")
    return out


def _plain_list(t: Path, _: Path) -> Path:
    out = t / "list.pt"
    torch.save([1, 2, 3], out)
    return out


def _state_dict_only(t: Path, ckpt: Path) -> Path:
    out = t / "sd.pt"
    torch.save({"state_dict": torch.load(ckpt, weights_only=True)["state_dict"]}, out)
    return out


CHECKPOINTS = {
    # case: (make the file, culprits)
    "missing": (lambda t, c: t / "none.pt", ["none.pt", "not found"]),
    "truncated": (_truncated, ["trunc.pt", "truncated"]),
    "empty": (
        lambda t, c: ((t / "e.pt").write_bytes(b"") and None) or t / "e.pt",
        ["e.pt", "empty"],
    ),
    "text file": (_text, ["notes.pt", "not a PyTorch checkpoint"]),
    "pickled objects": (_pickled_objects, ["objects.pt", "refuses to unpickle"]),
    "not a dict": (_plain_list, ["list.pt", "not a posecli checkpoint"]),
    "bare state dict": (_state_dict_only, ["sd.pt", "missing", "MMPose"]),
}


@pytest.mark.parametrize("case", sorted(CHECKPOINTS))
def test_bad_checkpoints(case: str, tmp_path: Path, tiny_ckpt: Path) -> None:
    """Issue 14.8: one line naming the file and what is wrong; never 'weights_only=False'."""
    make, culprits = CHECKPOINTS[case]
    run = cli("eval", make(tmp_path, tiny_ckpt))
    line = assert_one_line(run, 1, *culprits)
    assert "weights_only" not in line


CASES = {
    # case: (arguments after the checkpoint, exit code, culprits)
    "unknown split": (["--split", "bogus"], 2, ["'bogus'", "train, val, test"]),
    "split the recipe lacks": (["--split", "test"], 1, ["data.test", "train, val"]),
    "missing --data": (["--data", "{t}/none.json"], 1, ["none.json", "not found"]),
    "--data of unknown format": (["--data", "{t}/labels.txt"], 1, ["labels.txt", "--from"]),
    "--data with other keypoints": (
        ["--data", str(COCO_MINI)],
        1,
        ["person_keypoints_mini.json", "mirror_mouse", "lacks paw1LH_top"],
    ),
    "--from without --data": (["--from", "coco"], 2, ["--from", "--data"]),
    "--bbox-file on a DLC dataset": (
        ["--bbox-file", str(COCO_MINI)],
        1,
        ["--bbox-file", "'dlc'"],
    ),
    "unknown --set key": (["--set", "codec.sigmaa=[1,1]"], 1, ["codec.sigmaa"]),
    "existing --out": (["--out", "{t}/exists.json"], 1, ["exists.json", "--force"]),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_arguments(case: str, tmp_path: Path, tiny_ckpt: Path, in_repo: Path) -> None:
    (tmp_path / "labels.txt").write_text("x")
    (tmp_path / "exists.json").write_text("[]")
    args, code, culprits = CASES[case]
    run = cli("eval", tiny_ckpt, *[a.format(t=tmp_path) for a in args])
    assert_one_line(run, code, *culprits)


def test_data_in_another_format_is_mapped_by_keypoint_names(
    tmp_path: Path, tiny_ckpt: Path, in_repo: Path
) -> None:
    """Issue 14.6: the mouse labels converted to COCO (keypoints in reverse order) evaluate
    exactly as the DeepLabCut file they came from."""
    coco = tmp_path / "mouse.json"
    assert (
        cli("convert-dataset", MOUSE_CSV, "--to", "coco", "-o", coco, "--bbox-from", "image").code
        == 0
    )
    doc = json.loads(coco.read_text())
    cat = doc["categories"][0]
    k = len(cat["keypoints"])
    order = list(reversed(range(k)))
    cat["keypoints"] = [cat["keypoints"][i] for i in order]
    cat.pop("skeleton", None)
    for ann in doc["annotations"]:
        triples = [ann["keypoints"][3 * i : 3 * i + 3] for i in range(k)]
        ann["keypoints"] = [v for i in order for v in triples[i]]
    coco.write_text(json.dumps(doc))
    from_csv = cli("eval", tiny_ckpt, "--data", MOUSE_CSV, "--json", "--no-flip-test")
    from_coco = cli("eval", tiny_ckpt, "--data", coco, "--json", "--no-flip-test")
    assert from_csv.code == 0 and from_coco.code == 0, from_coco.stderr
    a, b = json.loads(from_csv.stdout), json.loads(from_coco.stdout)
    assert a.keys() == b.keys() and all(abs(a[k] - b[k]) < 1e-6 for k in a), (a, b)
