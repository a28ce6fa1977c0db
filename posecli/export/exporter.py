"""``export_checkpoint`` / ``export_model``: checkpoint → self-contained ONNX or TorchScript file."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from posecli.export.check import CheckReport, check_exported
from posecli.export.errors import ExportError
from posecli.export.metadata import file_metadata
from posecli.export.wrapper import ExportWrapper
from posecli.runtime.backends import spec_from_model

FORMATS = {"onnx": ".onnx", "torchscript": ".ts"}


@dataclass
class ExportResult:
    """What :func:`export_model` wrote."""

    path: Path
    format: str
    exporter: str
    metadata: dict[str, Any]
    report: CheckReport | None = field(default=None)
    summary: str = ""  #: one line on the test-time behaviour the file carries


def _codec_for(model: Any, input_size: tuple[int, int]) -> Any:
    """The model's codec, rebuilt for another input size when one is asked for."""
    codec = model.codec
    if codec is None:
        raise ExportError("the model has no codec: build it from a recipe")
    if tuple(codec.input_size) == tuple(input_size):
        return codec
    params = codec.params
    params["input_size"] = [int(input_size[0]), int(input_size[1])]
    if "heatmap_size" in params:
        w, h = input_size
        with torch.no_grad():
            out = model(torch.zeros(1, 3, h, w))
        if not isinstance(out, torch.Tensor) or out.ndim != 4:
            raise ExportError(f"cannot infer the heatmap size for input {w}x{h}")
        params["heatmap_size"] = [int(out.shape[-1]), int(out.shape[-2])]
    return type(codec)(**params)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _part_fails(part: torch.nn.Module, arg: Any, fmt: str, opset: int) -> BaseException | None:
    import io

    try:
        if fmt == "onnx":
            from posecli.export.onnx import try_export_part

            try_export_part(part, (arg,), opset)
        else:
            import warnings

            with warnings.catch_warnings(), torch.no_grad():
                warnings.simplefilter("ignore")
                torch.jit.save(torch.jit.trace(part, (arg,), check_trace=False), io.BytesIO())
    except Exception as exc:
        return exc
    return None


def untraceable_error(
    model: Any, exc: BaseException, fmt: str, dummy: torch.Tensor, opset: int
) -> ExportError:
    """An :class:`ExportError` naming the component (and its module) that cannot be exported."""
    with torch.no_grad():
        x = model.preprocess(dummy)
        parts: list[tuple[str, torch.nn.Module, Any]] = [("model.backbone", model.backbone, x)]
        try:
            feats = tuple(model.backbone(x))
            if hasattr(model, "neck"):
                parts.append(("model.neck", model.neck, feats))
                feats = tuple(model.neck(feats))
            parts.append(("model.head", model.head, feats))
        except Exception:  # the forward itself fails: report the backbone below
            pass
    for where, part, arg in parts:
        err = _part_fails(part, arg, fmt, opset)
        if err is not None:
            cls = type(part)
            return ExportError(
                f"cannot export {where} ({cls.__module__}.{cls.__qualname__}) to {fmt}: "
                f"{_first_line(err)}"
            )
    return ExportError(f"cannot export the model to {fmt}: {_first_line(exc)}")


