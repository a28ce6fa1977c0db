"""The exportable module: preprocessing + backbone/neck/head (+ flip test) + in-graph decode.

:class:`ExportWrapper` maps crops ``images (B,3,H,W)`` float32 — BGR 0–255 as the pipeline makes
them, or already normalised RGB with ``preprocess=False`` — to

- ``decode=True``: ``keypoints (B,K,2)`` in input-crop pixels, ``scores (B,K)``, then the raw
  outputs;
- ``decode=False``: the raw outputs only.

Raw outputs are the head's test-time outputs (``head.postprocess``, e.g. RLE's sigmoid on σ):
``simcc_x (B,K,Wx), simcc_y (B,K,Wy)`` for SimCC heads, ``heatmaps (B,C,h,w)`` for heatmap heads,
``coords (B,K,2|4)`` normalised for regression heads.

The in-graph decode is argmax based and reproduces the codec's numpy decode exactly for
``simcc`` (without DARK), ``msra_heatmap`` (plain, quarter-offset refinement), ``regression``
and ``integral_regression``. Codecs that refine with DARK/UDP/blur (``msra_heatmap`` unbiased,
``udp_heatmap``, ``megvii_heatmap``, ``simcc`` with ``use_dark`` or ``soft_argmax_beta``) keep
their decode in Python:
the graph then returns raw outputs and :mod:`posecli.deploy` decodes them with the codec.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from posecli.export.errors import ExportError

GRAPH_DECODABLE = ("simcc", "msra_heatmap", "regression", "integral_regression")


def graph_decodable(codec: Any) -> bool:
    """True when the codec's decode can be done exactly in the exported graph."""
    name = getattr(codec, "name", "")
    if name not in GRAPH_DECODABLE:
        return False
    if name == "simcc":
        soft = getattr(codec, "soft_argmax_beta", None) is not None
        return not codec.use_dark and not codec.decode_visibility and not soft
    if name == "msra_heatmap":
        return not codec.unbiased
    return True


