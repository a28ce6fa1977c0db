"""The command-line options shared by several commands: one name per concept.

Every option that two commands have in common is declared here, so it has one name, one short
flag and one meaning everywhere (``tests/cli/test_option_names.py`` fails when two commands use
one name with different help). A command adds its own detail after the shared meaning with
``detail=``. Names:

``--set/-s`` recipe override · ``--from`` format of the data read · ``--to`` format written ·
``--out/-o`` where outputs go · ``--force`` replace existing outputs whole · ``--json`` machine
output · ``--device`` · ``--batch-size/-b`` · ``--seed`` · ``--split`` a recipe split name ·
``--images`` · ``--skeleton`` · ``--bbox`` the box to crop (``whole`` or ``x1,y1,x2,y2``) ·
``--bbox-file`` COCO detection results · ``--flip-test/--no-flip-test`` · ``--kpt-thr`` ·
``--checkpoint/-c`` · ``--work-dir/-w``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

#: Option name → its one meaning (the start of its help text wherever it appears).
CONCEPTS: dict[str, str] = {
    "--set": "Override a recipe value (dotted key = TOML value), e.g. --set train.epochs=5; "
    "repeatable.",
    "--from": "Format of the dataset file read (default: from its suffix).",
    "--to": "Format written.",
    "--out": "Where the output is written.",
    "--force": "Replace existing outputs as a whole (atomically; nothing old is left behind).",
    "--json": "Print machine-readable JSON on stdout.",
    "--device": "Device: auto, cpu, cuda or cuda:N.",
    "--batch-size": "Crops per forward pass.",
    "--seed": "Random seed.",
    "--split": "Recipe split: train, val or test.",
    "--images": "Image folder of the dataset (default: beside the file).",
    "--skeleton": "Skeleton name or TOML file (default: from the data).",
    "--bbox": "The box to crop: 'whole' (the whole image) or x1,y1,x2,y2 in pixels.",
    "--bbox-file": "COCO detection results JSON giving the boxes.",
    "--detector": "Registered detector (posecli list detectors).",
    "--detector-weights": "Detector weights: a file (for 'bottomup' a posecli bottom-up "
    "checkpoint) or torchvision://DEFAULT.",
    "--bbox-thr": "Box score threshold.",
    "--flip-test": "Flip test: average with the mirrored image's prediction.",
    "--rotation-test": "Rotation test (top-down SimCC, square crops): average with the crop "
    "turned by 90°, 180° and 270° (4× the compute).",
    "--kpt-thr": "Keypoint score threshold.",
    "--checkpoint": "A posecli checkpoint (best.pt, last.pt).",
    "--work-dir": "Run directory.",
    "--quiet": "No progress bars or informational output.",
    "--debug": "Show full tracebacks on errors (or POSECLI_DEBUG=1).",
    "--version": "Print the version and exit.",
    "--help": "Show this message and exit.",
}

#: Short flag → the one long option it stands for.
SHORT_FLAGS: dict[str, str] = {
    "-s": "--set",
    "-o": "--out",
    "-b": "--batch-size",
    "-c": "--checkpoint",
    "-w": "--work-dir",
    "-q": "--quiet",
    "-h": "--help",
}

#: Old option names → new ones (the renames of this release; see CHANGELOG).
RENAMED: dict[str, str] = {
    "check-dataset --format/-f": "--from",
    "check-dataset --no-decode": "--no-decode-images",
    "convert-dataset --split val=F": "--val-fraction F",
    "convert-dataset --bbox keypoints|image": "--bbox-from keypoints|image",
    "predict --format/-f": "--to",
    "predict --flip/--no-flip": "--flip-test/--no-flip-test",
    "eval --flip/--no-flip": "--flip-test/--no-flip-test",
    "export --format/-f": "--to",
    "visualize predictions --bbox": "--draw-bbox",
    "visualize predictions -s (--source)": "--source (no short flag; -s is --set)",
    "recipe dataset key labels (dlc, sleap) / data (yolo)": "ann_file",
}


def concept(name: str, detail: str = "") -> str:
    """Help text of option ``name``: its shared meaning, then the command's ``detail``."""
    text = CONCEPTS[name]
    return f"{text} {detail}".strip() if detail else text


def option(name: str, *, detail: str = "", short: bool = True, **kwargs: Any) -> Any:
    """A ``typer.Option`` for the shared option ``name`` (with its one short flag)."""
    decls = [name]
    if short:
        decls += [s for s, long in SHORT_FLAGS.items() if long == name]
    return typer.Option(*decls, help=concept(name, detail), **kwargs)


SetOption = Annotated[list[str] | None, option("--set", metavar="KEY=VALUE")]
ForceOption = Annotated[bool, option("--force")]
JsonOption = Annotated[bool, option("--json")]
DeviceOption = Annotated[str, option("--device")]
SkeletonOption = Annotated[str | None, option("--skeleton")]
ImagesOption = Annotated[Path | None, option("--images")]
FromOption = Annotated[str | None, option("--from")]
FlipTestOption = Annotated[
    bool | None,
    typer.Option(
        "--flip-test/--no-flip-test", help=concept("--flip-test", "Default: as the recipe says.")
    ),
]
RotationTestOption = Annotated[
    bool | None,
    typer.Option(
        "--rotation-test/--no-rotation-test",
        help=concept("--rotation-test", "Default: as the recipe says."),
    ),
]
BboxFileOption = Annotated[Path | None, option("--bbox-file")]
DetectorOption = Annotated[str | None, option("--detector")]
DetectorWeightsOption = Annotated[str | None, option("--detector-weights")]
BboxThrOption = Annotated[float, option("--bbox-thr")]
KptThrOption = Annotated[
    float, option("--kpt-thr", detail="Keypoints scoring below are not drawn.")
]


def split_option(default_help: str = "") -> Any:
    return option("--split", detail=default_help)


__all__ = [
    "CONCEPTS",
    "RENAMED",
    "SHORT_FLAGS",
    "BboxFileOption",
    "DeviceOption",
    "FlipTestOption",
    "ForceOption",
    "FromOption",
    "ImagesOption",
    "JsonOption",
    "KptThrOption",
    "RotationTestOption",
    "SetOption",
    "SkeletonOption",
    "concept",
    "option",
    "split_option",
]
