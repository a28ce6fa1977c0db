"""Export of bottom-up models (``model.kind = "bottomup"``): the network part only.

The graph is the estimator's tensor mode: images ``(B, 3, H, W)`` BGR 0–255 (H, W dynamic,
multiples of the resize's size factor) → AE ``(heatmaps, tags)`` / DEKR ``(heatmaps,
displacements)``; RTMO (fixed H, W: the recipe's input size, which ``bottomup_resize`` in
``fit`` mode always gives) → its ``nms_pre`` best candidates ``(scores, bboxes, keypoints,
keypoint_scores)``, whose score threshold and box NMS run after the graph. AE / DEKR flip
merging, grouping and NMS are not in the graph: they run torch-free
after it (:mod:`posecli.runtime.bottomup_decoding`), from what the metadata carries
(``posecli.*`` keys: ``kind``, ``method``, codec table, flip indices, test settings, resize,
skeleton, and for AE / DEKR the ``decoder`` table with DEKR's rescoring weights). CID's
decoding conditions the network on the roots it finds, so its graph runs up to the top
``max_instances`` roots and their heatmaps ``(root_scores, root_cells, instance_heatmaps, root_map)``,
with the flip test inside it when the recipe has it (the file keeps that choice); the score
threshold and the keypoint decode run after it.
``check`` runs the file and the checkpoint's network on the same random image and fails above
``tolerance``.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from posecli.errors import PoseCliError


class BottomupExportError(PoseCliError):
    """Export or parity check of a bottom-up model failed."""


@dataclass
class BottomupCheckReport:
    """Largest raw-output difference between the exported file and the checkpoint."""

    max_abs_diff: float
    tolerance: float
    size: tuple[int, int]

    @property
    def passed(self) -> bool:
        return self.max_abs_diff <= self.tolerance

    def summary(self) -> str:
        return (
            f"max |exported - checkpoint| = {self.max_abs_diff:.2e} on a random "
            f"{self.size[0]}x{self.size[1]} image, tolerance {self.tolerance:g}"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "max_abs_diff": self.max_abs_diff,
            "tolerance": self.tolerance,
            "size": list(self.size),
        }


class _Graph(torch.nn.Module):
    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return tuple(self.model(images))


class _CIDGraph(torch.nn.Module):
    """CID up to its decode: the top roots and their heatmaps, with the flip test (mirrored
    images through the same network) inside the graph when ``flip_indices`` is given."""

    def __init__(self, model: Any, flip_indices: list[int] | None) -> None:
        super().__init__()
        self.model = model
        self.flip_indices = flip_indices

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, ...]:
        feats = self.model.extract_feats(images)
        flipped = None
        if self.flip_indices is not None:
            flipped = self.model.extract_feats(images.flip(-1))
        return tuple(self.model.head.instance_maps(feats, flipped, self.flip_indices))


def bottomup_metadata(model: Any, recipe: Any, metainfo: dict[str, Any] | None) -> dict[str, Any]:
    """What the runtime needs beside the graph."""
    from posecli.models.estimators.bottomup_predict import resize_of

    resize = resize_of(recipe)
    extra: dict[str, Any] = {}
    if model.method in ("ae", "dekr"):  # what BottomupDecoder needs after the graph
        extra["decoder"] = model.decoder(model.flip_indices).to_metadata()
    if model.method == "cid":  # the flip test is in the graph: the file keeps its choice
        extra["cid"] = {
            "score_threshold": float(model.head.score_threshold),
            "flip_test_in_graph": bool(model.test_cfg.flip_test),
        }
    return {
        "kind": "bottomup",
        "method": model.method,
        "codec": model.codec.to_dict(),
        "num_keypoints": int(model.num_keypoints),
        "flip_indices": model.flip_indices,
        "flip_test": bool(model.test_cfg.flip_test),
        "test": model.test_cfg.model_dump(),
        "resize": {
            "input_size": list(resize.input_size),
            "size_factor": resize.size_factor,
            "resize_mode": resize.resize_mode,
            "use_udp": resize.use_udp,
            "pad_val": resize.pad_val,
            "aug_scales": list(resize.aug_scales),
        },
        "metainfo": metainfo or {},
        **extra,
    }


#: graph outputs of each exportable method
_OUTPUT_NAMES = {
    "ae": ["heatmaps", "tags"],
    "dekr": ["heatmaps", "displacements"],
    "rtmo": ["scores", "bboxes", "keypoints", "keypoint_scores", "anchor_indices"],
    "cid": ["root_scores", "root_cells", "instance_heatmaps", "root_map"],
}

_DEFORM_OPSET = 19  # ONNX DeformConv (ONNX Runtime runs it on the CPU)


def _deform_conv_symbolic(
    g: Any, inp: Any, weight: Any, offset: Any, mask: Any, bias: Any, *args: Any
) -> Any:
    """``torchvision::deform_conv2d`` → ONNX ``DeformConv`` (opset 19)."""
    from torch.onnx.symbolic_helper import _get_const

    sh, sw, ph, pw, dh, dw, ng, nog, use_mask = (_get_const(a, "i", "deform_conv2d") for a in args)
    inputs = [inp, weight, offset, bias] + ([mask] if use_mask else [])
    return g.op(
        "DeformConv",
        *inputs,
        strides_i=[sh, sw],
        pads_i=[ph, pw, ph, pw],
        dilations_i=[dh, dw],
        group_i=ng,
        offset_group_i=nog,
    )


def _register_deform_conv() -> None:
    from torch.onnx import register_custom_op_symbolic

    register_custom_op_symbolic("torchvision::deform_conv2d", _deform_conv_symbolic, _DEFORM_OPSET)


def _run_exported(path: Path, fmt: str, x: torch.Tensor) -> list[np.ndarray]:
    if fmt == "onnx":
        import onnxruntime as ort

        sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        return list(sess.run(None, {"images": x.numpy()}))
    out = torch.jit.load(str(path))(x)
    return [o.detach().numpy() for o in out]


def _candidate_diff(ref: list[np.ndarray], got: list[np.ndarray], side: float) -> float:
    """Largest difference of RTMO candidates paired by anchor index (the last output): the
    sorted scores, and every output on the anchors both runs picked (near-equal scores at the
    ``nms_pre`` boundary may pick different anchors; at most a tenth may differ). Boxes and
    keypoints (pixels) count in units of the input's longer ``side``."""
    diff = float(np.abs(np.sort(ref[0], axis=1) - np.sort(got[0], axis=1)).max())
    for b in range(ref[0].shape[0]):
        r_idx, g_idx = ref[-1][b].astype(np.int64), got[-1][b].astype(np.int64)
        common, ri, gi = np.intersect1d(r_idx, g_idx, return_indices=True)
        if len(common) < 0.9 * len(r_idx):
            return float("inf")
        for i, (r, g) in enumerate(zip(ref[:-1], got[:-1], strict=True)):
            unit = side if i in (1, 2) else 1.0  # bboxes, keypoints: pixels
            diff = max(diff, float(np.abs(r[b][ri] - g[b][gi]).max()) / unit)
    return diff


