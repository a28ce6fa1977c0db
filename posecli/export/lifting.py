"""Export of 2D→3D lifters (``model.kind = "lifting"``) to ONNX or TorchScript, with a check.

The graph is the lifter's tensor mode: codec-normalised 2D inputs — TCN ``(B, K·C, T)`` with
``T`` = the receptive field, DSTformer ``(B, T, K, C)`` — → root-relative 3D in codec units
``(B, K, 3)`` / ``(B, T, K, 3)`` (and the trajectory ``(B, 1, 3)`` when the lifter has one). The
codec, sequence length and layout travel in the metadata (``posecli.*`` keys), so a runtime
normalises the 2D keypoints and decodes the output as :mod:`posecli.inference.lifting` does.
``check`` runs the exported file (ONNX Runtime / TorchScript) and the checkpoint's model on the
same random batch and fails above ``tolerance``.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from posecli.errors import PoseCliError


class LiftingExportError(PoseCliError):
    """Export or parity check of a lifter failed."""


@dataclass
class LiftCheckReport:
    """Largest output difference between the exported file and the checkpoint's model."""

    max_abs_diff: float
    tolerance: float
    batch: int

    @property
    def passed(self) -> bool:
        return self.max_abs_diff <= self.tolerance

    def summary(self) -> str:
        return (
            f"max |exported - checkpoint| = {self.max_abs_diff:.2e} (codec units) on "
            f"{self.batch} random sequences, tolerance {self.tolerance:g}"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "max_abs_diff": self.max_abs_diff,
            "tolerance": self.tolerance,
            "batch": self.batch,
        }


class _Graph(torch.nn.Module):
    """Tensor mode as a plain module: outputs always a tuple."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, inputs: torch.Tensor) -> tuple[torch.Tensor, ...]:
        out = self.model(inputs)
        return tuple(out) if isinstance(out, (tuple, list)) else (out,)


def example_inputs(model: Any, batch: int, seed: int = 0) -> torch.Tensor:
    """Random normalised 2D inputs in the lifter's layout (``N(0, 0.3)``, visibility 1)."""
    k = int(model.num_keypoints)
    bb = model.backbone
    gen = torch.Generator().manual_seed(seed)
    if model.sequence_layout == "tokens":
        t = int(getattr(bb, "seq_len", 1))
        c = int(getattr(bb, "in_channels", 3))
        x = torch.randn(batch, t, k, c, generator=gen) * 0.3
        if c == 3:
            x[..., 2] = 1.0
        return x
    t = int(getattr(bb, "receptive_field", 1))
    return torch.randn(batch, int(bb.in_channels), t, generator=gen) * 0.3


def lifter_metadata(model: Any, recipe: Any, metainfo: dict[str, Any] | None) -> dict[str, Any]:
    """What a runtime needs beside the graph: kind, layout, sequence length, codec, skeleton."""
    from posecli.recipe import recipe_to_toml

    bb = model.backbone
    return {
        "kind": "lifting",
        "layout": model.sequence_layout,
        "seq_len": int(getattr(bb, "receptive_field", getattr(bb, "seq_len", 1))),
        "causal": bool(model.causal),
        "num_keypoints": int(model.num_keypoints),
        "codec": recipe.codec.as_dict(),
        "flip_test": bool(model.test_cfg.flip_test),
        "flip_indices": list(model.flip_indices or []),
        "trajectory": bool(model.with_traj),
        "skeleton": metainfo or {},
        "recipe": recipe_to_toml(recipe),
    }


def _run_exported(path: Path, fmt: str, x: torch.Tensor) -> list[np.ndarray]:
    if fmt == "onnx":
        import onnxruntime as ort

        sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        return list(sess.run(None, {"inputs": x.numpy()}))
    module = torch.jit.load(str(path))
    out = module(x)
    return [o.detach().numpy() for o in (out if isinstance(out, (tuple, list)) else (out,))]


def export_lifter(
    model: Any,
    recipe: Any,
    out: str | Path,
    *,
    metainfo: dict[str, Any] | None = None,
    fmt: str = "onnx",
    batch: int | None = None,
    opset: int = 17,
    check: bool = False,
    tolerance: float = 1e-4,
    force: bool = False,
    **_: Any,
) -> Any:
    """Write the lifter to ``out`` (``fmt`` ``onnx`` or ``torchscript``); see the module doc.

    Returns an :class:`~posecli.export.exporter.ExportResult` (``report``: the check).
    """
    from posecli.export.exporter import ExportResult

    path = Path(out)
    if path.exists() and not force:
        raise LiftingExportError(f"{path} exists; pass --force to overwrite it")
    if fmt not in ("onnx", "torchscript"):
        raise LiftingExportError(f"unknown format {fmt!r}; choose onnx or torchscript")
    graph = _Graph(copy.deepcopy(model).float()).eval()
    dummy = example_inputs(model, batch or 2)
    names = ["pose_3d", "trajectory"] if model.with_traj else ["pose_3d"]
    meta = lifter_metadata(model, recipe, metainfo)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        if fmt == "onnx":
            from posecli.export.onnx import add_onnx_metadata

            torch.onnx.export(
                graph,
                (dummy,),
                str(path),
                input_names=["inputs"],
                output_names=names,
                dynamic_axes=None
                if batch
                else {"inputs": {0: "batch"}, **{n: {0: "batch"} for n in names}},
                opset_version=opset,
                dynamo=False,
            )
            add_onnx_metadata(path, meta)
            exporter = "torch.onnx.export (TorchScript-based)"
        else:
            traced = torch.jit.trace(graph, (dummy,))
            from posecli.export.torchscript import save_with_metadata

            save_with_metadata(traced, path, meta)
            exporter = "torch.jit.trace"
    except PoseCliError:
        raise
    except Exception as exc:
        path.unlink(missing_ok=True)
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise LiftingExportError(
            f"cannot export the lifter to {fmt}: {type(exc).__name__}: {first}"
        ) from None
    summary = (
        f"{meta['layout']} inputs, {meta['seq_len']} frames; codec {recipe.codec.name} "
        "normalisation and decode in the metadata"
    )
    result = ExportResult(path, fmt, exporter, meta, summary=summary)
    if check:
        n = batch or 3
        x = example_inputs(model, n, seed=1)
        graph.eval()  # the exporter restores the wrapper's mode
        with torch.no_grad():
            ref = [r.numpy() for r in graph(x)]
        got = _run_exported(path, fmt, x)
        diff = max(float(np.abs(a - b).max()) for a, b in zip(ref, got, strict=True))
        report = LiftCheckReport(diff, tolerance, n)
        result.report = report
        if not report.passed:
            path.unlink(missing_ok=True)
            raise LiftingExportError(f"parity check failed, {path} removed: {report.summary()}")
    return result


__all__ = [
    "LiftCheckReport",
    "LiftingExportError",
    "example_inputs",
    "export_lifter",
    "lifter_metadata",
]
