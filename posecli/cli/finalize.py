"""``posecli finalize-predictions``: turn what a killed ``predict`` left into a predictions.json.

``posecli predict`` streams ``predictions.json`` as JSON Lines into
``predictions.json.partial.jsonl`` (a header line, then one line per finished frame) and
assembles the final file when it ends — also on Ctrl-C, where it is marked
``"complete": false``. Only a hard kill (``kill -9``, power loss) leaves the partial file; this
command assembles it (a torn last line is dropped) into the final file beside it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from posecli.cli.options import ForceOption, option


def finalize_predictions(partial: Path, out: Path | None = None, *, force: bool = False) -> Path:
    """Write the ``predictions.json`` of ``partial`` (``"complete": false``) and return it.

    Raises:
        DataError: not a posecli partial predictions file.
        OutputExistsError: ``out`` exists and ``force`` is false.
    """
    from posecli.data.io import atomic_write
    from posecli.errors import DataError, OutputExistsError
    from posecli.inference.writers import load_predictions

    partial = Path(partial)
    if not partial.name.endswith(".partial.jsonl"):
        raise DataError(f"{partial}: not a partial predictions file (*.partial.jsonl)")
    if not partial.is_file():
        raise DataError(f"{partial}: no such file")
    target = (
        Path(out) if out is not None else partial.with_name(partial.name[: -len(".partial.jsonl")])
    )
    if target.exists() and not force:
        raise OutputExistsError(f"{target} already exists: pass --force to replace it")
    doc = load_predictions(partial)
    with atomic_write(target, force=True) as fh:
        json.dump(doc, fh)
    partial.unlink()
    return target


def finalize_predictions_command(
    partial: Annotated[
        Path, typer.Argument(help="The predictions.json.partial.jsonl a killed predict left.")
    ],
    out: Annotated[
        Path | None, option("--out", detail="Default: the same name without .partial.jsonl.")
    ] = None,
    force: ForceOption = False,
) -> None:
    """Assemble the frames a killed ``posecli predict`` finished into predictions.json."""
    from posecli.inference.writers import load_predictions

    path = finalize_predictions(partial, out, force=force)
    frames = len(load_predictions(path)["frames"])
    typer.echo(f"wrote {path} ({frames} frames, marked incomplete)")