def _root_diff(ref: list[np.ndarray], got: list[np.ndarray]) -> float:
    """Largest difference of CID outputs: the whole root map, and the scores and heatmaps of
    the roots both runs found at the same cells (where the map is nearly flat, as an
    untrained net's, float noise decides which near-equal cells are peaks; one common root
    per image suffices)."""
    diff = float(np.abs(ref[3] - got[3]).max())
    w = int(ref[2].shape[-1])
    for b in range(ref[0].shape[0]):
        r_cell = ref[1][b, :, 1].astype(np.int64) * w + ref[1][b, :, 0].astype(np.int64)
        g_cell = got[1][b, :, 1].astype(np.int64) * w + got[1][b, :, 0].astype(np.int64)
        common, ri, gi = np.intersect1d(r_cell, g_cell, return_indices=True)
        if len(common) == 0:
            return float("inf")
        diff = max(diff, float(np.abs(ref[0][b][ri] - got[0][b][gi]).max()))
        diff = max(diff, float(np.abs(ref[2][b][ri] - got[2][b][gi]).max()))
    return diff


def export_bottomup(
    model: Any,
    recipe: Any,
    out: str | Path,
    *,
    metainfo: dict[str, Any] | None = None,
    fmt: str = "onnx",
    opset: int = 17,
    check: bool = False,
    tolerance: float = 1e-3,
    force: bool = False,
    flip_test: bool | None = None,
    **_: Any,
) -> Any:
    """Write the network of a bottom-up model to ``out``; see the module docstring.
    ``flip_test`` replaces the recipe's (``model.test.flip_test``) in the file."""
    from posecli.export.exporter import ExportResult

    path = Path(out)
    if path.exists() and not force:
        raise BottomupExportError(f"{path} exists; pass --force to overwrite it")
    if fmt not in ("onnx", "torchscript"):
        raise BottomupExportError(f"unknown format {fmt!r}; choose onnx or torchscript")
    if model.method not in _OUTPUT_NAMES:
        raise BottomupExportError(f"{type(model.head).__name__} cannot be exported")
    copied = copy.deepcopy(model).float()
    if flip_test is not None:
        if flip_test and copied.flip_indices is None:
            raise BottomupExportError("the flip test needs the skeleton's flip indices")
        copied.test_cfg = copied.test_cfg.model_copy(update={"flip_test": bool(flip_test)})
    model = copied
    if model.method == "cid":
        flip = model.flip_indices if model.test_cfg.flip_test else None
        if model.test_cfg.flip_test and flip is None:
            raise BottomupExportError("the flip test needs the skeleton's flip indices")
        graph: torch.nn.Module = _CIDGraph(copied, flip).eval()
    else:
        graph = _Graph(copied).eval()
    w, h = (int(v) for v in recipe.input_size)
    dummy = torch.zeros(1, 3, h, w)
    names = _OUTPUT_NAMES[model.method]
    meta = bottomup_metadata(model, recipe, metainfo)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        if fmt == "onnx":
            from posecli.export.onnx import add_onnx_metadata

            dyn = {0: "batch", 2: "height", 3: "width"}
            out_dyn: dict[int, str] = dyn
            if model.method == "rtmo":  # anchor grid of the recipe's input size: fixed H, W
                dyn, out_dyn = {0: "batch"}, {0: "batch"}
            if model.method == "dekr":  # adaptive convolutions: ONNX DeformConv
                _register_deform_conv()
                opset = max(opset, _DEFORM_OPSET)
            torch.onnx.export(
                graph,
                (dummy,),
                str(path),
                input_names=["images"],
                output_names=names,
                dynamic_axes={"images": dyn, **{n: out_dyn for n in names}},
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
        raise BottomupExportError(
            f"cannot export the bottom-up model to {fmt}: {type(exc).__name__}: {first}"
        ) from None
    summaries = {
        "ae": "network only (dynamic H, W); flip merge, grouping run torch-free",
        "dekr": "network only (dynamic H, W); flip merge, rescoring, NMS run torch-free",
        "rtmo": "network up to the best candidates; score threshold, box NMS run torch-free",
        "cid": "network up to the top roots' heatmaps (flip test "
        + ("in the graph" if model.test_cfg.flip_test else "off")
        + "); score threshold, keypoint decode run torch-free",
    }
    summary = f"{model.method} {summaries[model.method]} (posecli.runtime.bottomup_decoding)"
    result = ExportResult(path, fmt, exporter, meta, summary=summary)
    if check:
        # another size than the traced one where the axes are dynamic (RTMO: the input size)
        size = (w, h) if model.method == "rtmo" else (w + 32, h)
        x = torch.from_numpy(
            np.random.default_rng(1).integers(0, 256, (1, 3, size[1], size[0])).astype(np.float32)
        )
        with torch.no_grad():
            ref = [r.numpy() for r in graph(x)]
        got = _run_exported(path, fmt, x)
        if model.method == "rtmo":
            diff = _candidate_diff(ref, got, float(max(size)))
        elif model.method == "cid":
            diff = _root_diff(ref, got)
        else:
            diff = max(float(np.abs(a - b).max()) for a, b in zip(ref, got, strict=True))
        report = BottomupCheckReport(diff, tolerance, size)
        result.report = report
        if not report.passed:
            path.unlink(missing_ok=True)
            raise BottomupExportError(f"parity check failed, {path} removed: {report.summary()}")
    return result


__all__ = ["BottomupExportError", "bottomup_metadata", "export_bottomup"]
