"""Metadata carried by an exported model file (ONNX ``metadata_props``, TorchScript extra file).

Every value is stored as JSON text under a ``posecli.``-prefixed key so that the file can be
used alone; :func:`decode_metadata` needs nothing but the standard library. The keys are the
:meth:`TopDownSpec.to_metadata` fields (``spec_version``, ``input_size``, ``codec``,
``output_kind``, ``flip_test``, ``flip``, ``flip_indices``, ``bbox_padding``, ``use_udp``,
``mean``/``std``/``bgr_to_rgb``, ``preprocess``, the skeleton) plus what the exporter adds
(``format``, ``posecli_version``, ``batch``, ``fp16``, ``input_name``, ``output_names``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

PREFIX = "posecli."


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


__all__ = ["PREFIX", "decode_metadata", "encode_metadata", "skeleton_fields"]
