"""Metadata of exported files: the runtime's spec fields plus what the exporter adds.

The encoding lives with the runtime (:mod:`posecli.runtime.metadata`, standard library only);
this module builds the full table for a file.
"""

from __future__ import annotations

from typing import Any

from posecli import __version__
from posecli.runtime.backends import TORCHSCRIPT_FILE
from posecli.runtime.metadata import PREFIX, decode_metadata, encode_metadata, skeleton_fields
from posecli.runtime.spec import TopDownSpec


def file_metadata(
    spec: TopDownSpec, *, fmt: str, batch: int | None, fp16: bool, output_names: list[str]
) -> dict[str, Any]:
    """Everything stored in an exported file: ``spec.to_metadata()`` plus ``format``,
    ``posecli_version``, ``batch`` (``"dynamic"`` or N), ``fp16``, ``input_name`` and
    ``output_names``."""
    return {
        **spec.to_metadata(),
        "format": fmt,
        "posecli_version": __version__,
        "batch": batch if batch is not None else "dynamic",
        "fp16": fp16,
        "input_name": "images",
        "output_names": output_names,
    }


__all__ = [
    "PREFIX",
    "TORCHSCRIPT_FILE",
    "decode_metadata",
    "encode_metadata",
    "file_metadata",
    "skeleton_fields",
]
