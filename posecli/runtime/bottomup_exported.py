"""Whole-frame prediction from an exported bottom-up file (``posecli export`` of AE, DEKR,
CID or RTMO), torch-free.

``bottomup_resize`` (its settings in the file's metadata) maps frames in and instances back,
exactly as a checkpoint does
(:meth:`~posecli.models.estimators.bottomup.BottomupPoseEstimator.predict_instances`).

- RTMO: the graph ends at each image's best candidates (``scores, bboxes, keypoints,
  keypoint_scores`` in input pixels); the score threshold and box NMS run here with the
  ``yolox_pose`` codec rebuilt from the metadata.
- AE / DEKR: the graph is the network; the file is run on the frame, on its mirror image for
  the flip test and at each extra scale of AE's multi-scale test, and the
  :class:`~posecli.runtime.bottomup_decoding.BottomupDecoder` rebuilt from the metadata (codec,
  flip indices, NMS settings, DEKR's rescoring weights) merges and groups the outputs.
- CID: the graph ends at the top roots and their heatmaps, with the flip test inside it as
  exported (a different ``flip_test`` is refused); the score threshold and the
  ``decoupled_heatmap`` codec run here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from posecli.errors import PoseCliError
from posecli.runtime.bottomup import images_to_image_space
from posecli.runtime.bottomup_decoding import BottomupDecoder
from posecli.runtime.bottomup_predictor import BottomupPredictor


def exported_bottomup_predictor(
    backend: Any,
    meta: dict[str, Any],
    path: str | Path,
    skeleton: Any = None,
    flip_test: bool | None = None,
) -> BottomupPredictor:
    """A :class:`BottomupPredictor` running an exported file's ``backend`` (ONNX Runtime or
    TorchScript, with ``_run(x)`` on float32 ``(B, 3, H, W)``) with its ``meta``data;
    ``flip_test`` overrides the file's (AE / DEKR)."""
    from posecli.data.transforms.bottomup import BottomupResize

    method = meta.get("method")
    resize = BottomupResize(**dict(meta["resize"]))
    k = int(meta["num_keypoints"])
    if method in ("ae", "dekr"):
        infer = _grouping_infer(backend, meta, path, flip_test)
    elif method == "rtmo":
        infer = _candidates_infer(backend, meta)
    elif method == "cid":
        infer = _cid_infer(backend, meta, path, flip_test)
    else:
        raise PoseCliError(f"{path}: unknown bottom-up method {method!r} in its metadata")
    return BottomupPredictor(
        infer,
        resize,
        k,
        skeleton=skeleton,
        backend=str(getattr(backend, "name", "onnxruntime")),
        device=str(getattr(backend, "device", "cpu")),
        source=str(path),
    )


def _to_image(
    per_image: list[np.ndarray], inputs: np.ndarray, info: dict[str, np.ndarray]
) -> list[np.ndarray]:
    size = (int(inputs.shape[-1]), int(inputs.shape[-2]))
    center = np.asarray(info["input_center"], np.float32).reshape(-1, 2)
    scale = np.asarray(info["input_scale"], np.float32).reshape(-1, 2)
    return images_to_image_space(per_image, size, center, scale)


def _grouping_infer(
    backend: Any, meta: dict[str, Any], path: str | Path, flip_test: bool | None
) -> Any:
    """AE / DEKR: every view through the file, then the metadata's decoder."""
    if "decoder" not in meta:
        raise PoseCliError(
            f"{path}: exported by an older posecli without its decoding settings; export the "
            "checkpoint again (posecli export CHECKPOINT)"
        )
    decoder = BottomupDecoder.from_metadata(dict(meta["decoder"]), _grouping_codec(meta, path))
    flip = bool(meta.get("test", {}).get("flip_test")) if flip_test is None else flip_test
    if flip and decoder.flip_indices is None:
        raise PoseCliError(f"{path}: the flip test needs the file's flip indices (none stored)")

    def run(x: np.ndarray) -> list[np.ndarray]:
        return list(backend._run(np.ascontiguousarray(x, np.float32)))

    def scale_outputs(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        flipped = run(x[..., ::-1]) if flip else None
        return decoder.merge_flip(run(x), flipped, int(x.shape[-1]))

    def infer(inputs: np.ndarray, info: dict[str, Any]) -> tuple[list[np.ndarray], ...]:
        merged = scale_outputs(inputs)
        extra = info.get("aug_inputs") if decoder.multiscale_test else None
        heatmaps = [scale_outputs(x)[0] for x in extra or ()]
        merged = decoder.merge_scales(merged, heatmaps, (inputs.shape[-2], inputs.shape[-1]))
        kps, scores = decoder.decode(merged)
        return _to_image(kps, inputs, info), scores

    return infer


def _grouping_codec(meta: dict[str, Any], path: str | Path) -> Any:
    """The AE / DEKR codec of the metadata (imported directly: no registry, no torch)."""
    from posecli.codecs.associative_embedding import AssociativeEmbedding
    from posecli.codecs.spr import SPR

    args = dict(meta["codec"])
    name = str(args.pop("name", ""))
    classes = {"associative_embedding": AssociativeEmbedding, "spr": SPR}
    if name not in classes:
        raise PoseCliError(f"{path}: codec {name!r} is not an AE / DEKR codec")
    return classes[name](**args)


def _cid_infer(backend: Any, meta: dict[str, Any], path: str | Path, flip_test: bool | None) -> Any:
    """CID: the file's top roots and heatmaps (flip test inside the graph, as exported), then
    the score threshold and the ``decoupled_heatmap`` codec."""
    from posecli.codecs.decoupled_heatmap import DecoupledHeatmap
    from posecli.runtime.bottomup_decoding import decode_cid

    cid = dict(meta["cid"])
    baked = bool(cid["flip_test_in_graph"])
    if flip_test is not None and bool(flip_test) != baked:
        state = "with" if baked else "without"
        raise PoseCliError(
            f"{path}: this CID file was exported {state} the flip test, which is inside its "
            f"graph; export the checkpoint again with --{'no-' if baked else ''}flip-test "
            "for the other"
        )
    codec = DecoupledHeatmap(**{k: v for k, v in dict(meta["codec"]).items() if k != "name"})
    threshold = float(cid["score_threshold"])

    def infer(inputs: np.ndarray, info: dict[str, Any]) -> tuple[list[np.ndarray], ...]:
        scores, _, heatmaps, _ = backend._run(np.ascontiguousarray(inputs, np.float32))[:4]
        kps, kscores = decode_cid(np.asarray(scores), np.asarray(heatmaps), threshold, codec)
        return _to_image(kps, inputs, info), kscores

    return infer


def _candidates_infer(backend: Any, meta: dict[str, Any]) -> Any:
    """RTMO: the file's best candidates, then the codec's score threshold and box NMS."""
    from posecli.codecs.yolox_pose import YOLOXPoseAnnotationProcessor

    codec_args = {k: v for k, v in dict(meta["codec"]).items() if k != "name"}
    codec = YOLOXPoseAnnotationProcessor(**codec_args)

    def infer(inputs: np.ndarray, info: dict[str, np.ndarray]) -> tuple[list[np.ndarray], ...]:
        outs = backend._run(np.ascontiguousarray(inputs, np.float32))
        kps, kscores, boxes, bscores = codec.batch_decode(*outs[:4])
        return _to_image(kps, inputs, info), kscores, _to_image(boxes, inputs, info), bscores

    return infer


__all__ = ["exported_bottomup_predictor"]
