"""What runs after a bottom-up network (AE, DEKR), torch-free: flip merge, multi-scale mean,
grouping / root decoding, DEKR's rescoring and NMS.

One :class:`BottomupDecoder` serves a torch checkpoint
(:class:`~posecli.models.estimators.bottomup.BottomupPoseEstimator`) and an exported ONNX /
TorchScript file (:mod:`posecli.runtime.bottomup_exported`, rebuilt from the file's metadata),
so both decode the same outputs the same way. Its input is the network's raw outputs as numpy
arrays, per view: the plain input, the horizontally flipped input (flip test) and, for AE's
multi-scale test, each extra scale (plain and flipped).

Raw outputs: AE ``(heatmaps (B, K, H, W), tags (B, L·K, H, W))``; DEKR ``(heatmaps
(B, K+1, H, W), displacements (B, 2K, H, W))``. Keypoints come out in input pixels.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from posecli.codecs.flip import flip_heatmaps
from posecli.runtime.bottomup import (
    decode_associative_embedding,
    decode_root_displacement,
    nearby_joints_nms,
)

Outputs = Sequence[np.ndarray]


def merge_ae_flip(
    plain: Outputs,
    flipped: Outputs,
    flip_indices: Sequence[int],
    shift_heatmap: bool,
    tag_per_keypoint: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """MMPose's AE flip test: heatmaps flipped back and averaged; the flipped-back tags
    concatenated after the plain ones (the tag dimension L doubles). ``shift_heatmap`` moves
    the flipped-back heatmaps and tags one pixel right (MMPose's AE config: off)."""
    hm, tags = (np.asarray(a, np.float32) for a in plain[:2])
    fi = list(flip_indices)
    fhm = flip_heatmaps(np.asarray(flipped[0], np.float32), fi, "heatmap", shift_heatmap)
    ftg = np.flip(np.asarray(flipped[1], np.float32), -1)
    if tag_per_keypoint:
        b, c, h, w = ftg.shape
        ftg = ftg.reshape(b, c // len(fi), len(fi), h, w)[:, :, fi].reshape(b, c, h, w)
    ftg = np.array(ftg, copy=True)
    if shift_heatmap:
        ftg[..., 1:] = ftg[..., :-1].copy()
    return (hm + fhm) * 0.5, np.concatenate((tags, ftg), axis=1)


def merge_dekr_flip(
    plain: Outputs,
    flipped: Outputs,
    flip_indices: Sequence[int],
    shift_heatmap: bool,
    input_width: int,
) -> tuple[np.ndarray, np.ndarray]:
    """MMPose's DEKR flip test: heatmaps flipped with the root map kept last, shifted one
    pixel right when ``shift_heatmap``, averaged; displacements flipped as offsets (never
    shifted), x amended by ``(s - 1) / s`` (s = input / heatmap width), averaged."""
    hm, disp = (np.asarray(a, np.float32) for a in plain[:2])
    fi = list(flip_indices)
    fhm = flip_heatmaps(
        np.asarray(flipped[0], np.float32), [*fi, len(fi)], "heatmap", shift_heatmap
    )
    fd = flip_heatmaps(np.asarray(flipped[1], np.float32), fi, "offset", False)
    s = input_width / hm.shape[-1]
    fd[:, ::2] += (s - 1) / s
    return (hm + fhm) * 0.5, (disp + fd) * 0.5


def _source_index(n_out: int, n_in: int, align_corners: bool) -> tuple[np.ndarray, ...]:
    """Left neighbours, right neighbours and weights of torch's bilinear resampling on one
    axis (``F.interpolate(..., mode="bilinear", align_corners=...)``, no antialiasing)."""
    dst = np.arange(n_out, dtype=np.float64)
    if align_corners:
        src = dst * ((n_in - 1) / (n_out - 1)) if n_out > 1 else np.zeros(n_out)
    else:
        src = np.maximum((dst + 0.5) * (n_in / n_out) - 0.5, 0.0)
    lo = np.minimum(np.floor(src).astype(np.int64), n_in - 1)
    hi = np.minimum(lo + 1, n_in - 1)
    return lo, hi, np.where(hi > lo, src - lo, 0.0).astype(np.float32)  # edge: exactly the edge


def resize_bilinear(maps: np.ndarray, size: tuple[int, int], align_corners: bool) -> np.ndarray:
    """``maps (B, C, H, W)`` → ``(B, C, h, w)`` for ``size = (h, w)``, as torch's bilinear
    ``F.interpolate``."""
    m = np.asarray(maps, np.float32)
    y0, y1, wy = _source_index(size[0], m.shape[-2], align_corners)
    x0, x1, wx = _source_index(size[1], m.shape[-1], align_corners)
    rows = m[..., y0, :] * (1 - wy)[:, None] + m[..., y1, :] * wy[:, None]
    return (rows[..., x0] * (1 - wx) + rows[..., x1] * wx).astype(np.float32)


def _encode(a: np.ndarray) -> dict[str, Any]:
    a = np.ascontiguousarray(a, np.float32)
    return {"shape": list(a.shape), "float32": base64.b64encode(a.tobytes()).decode("ascii")}


def _decode(d: dict[str, Any]) -> np.ndarray:
    raw = base64.b64decode(d["float32"])
    return np.frombuffer(raw, np.float32).reshape(d["shape"]).copy()


@dataclass
class RescoreWeights:
    """DEKR's rescoring MLP (``rescore_net``: l1, l2 with ReLU, l3 → predicted OKS) in numpy.

    Features per pose: link vectors and lengths normalised by the mean length of links
    ``norm_indexes`` (clamped ≥ 1), then the keypoint scores.
    ``layers``: ``(weight (out, in), bias (out,))`` of l1, l2, l3.
    """

    norm_indexes: tuple[int, int]
    layers: list[tuple[np.ndarray, np.ndarray]]

    @staticmethod
    def features(
        keypoints: np.ndarray,
        scores: np.ndarray,
        links: Sequence[Sequence[int]],
        norm_indexes: Sequence[int],
    ) -> np.ndarray:
        """``(N, 3L + K)`` from keypoints ``(N, K, 2)`` and scores ``(N, K)``."""
        a = [int(p[0]) for p in links]
        b = [int(p[1]) for p in links]
        kp = np.asarray(keypoints, np.float32)
        rel = kp[:, a, :2] - kp[:, b, :2]  # (N, L, 2)
        length = np.sqrt((rel**2).sum(-1))
        i, j = (int(v) for v in norm_indexes)
        norm = np.maximum((length[:, i] + length[:, j]) / 2, 1.0)[:, None]
        parts = ((rel / norm[..., None]).reshape(len(kp), -1), length / norm, scores)
        return np.concatenate(parts, axis=1).astype(np.float32)

    def __call__(
        self, keypoints: np.ndarray, scores: np.ndarray, links: Sequence[Sequence[int]]
    ) -> np.ndarray:
        """Predicted OKS ``(N,)`` of each pose."""
        x = self.features(keypoints, scores, links, self.norm_indexes)
        for n, (w, bias) in enumerate(self.layers):
            x = x @ w.T + bias
            if n < len(self.layers) - 1:
                x = np.maximum(x, 0.0)
        return x[:, 0].astype(np.float32)

    @classmethod
    def from_module(cls, net: Any) -> RescoreWeights:
        """From a torch :class:`~posecli.models.heads.dekr_head.RescoreNet`."""
        layers = [
            (
                layer.weight.detach().float().cpu().numpy(),
                layer.bias.detach().float().cpu().numpy(),
            )
            for layer in (net.l1, net.l2, net.l3)
        ]
        i, j = net.norm_indexes
        return cls((int(i), int(j)), layers)

    def to_dict(self) -> dict[str, Any]:
        return {
            "norm_indexes": list(self.norm_indexes),
            "layers": [{"weight": _encode(w), "bias": _encode(b)} for w, b in self.layers],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RescoreWeights:
        i, j = (int(v) for v in d["norm_indexes"])
        return cls((i, j), [(_decode(x["weight"]), _decode(x["bias"])) for x in d["layers"]])


@dataclass
class BottomupDecoder:
    """Raw AE / DEKR outputs of every view → instances in input pixels.

    Args:
        method: ``"ae"`` or ``"dekr"``.
        codec: the ``associative_embedding`` (AE) or ``spr`` (DEKR) codec.
        flip_indices: left/right swap; the flip test runs when set.
        shift_heatmap: MMPose's one-pixel shift of flipped-back heatmaps (and AE's tags).
        tag_per_keypoint: AE's tag layout.
        multiscale_test, align_corners: AE's multi-scale test (bilinear resize of every
            scale's heatmaps to the first scale's).
        restore_heatmap_size: AE: heatmaps and tags resized bilinearly to the input size and
            decoded there (the codec at ``heatmap_size = input_size``), as MMPose's AE config.
        nms_dist_thr, nms_joints_thr: DEKR's nearby-joints NMS (0: off).
        skeleton_links, rescore: DEKR's rescoring (root score × predicted OKS), when set.
    """

    method: str
    codec: Any
    flip_indices: list[int] | None = None
    shift_heatmap: bool = False
    tag_per_keypoint: bool = True
    multiscale_test: bool = False
    align_corners: bool = False
    restore_heatmap_size: bool = False
    nms_dist_thr: float = 0.0
    nms_joints_thr: int | None = None
    skeleton_links: list[list[int]] | None = None
    rescore: RescoreWeights | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.method not in ("ae", "dekr"):
            raise ValueError(f"BottomupDecoder decodes AE and DEKR outputs, not {self.method!r}")

    # -- views -----------------------------------------------------------------------------
    def merge_flip(
        self, plain: Outputs, flipped: Outputs | None, input_width: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """One scale's outputs after the flip test (``flipped``: outputs of the flipped input,
        ``None`` without flip test)."""
        if flipped is None:
            return np.asarray(plain[0], np.float32), np.asarray(plain[1], np.float32)
        if self.flip_indices is None:
            raise ValueError("flipped outputs given but the decoder has no flip_indices")
        if self.method == "dekr":
            return merge_dekr_flip(
                plain, flipped, self.flip_indices, self.shift_heatmap, input_width
            )
        return merge_ae_flip(
            plain, flipped, self.flip_indices, self.shift_heatmap, self.tag_per_keypoint
        )

    def merge_scales(
        self,
        first: tuple[np.ndarray, np.ndarray],
        extra_heatmaps: Sequence[np.ndarray] = (),
        input_hw: tuple[int, int] | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """AE's multi-scale test: the mean of the first scale's heatmaps and every extra
        scale's (flip-merged) heatmaps resized to them; the first scale's tags. With
        ``restore_heatmap_size`` every map (tags too) is resized to the input ``input_hw``
        ``(h, w)`` first (what :meth:`decode` then expects)."""
        heatmaps, tags = first
        size = (int(heatmaps.shape[-2]), int(heatmaps.shape[-1]))
        if self.restore_heatmap_size and self.method == "ae":
            if input_hw is None:
                raise ValueError("restore_heatmap_size needs the input size (input_hw)")
            size = (int(input_hw[0]), int(input_hw[1]))
            heatmaps, tags = (self._resized(m, size) for m in (heatmaps, tags))
        if not extra_heatmaps:
            return heatmaps, tags
        total = heatmaps.astype(np.float32).copy()
        for hm in extra_heatmaps:
            total += self._resized(hm, size)
        return total / (1 + len(extra_heatmaps)), tags

    def _resized(self, maps: np.ndarray, size: tuple[int, int]) -> np.ndarray:
        m = np.asarray(maps, np.float32)
        if tuple(m.shape[-2:]) == size:
            return m
        return resize_bilinear(m, size, self.align_corners)

    def grouping_codec(self) -> Any:
        """The codec AE's grouping decodes with: with ``restore_heatmap_size`` the codec at
        ``heatmap_size = input_size`` (maps at input resolution, no rescaling)."""
        c = self.codec
        if not (self.restore_heatmap_size and self.method == "ae"):
            return c
        return type(c)(**{**c.params, "heatmap_size": list(c.input_size)})

    # -- decoding --------------------------------------------------------------------------
    def decode(self, outputs: Outputs) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Merged outputs → per image keypoints ``(N, K, 2)`` (input pixels), scores ``(N, K)``."""
        a, b = (np.asarray(o, np.float32) for o in outputs[:2])
        if self.method == "ae":
            return decode_associative_embedding(a, b, self.grouping_codec())
        c = self.codec
        rescoring = self.rescore is not None and bool(self.skeleton_links)
        kps, scores, kscores = decode_root_displacement(
            a,
            b,
            c.scale_factor,
            max_instances=c.decode_max_instances,
            nms_kernel=c.decode_nms_kernel,
            root_thr=c.decode_thr,
            nms_dist_thr=0.0 if self.rescore is not None else self.nms_dist_thr,
            nms_joints_thr=self.nms_joints_thr,
        )
        if self.rescore is None:
            return kps, scores
        out_k, out_s = [], []
        for kp, sc, ks in zip(kps, scores, kscores, strict=True):
            if len(kp) and rescoring:
                oks = np.nan_to_num(self.rescore(kp, ks, self.skeleton_links or []), nan=0.0)
                sc = sc * oks[:, None]
            if len(kp) and self.nms_dist_thr > 0:
                keep = nearby_joints_nms(
                    kp, ks, self.nms_dist_thr, self.nms_joints_thr, int(c.decode_max_instances)
                )
                kp, sc = kp[keep], sc[keep]
            out_k.append(kp)
            out_s.append(sc.astype(np.float32))
        return out_k, out_s

    # -- exported files --------------------------------------------------------------------
    def to_metadata(self) -> dict[str, Any]:
        """What an exported file carries to rebuild this decoder (the codec goes beside it)."""
        return {
            "method": self.method,
            "flip_indices": self.flip_indices,
            "shift_heatmap": self.shift_heatmap,
            "tag_per_keypoint": self.tag_per_keypoint,
            "multiscale_test": self.multiscale_test,
            "align_corners": self.align_corners,
            "restore_heatmap_size": self.restore_heatmap_size,
            "nms_dist_thr": self.nms_dist_thr,
            "nms_joints_thr": self.nms_joints_thr,
            "skeleton_links": self.skeleton_links,
            "rescore": self.rescore.to_dict() if self.rescore is not None else None,
        }

    @classmethod
    def from_metadata(cls, meta: dict[str, Any], codec: Any) -> BottomupDecoder:
        args = dict(meta)
        rescore = args.pop("rescore", None)
        return cls(
            codec=codec,
            rescore=RescoreWeights.from_dict(rescore) if rescore else None,
            **args,
        )


def decode_cid(
    root_scores: np.ndarray, heatmaps: np.ndarray, score_threshold: float, codec: Any
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """CID after its network: the roots above ``score_threshold`` and their heatmaps through
    the ``decoupled_heatmap`` codec.

    Args:
        root_scores: ``(B, M)``, descending per image. heatmaps: ``(B, M, K, H, W)``.

    Returns:
        per image keypoints ``(N, K, 2)`` in input pixels (the codec's, + 1.5 px as the CID
        head has always placed them) and scores ``(N, K)``.
    """
    out_k: list[np.ndarray] = []
    out_s: list[np.ndarray] = []
    k = int(heatmaps.shape[2])
    for scores, maps in zip(root_scores, heatmaps, strict=True):
        keep = scores > score_threshold
        if not keep.any():
            out_k.append(np.zeros((0, k, 2), np.float32))
            out_s.append(np.zeros((0, k), np.float32))
            continue
        kp, sc = codec.batch_decode(maps[keep][None], scores[keep][None])
        out_k.append((np.asarray(kp[0]) + 1.5).astype(np.float32))
        out_s.append(np.asarray(sc[0], np.float32))
    return out_k, out_s


__all__ = [
    "BottomupDecoder",
    "RescoreWeights",
    "decode_cid",
    "merge_ae_flip",
    "merge_dekr_flip",
    "resize_bilinear",
]
