"""ONNX export of an :class:`~posecli.export.wrapper.ExportWrapper`, with metadata_props."""

from __future__ import annotations

import contextlib
import io
import os
import sys
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import torch

from posecli.export.metadata import encode_metadata


@contextlib.contextmanager
def quiet_native_stdout() -> Iterator[None]:
    """Silence file descriptor 1 (torch's exporter logs the whole IR graph there on failure)."""
    sys.stdout.flush()
    try:
        saved = os.dup(1)
    except OSError:  # no usable stdout: nothing to silence
        yield
        return
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 1)
        yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)


def _export(
    module: torch.nn.Module,
    dummy: torch.Tensor,
    f: io.BytesIO,
    *,
    input_names: list[str],
    output_names: list[str],
    dynamic_axes: dict[str, dict[int, str]] | None,
    opset: int,
) -> str:
    """``torch.onnx.export`` with the default (dynamo) exporter, falling back to the
    TorchScript-based one (``dynamo=False``) when it fails (e.g. ``onnxscript`` missing).
    Returns the exporter used (``"dynamo"`` or ``"torchscript"``)."""
    kwargs: dict[str, Any] = {
        "input_names": input_names,
        "output_names": output_names,
        "dynamic_axes": dynamic_axes,
        "opset_version": opset,
    }
    with warnings.catch_warnings(), quiet_native_stdout():
        warnings.simplefilter("ignore")
        try:
            torch.onnx.export(module, (dummy,), f, **kwargs)  # type: ignore[arg-type]
            return "dynamo"
        except Exception:
            f.seek(0)
            f.truncate()
            torch.onnx.export(module, (dummy,), f, dynamo=False, **kwargs)  # type: ignore[arg-type]
            return "torchscript"


def export_onnx(
    wrapper: torch.nn.Module,
    path: str | Path,
    *,
    input_size: tuple[int, int],
    output_names: list[str],
    batch: int | None,
    opset: int,
    metadata: Mapping[str, Any],
) -> tuple[Path, str]:
    """Export ``wrapper`` taking ``images (B,3,h,w)`` float32 to ``path`` (written atomically).

    Args:
        wrapper: the module to export (eval mode).
        input_size: crop ``(w, h)``.
        output_names: names of the wrapper's outputs.
        batch: fixed batch size, or ``None`` for a dynamic batch axis.
        opset: ONNX opset.
        metadata: stored as ``metadata_props`` (JSON values under ``posecli.`` keys).

    Returns:
        ``(path, exporter)`` with the exporter actually used.
    """
    import onnx

    path = Path(path)
    w, h = input_size
    dummy = torch.rand(batch or 2, 3, h, w) * 255
    dynamic = None
    if batch is None:
        dynamic = {name: {0: "batch"} for name in ["images", *output_names]}
    buf = io.BytesIO()
    with torch.no_grad():
        exporter = _export(
            wrapper,
            dummy,
            buf,
            input_names=["images"],
            output_names=output_names,
            dynamic_axes=dynamic,
            opset=opset,
        )
    model = onnx.load_from_string(buf.getvalue())
    for key, value in encode_metadata(metadata).items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    model.producer_name = "posecli"
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        onnx.save(model, str(tmp))
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path, exporter


def try_export_part(module: torch.nn.Module, args: tuple[Any, ...], opset: int) -> None:
    """Export one part (backbone, neck, head) into memory; raises what the exporter raises."""
    with warnings.catch_warnings(), torch.no_grad(), quiet_native_stdout():
        warnings.simplefilter("ignore")
        torch.onnx.export(module, args, io.BytesIO(), opset_version=opset, dynamo=False)  # type: ignore[arg-type]


def add_onnx_metadata(path: str | Path, metadata: Mapping[str, Any]) -> None:
    """Store ``metadata`` in the ONNX file at ``path`` as ``metadata_props`` (``posecli.`` keys,
    JSON values), as :func:`export_onnx` does and :func:`read_onnx_metadata` reads."""
    import onnx

    model = onnx.load(str(path))
    for key, value in encode_metadata(metadata).items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.save(model, str(path))


def read_onnx_metadata(path: str | Path) -> dict[str, Any]:
    """The posecli metadata stored in an ONNX file (read with the ``onnx`` package)."""
    import onnx

    from posecli.export.metadata import decode_metadata

    model = onnx.load(str(path), load_external_data=False)
    return decode_metadata({p.key: p.value for p in model.metadata_props})


__all__ = ["export_onnx", "read_onnx_metadata", "try_export_part"]