class SimCCDecode(nn.Module):
    """Argmax of SimCC vectors ``(B,K,Wx)``, ``(B,K,Wy)`` → keypoints ``(B,K,2)``, scores."""

    def __init__(self, split_ratio: float) -> None:
        super().__init__()
        self.split_ratio = float(split_ratio)

    def forward(
        self, simcc_x: torch.Tensor, simcc_y: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        ix = simcc_x.argmax(dim=-1, keepdim=True)
        iy = simcc_y.argmax(dim=-1, keepdim=True)
        vx = simcc_x.gather(-1, ix).squeeze(-1)
        vy = simcc_y.gather(-1, iy).squeeze(-1)
        scores = torch.minimum(vx, vy)
        locs = torch.cat((ix, iy), dim=-1).to(simcc_x.dtype)
        locs = torch.where((scores <= 0).unsqueeze(-1), torch.full_like(locs, -1.0), locs)
        return locs / self.split_ratio, scores


class HeatmapDecode(nn.Module):
    """MSRA decode of heatmaps ``(B,K,H,W)``: first argmax, ±0.25 step toward the larger
    neighbour (MMPose's bounds, or every interior pixel with ``refine_x_at_1``), × scale."""

    def __init__(self, scale: Sequence[float], refine_x_at_1: bool = False) -> None:
        super().__init__()
        self.scale: torch.Tensor
        self.register_buffer("scale", torch.tensor(list(scale), dtype=torch.float32))
        self.refine_x_at_1 = bool(refine_x_at_1)

    def forward(self, heatmaps: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h, w = int(heatmaps.shape[-2]), int(heatmaps.shape[-1])
        flat = heatmaps.flatten(2)
        idx = flat.argmax(dim=-1, keepdim=True)
        scores = flat.gather(-1, idx).squeeze(-1)
        idx = idx.squeeze(-1)
        x = idx % w
        y = torch.div(idx, w, rounding_mode="floor")
        empty = scores <= 0
        x = torch.where(empty, torch.full_like(x, -1), x)
        y = torch.where(empty, torch.full_like(y, -1), y)
        if self.refine_x_at_1:
            okx = (x > 0) & (x < w - 1) & (y >= 0) & (y < h)
            oky = (y > 0) & (y < h - 1) & (x >= 0) & (x < w)
        else:  # MMPose: column/row 1 and row/column 0 are never refined
            okx = (x > 1) & (x < w - 1) & (y > 0) & (y < h)
            oky = (y > 1) & (y < h - 1) & (x > 0) & (x < w)
        xc, yc = x.clamp(1, w - 2), y.clamp(1, h - 2)
        xr, yr = x.clamp(0, w - 1), y.clamp(0, h - 1)

        def at(index: torch.Tensor) -> torch.Tensor:
            return flat.gather(-1, index.unsqueeze(-1)).squeeze(-1)

        dx = at(yr * w + (xc + 1).clamp(max=w - 1)) - at(yr * w + xc - 1)
        dy = at((yc + 1).clamp(max=h - 1) * w + xr) - at((yc - 1) * w + xr)
        step = torch.stack(
            (
                torch.where(okx, dx, torch.zeros_like(dx)),
                torch.where(oky, dy, torch.zeros_like(dy)),
            ),
            dim=-1,
        )
        locs = torch.stack((x, y), dim=-1).to(heatmaps.dtype) + torch.sign(step) * 0.25
        return locs * self.scale, scores


class CoordsDecode(nn.Module):
    """Normalised coordinates ``(B,K,2|4)`` → keypoints ``(B,K,2)`` × input size; scores 1, or
    ``mean(1 - σ)`` for RLE outputs ``(x, y, σx, σy)``."""

    def __init__(self, input_size: Sequence[int]) -> None:
        super().__init__()
        self.size: torch.Tensor
        self.register_buffer("size", torch.tensor(list(input_size), dtype=torch.float32))

    def forward(self, coords: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if coords.shape[-1] == 4:
            scores = (1 - coords[..., 2:]).mean(dim=-1)
        else:
            scores = torch.ones_like(coords[..., 0])
        return coords[..., :2] * self.size, scores


def build_decoder(codec: Any) -> nn.Module:
    """The in-graph decoder of a graph-decodable codec (see :func:`graph_decodable`)."""
    name = codec.name
    if name == "simcc":
        return SimCCDecode(codec.simcc_split_ratio)
    if name == "msra_heatmap":
        return HeatmapDecode([float(s) for s in codec.scale_factor], codec.refine_x_at_1)
    if name in ("regression", "integral_regression"):
        return CoordsDecode(codec.input_size)
    raise ExportError(f"codec {name!r} has no in-graph decode")


def raw_output_names(outputs: Any) -> list[str]:
    """Names of a head's raw outputs: ``simcc_x/simcc_y``, ``heatmaps`` or ``coords``."""
    if isinstance(outputs, (tuple, list)):
        if len(outputs) == 2:
            return ["simcc_x", "simcc_y"]
        return [f"output_{i}" for i in range(len(outputs))]
    return ["heatmaps"] if outputs.ndim == 4 else ["coords"]


class ExportWrapper(nn.Module):
    """A :class:`~posecli.models.pose_model.PoseModel` made exportable (see module docstring).

    Args:
        model: the pose model (eval mode; not modified — pass a copy when converting to fp16).
        codec: the codec for the exported input size (``model.codec`` by default).
        preprocess: the graph takes BGR 0–255 crops and normalises them itself.
        decode: add the in-graph decode (only for :func:`graph_decodable` codecs).
        flip_test: run the horizontally flipped crop too and merge (as ``model.predict``).
        fp16: run backbone/neck/head in float16 (inputs and outputs stay float32).
    """

    def __init__(
        self,
        model: nn.Module,
        codec: Any = None,
        *,
        preprocess: bool = True,
        decode: bool = True,
        flip_test: bool = False,
        fp16: bool = False,
    ) -> None:
        super().__init__()
        self.model: Any = model
        pose: Any = model
        self.codec = codec if codec is not None else pose.codec
        self.preprocess = preprocess
        self.flip_test = flip_test
        self.fp16 = fp16
        self.flip_indices: list[int] = list(pose.flip_indices or []) if flip_test else []
        if flip_test and not self.flip_indices:
            raise ExportError("flip test needs the skeleton's flip_indices")
        self.decoder = build_decoder(self.codec) if decode else None

    @property
    def decode(self) -> bool:
        return self.decoder is not None

    def _raw(self, x: torch.Tensor) -> Any:
        m = self.model
        if self.fp16:
            x = x.half()
        feats = m.backbone(x)
        if hasattr(m, "neck"):
            feats = m.neck(feats)
        out = m.head.postprocess(m.head(tuple(feats)))
        if self.fp16:
            out = tuple(o.float() for o in out) if isinstance(out, (tuple, list)) else out.float()
        return out

    def raw_outputs(self, images: torch.Tensor) -> Any:
        """Head outputs after test-time postprocessing (and flip merging)."""
        m = self.model
        x = m.preprocess(images) if self.preprocess else images.float()
        out = self._raw(x)
        if self.flip_test:
            back = m.head.flip_back(
                self._raw(x.flip(-1)), self.flip_indices, m.effective_test_cfg()
            )
            out = m.head.merge(out, back)
        return out

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, ...]:
        raw = self.raw_outputs(images)
        raw_t = tuple(raw) if isinstance(raw, (tuple, list)) else (raw,)
        if self.decoder is None:
            return raw_t
        keypoints, scores = self.decoder(*raw_t)
        return (keypoints, scores, *raw_t)

    def output_names(self, images: torch.Tensor) -> list[str]:
        """Names of :meth:`forward`'s outputs for ``images``."""
        with torch.no_grad():
            raw = raw_output_names(self.raw_outputs(images))
        return (["keypoints", "scores"] if self.decode else []) + raw


__all__ = [
    "GRAPH_DECODABLE",
    "CoordsDecode",
    "ExportWrapper",
    "HeatmapDecode",
    "SimCCDecode",
    "build_decoder",
    "graph_decodable",
    "raw_output_names",
]
