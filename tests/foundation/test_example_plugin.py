"""The example plugin installed for real with pip into a temporary virtual environment.

The venv sees posecli (this checkout) and the running environment's packages through a
``.pth`` file (:mod:`tests.venvs`; works from a venv and from the base interpreter alike); the
plugin (and a deliberately broken plugin) are installed into it with pip, so entry points are
discovered exactly as for users.
"""

from __future__ import annotations

import json
import subprocess
import textwrap
from pathlib import Path

import pytest

from tests.venvs import clean_env, make_venv, pip_install

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "plugins" / "posecli-plugin-example"


@pytest.fixture(scope="module")
def plugin_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("venv")
    env_dir = root / "env"
    python = make_venv(env_dir, posecli_source=True)
    pip_install(python, EXAMPLE)
    broken = root / "broken"
    (broken / "posecli_plugin_broken").mkdir(parents=True)
    (broken / "posecli_plugin_broken" / "__init__.py").write_text(
        "raise RuntimeError('this plugin is broken on purpose')\n"
    )
    (broken / "pyproject.toml").write_text(
        textwrap.dedent("""
        [build-system]
        requires = ["setuptools"]
        build-backend = "setuptools.build_meta"
        [project]
        name = "posecli-plugin-broken"
        version = "0.0.1"
        [project.entry-points.posecli]
        broken = "posecli_plugin_broken"
    """)
    )
    pip_install(python, broken)
    return python


def _posecli(python: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    full_env = clean_env(**env)
    return subprocess.run(
        [str(python), "-m", "posecli", *args],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=300,
    )


def test_installed_plugin_is_listed_with_what_it_registered(plugin_venv: Path) -> None:
    done = _posecli(plugin_venv, "plugins", "--json")
    assert done.returncode == 0, done.stderr
    by_name = {p["name"]: p for p in json.loads(done.stdout)}
    example = by_name["posecli-plugin-example"]
    assert example["status"] == "ok" and example["version"] == "0.1.0"
    assert example["components"] == {
        "codecs": ["softargmax_heatmap"],
        "backbones": ["tiny_convnet"],
    }
    assert example["commands"] == ["softargmax-check"]
    broken = by_name["posecli-plugin-broken"]
    assert broken["status"] == "failed"
    assert broken["error"] == (
        "cannot import posecli_plugin_broken: RuntimeError: this plugin is broken on purpose"
    )
    assert by_name["posecli"]["status"] == "ok"


def test_list_shows_the_provider_and_the_command_runs(plugin_venv: Path) -> None:
    done = _posecli(plugin_venv, "list", "codecs", "softargmax", "--json")
    assert json.loads(done.stdout)[0]["plugin"] == "posecli-plugin-example"
    done = _posecli(plugin_venv, "softargmax-check", "--keypoints", "5")
    assert done.returncode == 0, done.stderr
    error = float(done.stdout.split("max error")[1].split()[0])
    assert error < 0.01


def test_disable_autoload_hides_the_plugin(plugin_venv: Path) -> None:
    done = _posecli(plugin_venv, "plugins", "--json", POSECLI_DISABLE_PLUGIN_AUTOLOAD="1")
    assert [p["name"] for p in json.loads(done.stdout)] == ["posecli"]
    done = _posecli(plugin_venv, "softargmax-check", POSECLI_DISABLE_PLUGIN_AUTOLOAD="1")
    assert done.returncode == 2  # no such command


def test_load_only_selected_plugins(plugin_venv: Path) -> None:
    done = _posecli(plugin_venv, "plugins", "--json", POSECLI_LOAD_PLUGINS="posecli-plugin-example")
    assert [p["name"] for p in json.loads(done.stdout)] == ["posecli", "posecli-plugin-example"]


def test_the_plugins_own_tests_pass(plugin_venv: Path) -> None:
    done = subprocess.run(
        [str(plugin_venv), "-m", "pytest", "-q", "-p", "no:cacheprovider", str(EXAMPLE / "tests")],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=str(EXAMPLE),
    )
    assert done.returncode == 0, done.stdout[-2000:]
