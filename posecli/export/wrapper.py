"""The exportable module: preprocessing + backbone/neck/head + the head's test-time postprocess.

:class:`ExportWrapper` maps crops ``images (B,3,H,W)`` float32 — BGR 0–255 as the pipeline
makes them, or already normalised RGB with ``preprocess=False`` — to the head's raw outputs
after ``head.postprocess`` (e.g. RLE's sigmoid on σ): ``simcc_x (B,K,Wx), simcc_y (B,K,Wy)``
for SimCC heads, ``heatmaps (B,C,h,w)`` for heatmap heads, ``coords (B,K,2|4)`` normalised for
regression heads.

What is *not* in the graph, and where it runs: the flip test (mirrored crops through the same
graph, flipped back and averaged), the codec's decode with all its options (argmax, DARK, UDP,
SimCC soft-argmax, ``decode_visibility``) and the mapping back to image pixels all run in
:class:`posecli.runtime.Predictor` (numpy), the same code for the checkpoint and every
exported file, so both give the same keypoints; the file's metadata says which of them the
recipe asked for.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn


class ExportWrapper(nn.Module):
    """A :class:`~posecli.models.pose_model.PoseModel` made exportable (see module docstring).

    Args:
        model: the pose model (eval mode; not modified — pass a copy when converting to fp16).
        preprocess: the graph takes BGR 0–255 crops and normalises them itself.
        fp16: run backbone/neck/head in float16 (inputs and outputs stay float32).
    """

    def __init__(self, model: nn.Module, *, preprocess: bool = True, fp16: bool = False) -> None:
        super().__init__()
        self.model: Any = model
        self.preprocess = preprocess
        self.fp16 = fp16

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, ...]:
        m = self.model
        x = m.preprocess(images) if self.preprocess else images.float()
        if self.fp16:
            x = x.half()
        feats = m.backbone(x)
        if hasattr(m, "neck"):
            feats = m.neck(feats)
        out = m.head.postprocess(m.head(tuple(feats)))
        out = tuple(out) if isinstance(out, (tuple, list)) else (out,)
        return tuple(o.float() for o in out) if self.fp16 else out


__all__ = ["ExportWrapper"]
