"""Metadata carried by an exported model file (ONNX ``metadata_props``, TorchScript extra files).

Every value is stored as JSON text under a ``posecli.``-prefixed key so that the file can be used
alone: :func:`decode_metadata` turns the string map back into Python values and needs nothing but
the standard library (the deployment path imports it).

Keys (after decoding, without the prefix): ``format_version``, ``posecli_version``, ``recipe``
(recipe name), ``skeleton`` (name), ``keypoint_names`` (K), ``skeleton_links`` (pairs of
indices), ``flip_indices`` (K), ``input_size`` ``[w, h]``, ``codec`` (``{"name", **params}``,
sizes adjusted to the exported input size), ``head``, ``preprocess`` / ``decode`` (what the graph
contains), ``mean`` / ``std`` / ``bgr_to_rgb`` (the model's normalisation), ``bbox_padding``,
``use_udp`` (warp matrix of the recipe's test pipeline), ``batch`` (``"dynamic"`` or N),
``fp16``, ``input_name`` and ``output_names``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

PREFIX = "posecli."
FORMAT_VERSION = 1
TORCHSCRIPT_FILE = "posecli_metadata.json"


def encode_metadata(meta: Mapping[str, Any]) -> dict[str, str]:
    """Plain metadata → ``{"posecli.<key>": json}`` (what ONNX ``metadata_props`` stores)."""
    return {PREFIX + k: json.dumps(v) for k, v in meta.items()}


def decode_metadata(props: Mapping[str, str]) -> dict[str, Any]:
    """``{"posecli.<key>": json}`` → plain metadata; other keys are ignored."""
    out: dict[str, Any] = {}
    for key, text in props.items():
        if key.startswith(PREFIX):
            try:
                out[key[len(PREFIX) :]] = json.loads(text)
            except json.JSONDecodeError:
                out[key[len(PREFIX) :]] = text
    return out


def _links_as_indices(links: Sequence[Any], names: Sequence[str]) -> list[list[int]]:
    """Skeleton links given as name pairs, index pairs or ``{"link": [a, b]}`` → index pairs."""
    index = {n: i for i, n in enumerate(names)}
    pairs: list[list[int]] = []
    for link in links:
        pair = link.get("link") if isinstance(link, Mapping) else link
        if pair is None or len(pair) != 2:
            continue
        a, b = (index.get(p, p) if isinstance(p, str) else p for p in pair)
        if isinstance(a, int) and isinstance(b, int):
            pairs.append([a, b])
    return pairs


def skeleton_fields(metainfo: Mapping[str, Any] | None, num_keypoints: int) -> dict[str, Any]:
    """``skeleton``, ``keypoint_names``, ``skeleton_links`` and ``flip_indices`` of a metainfo."""
    info = dict(metainfo or {})
    kps = info.get("keypoints") or []
    names = [str(k.get("name", i)) if isinstance(k, Mapping) else str(k) for i, k in enumerate(kps)]
    if len(names) != num_keypoints:
        names = [str(i) for i in range(num_keypoints)]
    flip = info.get("flip_indices")
    return {
        "skeleton": info.get("name"),
        "keypoint_names": names,
        "skeleton_links": _links_as_indices(info.get("links") or [], names),
        "flip_indices": [int(i) for i in flip] if flip is not None else list(range(num_keypoints)),
    }


def test_pipeline_geometry(recipe_dict: Mapping[str, Any]) -> tuple[float, bool]:
    """``(bbox padding, use_udp)`` of the recipe's validation pipeline (else the training one)."""
    data = recipe_dict.get("data") or {}
    for split in ("val", "test", "train"):
        steps = (data.get(split) or {}).get("pipeline") or []
        if not steps:
            continue
        padding, udp = 1.25, False
        for step in steps:
            if step.get("name") in ("get_bbox_center_scale", "GetBBoxCenterScale"):
                padding = float(step.get("padding", 1.25))
            if step.get("name") in ("topdown_affine", "TopdownAffine"):
                udp = bool(step.get("use_udp", False))
        return padding, udp
    return 1.25, False


__all__ = [
    "FORMAT_VERSION",
    "PREFIX",
    "TORCHSCRIPT_FILE",
    "decode_metadata",
    "encode_metadata",
    "skeleton_fields",
    "test_pipeline_geometry",
]
