"""posecli: top-down 2D pose estimation from one command line.

MMPose's codecs, models and numerics behind a Typer CLI, with every component (codecs,
backbones, heads, datasets...) registered through pluggy hooks so third-party packages are
first-class citizens.
"""

from __future__ import annotations

__version__ = "0.1.0.dev0"

__all__ = ["__version__"]