def export_model(
    model: Any,
    recipe: Any,
    out: str | Path,
    *,
    metainfo: dict[str, Any] | None = None,
    fmt: str = "onnx",
    batch: int | None = None,
    input_size: tuple[int, int] | None = None,
    opset: int = 17,
    fp16: bool = False,
    preprocess: bool = True,
    flip_test: bool | None = None,
    check: bool = False,
    tolerance: float | None = None,
    force: bool = False,
) -> ExportResult:
    """Export a :class:`~posecli.models.pose_model.PoseModel` to ``out``.

    The graph holds preprocessing, network and the head's test-time postprocess; the flip
    test and the decode are described in the file's metadata and run in
    :class:`posecli.runtime.Predictor`, as for the checkpoint (:mod:`posecli.export.wrapper`).

    Args:
        model, recipe, metainfo: the model, its recipe and skeleton metainfo.
        fmt: ``"onnx"`` or ``"torchscript"``.
        batch: fixed batch size; ``None`` for a dynamic batch axis.
        input_size: crop ``(w, h)``; default the codec's (heads with size-bound layers, such as
            RTMCC's, only fit their own).
        opset: ONNX opset.
        fp16: half-precision weights/activations (inputs and outputs stay float32).
        preprocess: the graph takes BGR 0–255 crops (else normalised RGB).
        flip_test: the file's flip test (``None``: the recipe's ``model.test.flip_test``).
        check: compare with the checkpoint's PyTorch predict path
            (:func:`~posecli.export.check.check_exported`); the file is removed and
            :class:`ExportError` raised above the tolerance (raw outputs 1e-4 and keypoints
            1e-3 px; 5e-2 and 1 px with fp16).
        force: overwrite ``out``.
    """
    if fmt not in FORMATS:
        raise ExportError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    out = Path(out)
    if out.exists() and not force:
        raise ExportError(f"{out} exists; pass --force to overwrite it")
    if batch is not None and batch < 1:
        raise ExportError(f"batch must be >= 1 or dynamic, got {batch}")
    model = model.eval().cpu()
    if model.codec is None:
        raise ExportError("the model has no codec: build it from a recipe")
    given = input_size or model.codec.input_size
    size: tuple[int, int] = (int(given[0]), int(given[1]))
    m = copy.deepcopy(model)
    if getattr(m, "channels_last", False):
        m.set_channels_last(False)
    try:
        codec = _codec_for(m, size)
        spec = spec_from_model(m, recipe, metainfo, codec=codec)
    except ExportError:
        raise
    except Exception as exc:
        raise ExportError(
            f"input size {size[0]}x{size[1]} does not fit this model: {_first_line(exc)}"
        ) from None
    if flip_test is not None and bool(flip_test) != spec.flip_test:
        if flip_test and spec.flip is None:
            raise ExportError("flip test needs the skeleton's flip_indices")
        spec = spec.replace(flip_test=bool(flip_test))
    spec = spec.replace(normalize=not preprocess)
    if fp16:
        m.half()
        m.mean, m.std = m.mean.float(), m.std.float()
    wrapper = ExportWrapper(m, preprocess=preprocess, fp16=fp16).eval()
    dummy = torch.rand(batch or 2, 3, size[1], size[0]) * 255
    output_names = spec.output_names
    meta = file_metadata(spec, fmt=fmt, batch=batch, fp16=fp16, output_names=output_names)
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        if fmt == "onnx":
            from posecli.export.onnx import export_onnx

            _, exporter = export_onnx(
                wrapper, out, input_size=size, output_names=output_names, batch=batch,
                opset=opset, metadata=meta,
            )  # fmt: skip
        else:
            from posecli.export.torchscript import export_torchscript

            export_torchscript(wrapper, out, input_size=size, batch=batch, metadata=meta)
            exporter = "torch.jit.trace"
    except Exception as exc:
        raise untraceable_error(m.float(), exc, fmt, dummy.float(), opset) from None
    result = ExportResult(out, fmt, exporter, meta, summary=spec.test_time_summary())
    if check:
        tol = tolerance if tolerance is not None else (5e-2 if fp16 else 1e-4)
        tol_px = 1.0 if fp16 else 1e-3
        ref_model = copy.deepcopy(model)
        if getattr(ref_model, "channels_last", False):
            ref_model.set_channels_last(False)
        report = check_exported(
            out, ref_model, recipe, metainfo=metainfo, tolerance=tol, tolerance_px=tol_px
        )
        result.report = report
        if not report.passed:
            out.unlink(missing_ok=True)
            raise ExportError(f"parity check failed, {out} removed: {report.summary()}")
    return result


def default_output(checkpoint: str | Path, fmt: str) -> Path:
    """``best.pt`` → ``best.onnx`` / ``best.ts`` next to the checkpoint."""
    return Path(checkpoint).with_suffix(FORMATS[fmt])


def export_checkpoint(
    checkpoint: str | Path, out: str | Path | None = None, *, fmt: str = "onnx", **kwargs: Any
) -> ExportResult:
    """Export a posecli checkpoint (EMA weights when present); see :func:`export_model`."""
    from posecli.api import load_checkpoint
    from posecli.engine.checkpoint import read_checkpoint

    if fmt not in FORMATS:
        raise ExportError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    target = Path(out) if out is not None else default_output(checkpoint, fmt)
    if target.exists() and not kwargs.get("force", False):
        raise ExportError(f"{target} exists; pass --force to overwrite it")
    model, recipe = load_checkpoint(checkpoint)
    metainfo = read_checkpoint(checkpoint).get("metainfo") or None
    if not metainfo and recipe.data.skeleton:
        from posecli.api import skeleton_metainfo
        from posecli.data.metainfo import load_skeleton

        metainfo = skeleton_metainfo(load_skeleton(recipe.data.skeleton))
    if getattr(model, "kind", None) == "lifting":  # 2D→3D lifter: keypoint sequences in
        from posecli.export.lifting import export_lifter

        return export_lifter(model, recipe, target, metainfo=metainfo, fmt=fmt, **kwargs)  # type: ignore[no-any-return]
    if getattr(model, "kind", None) == "bottomup":  # network only; grouping in the runtime
        from posecli.models.estimators.bottomup_export import export_bottomup

        return export_bottomup(model, recipe, target, metainfo=metainfo, fmt=fmt, **kwargs)  # type: ignore[no-any-return]
    return export_model(model, recipe, target, metainfo=metainfo, fmt=fmt, **kwargs)


__all__ = [
    "FORMATS",
    "ExportResult",
    "default_output",
    "export_checkpoint",
    "export_model",
    "untraceable_error",
]
