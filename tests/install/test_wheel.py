"""A wheel install works from any directory: recipes, skeletons and the CLI ship in it.

The wheel is built from a copy of the source tree (nothing is written into the checkout),
installed with ``--no-deps`` into a fresh virtual environment that reuses the running
environment's dependencies (:mod:`tests.venvs`, no download), and ``posecli`` is run from an
empty directory, where no ``recipes/`` folder exists.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

from tests.venvs import REPO, clean_env, make_venv, pip_install

pytestmark = pytest.mark.slow

_IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", "build", "dist")


def _build_wheel(tmp: Path) -> Path:
    src = tmp / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md", "CHANGELOG.md"):
        shutil.copy2(REPO / name, src / name)
    shutil.copytree(REPO / "posecli", src / "posecli", ignore=_IGNORE)
    out = tmp / "dist"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "--disable-pip-version-check",
            "-w",
            str(out),
            str(src),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    (wheel,) = out.glob("posecli-*.whl")
    return wheel


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """``(wheel, venv python, empty working directory)``."""
    tmp = tmp_path_factory.mktemp("wheel")
    wheel = _build_wheel(tmp)
    python = make_venv(tmp / "env")
    pip_install(python, wheel)
    empty = tmp / "empty"
    empty.mkdir()
    return wheel, python, empty


def _posecli(python: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    exe = python.parent / "posecli"
    return subprocess.run(
        [str(exe), *args], capture_output=True, text=True, cwd=cwd, env=clean_env(), timeout=300
    )


def test_wheel_holds_the_recipes_and_skeletons(installed: tuple[Path, Path, Path]) -> None:
    wheel, _, _ = installed
    names = set(zipfile.ZipFile(wheel).namelist())
    for recipe in (REPO / "posecli" / "recipes").rglob("*.toml"):
        assert recipe.relative_to(REPO).as_posix() in names
    assert "posecli/recipes/coco/rtmpose-m.toml" in names
    assert "posecli/data/metainfo/coco.toml" in names
    assert "posecli/py.typed" in names


def test_installed_posecli_is_the_wheel(installed: tuple[Path, Path, Path]) -> None:
    _, python, empty = installed
    done = subprocess.run(
        [str(python), "-c", "import posecli; print(posecli.__file__)"],
        capture_output=True,
        text=True,
        cwd=empty,
        env=clean_env(),
        check=True,
    )
    where = Path(done.stdout.strip()).resolve()
    assert where.is_relative_to(python.parent.parent.resolve()), where
    assert not where.is_relative_to(REPO.resolve())


def test_cli_runs_from_an_empty_directory(installed: tuple[Path, Path, Path]) -> None:
    _, python, empty = installed
    done = _posecli(python, empty, "plugins", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)[0]["name"] == "posecli"
    done = _posecli(python, empty, "list", "recipes", "--json")
    assert done.returncode == 0, done.stderr
    listed = {row["name"] for row in json.loads(done.stdout)}
    assert {"rtmpose.toml", "coco/rtmpose-m.toml", "coco/hrnet-w32.toml"} <= listed
    for recipe in ("coco/rtmpose-m.toml", "rtmpose.toml", "recipes/rtmpose.toml"):
        done = _posecli(python, empty, "recipe", "show", recipe, "--json")
        assert done.returncode == 0, f"{recipe}: {done.stderr}"
    shown = json.loads(
        _posecli(python, empty, "recipe", "show", "coco/rtmpose-m.toml", "--json").stdout
    )
    assert shown["name"] == "rtmpose-m_coco-256x192"
    assert shown["model"]["backbone"]["widen_factor"] == 0.75


def test_user_recipe_extends_a_shipped_one(installed: tuple[Path, Path, Path]) -> None:
    _, python, empty = installed
    (empty / "mine.toml").write_text(
        textwrap.dedent(
            """
            extends = "coco/rtmpose-m.toml"
            name = "mine"
            [train]
            epochs = 3
            """
        )
    )
    done = _posecli(python, empty, "recipe", "show", "mine.toml", "--json")
    assert done.returncode == 0, done.stderr
    shown = json.loads(done.stdout)
    assert (shown["name"], shown["train"]["epochs"]) == ("mine", 3)
    assert shown["model"]["backbone"]["deepen_factor"] == 0.67
