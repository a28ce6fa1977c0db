"""Helpers of the command-line tests: run a command in-process, assert one-line errors."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

REPO = Path(__file__).resolve().parents[2]
MOUSE = REPO / "examples" / "mirror-mouse"
MOUSE_CSV = MOUSE / "CollectedData.csv"
COCO_MINI = REPO / "tests" / "data" / "coco-mini" / "person_keypoints_mini.json"
FLY_SLP = REPO / "examples" / "sleap-flies" / "clip.slp"
VIDEO = MOUSE / "videos" / "test_vid.mp4"
IMAGE = MOUSE / "labeled-data" / "img01.png"


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str

    @property
    def lines(self) -> list[str]:
        return [ln for ln in self.stderr.splitlines() if ln.strip()]


def cli(*args: str | Path) -> Run:
    """``posecli ARGS`` in this process (a fresh app), stdout and stderr apart."""
    from posecli.cli.app import create_app

    result = CliRunner().invoke(create_app(), [str(a) for a in args])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return Run(result.exit_code, result.stdout, result.stderr)


def assert_one_line(run: Run, code: int, *culprits: str) -> str:
    """Exit ``code``, exactly one stderr line, starting ``Error:``, naming every culprit."""
    assert run.code == code, (run.code, run.stderr, run.stdout)
    assert len(run.lines) == 1, run.stderr
    line = run.lines[0]
    assert line.startswith("Error: "), line
    for culprit in culprits:
        assert culprit in line, (culprit, line)
    assert "Traceback" not in run.stderr and "unexpected" not in line, line
    return line


def mouse_csv_copy(tmp_path: Path, edit: object = None) -> Path:
    """The mouse labels in ``tmp_path`` (images linked from the example); ``edit(lines)``
    changes the CSV rows (a list of lists of cells) in place."""
    import csv

    (tmp_path / "labeled-data").mkdir(parents=True, exist_ok=True)
    for png in (MOUSE / "labeled-data").glob("*.png"):
        dst = tmp_path / "labeled-data" / png.name
        if not dst.exists():
            dst.symlink_to(png)
    rows = list(csv.reader(MOUSE_CSV.open(newline="")))
    if callable(edit):
        edit(rows)
    out = tmp_path / "CollectedData.csv"
    with out.open("w", newline="") as fh:
        csv.writer(fh).writerows(rows)
    return out


def corrupt_image(folder: Path, name: str = "img05.png") -> Path:
    """Replace the link ``labeled-data/name`` by a truncated copy of the image."""
    path = folder / "labeled-data" / name
    data = (MOUSE / "labeled-data" / name).read_bytes()
    path.unlink()
    path.write_bytes(data[:300])
    return path


@pytest.fixture(scope="session")
def tiny_ckpt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random-weight tiny mouse model (seconds to build)."""
    from tests.predict._tiny import make_tiny_checkpoint

    return make_tiny_checkpoint(tmp_path_factory.mktemp("ckpt") / "tiny.pt")


@pytest.fixture
def in_repo(monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run from the repository root (recipes name data relative to it)."""
    monkeypatch.chdir(REPO)
    return REPO


def copy_tree(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst
