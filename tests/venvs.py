"""Nested virtual environments for install tests, reusing the running interpreter's packages.

``venv``'s ``system_site_packages`` exposes the *base* interpreter's site-packages, not those
of a virtual environment the tests run in, so a nested venv made that way sees neither
posecli's dependencies nor a recent setuptools. Instead, :func:`make_venv` creates a bare
venv and adds the running environment's site-packages directories to its ``sys.path`` with a
``.pth`` file: the dependencies are reused (no download), while ``.pth`` files of the outer
environment (an editable posecli among them) are not executed, so the nested environment has
posecli only if a test installs it (a wheel) or asks for the source tree.
"""

from __future__ import annotations

import os
import site
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def outer_site_dirs() -> list[str]:
    """The running interpreter's site-packages directories (venv or base)."""
    paths = [sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]]
    paths += site.getsitepackages() if hasattr(site, "getsitepackages") else []
    return list(dict.fromkeys(p for p in paths if os.path.isdir(p)))


def make_venv(env_dir: Path, *, posecli_source: bool = False) -> Path:
    """Create a venv at ``env_dir`` seeing the outer packages; return its ``python``.

    Args:
        env_dir: Where to create it.
        posecli_source: Also put this checkout on its path (posecli from source).
    """
    venv.EnvBuilder(with_pip=False, symlinks=os.name != "nt").create(env_dir)
    python = env_dir / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    lines = ([str(REPO)] if posecli_source else []) + outer_site_dirs()
    (Path(purelib) / "_outer_environment.pth").write_text("\n".join(lines) + "\n")
    return python


def pip_install(python: Path, *targets: str | Path, timeout: int = 600) -> None:
    """``pip install --no-deps --no-index --no-build-isolation TARGETS`` into ``python``'s
    environment (pip and setuptools come from the outer environment)."""
    proc = subprocess.run(
        [
            str(python),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--disable-pip-version-check",
            "--no-index",
            *map(str, targets),
        ],
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"pip install {targets} failed:\n{proc.stdout}\n{proc.stderr}")


def clean_env(**extra: str) -> dict[str, str]:
    """The environment without posecli switches, ``PYTHONPATH`` or the outer venv's markers."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("POSECLI_") and k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")
    }
    env.update(extra)
    return env


__all__ = ["clean_env", "make_venv", "outer_site_dirs", "pip_install", "sys"]
