"""``posecli predict --lift``: lift the 2D poses of a finished run to 3D, per track.

After the 2D stage has written ``predictions.json``, :func:`run_lift_stage` groups the
instances by ``track_id`` (or by their order in the frame when untracked), lifts every track's
keypoint sequence with a lifting checkpoint (:class:`Lifter`), and adds to each instance
``keypoints_3d`` (K×3, root-relative metres, camera axes: x right, y down, z forward) and, when
the lifter has a trajectory model, ``keypoints_3d_camera`` (camera space). It also writes
``predictions_3d.csv`` and, with ``--render``, puts a 3D skeleton view beside the 2D overlay
in the rendered video.

Sequences: TCN lifters see a window of their receptive field around each frame (edge frames
repeated; ``causal`` windows end on the frame, for webcams); MotionBERT lifters see clips of
their ``seq_len`` frames. COCO-17 2D poses are converted to Human3.6M-17 (MMPose's mapping)
when the lifter's skeleton is ``h36m``.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from posecli.data.datasets.sequences import clip_indices, window_indices
from posecli.errors import PoseCliError


def coco_to_h36m(keypoints: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """COCO-17 ``(..., 17, 2)`` → Human3.6M-17 (MMPose's conversion for the lifting demo).

    root = mid-hip, thorax = mid-shoulder, spine = mid(root, thorax), head = mid-eye, neck base =
    nose; limbs copied. Scores follow the same rule (means of the sources).
    """
    src = np.concatenate(
        [np.asarray(keypoints, np.float32), np.asarray(scores, np.float32)[..., None]], axis=-1
    )
    a = np.zeros_like(src)  # (..., 17, 3): x, y, score
    a[..., 0, :] = (src[..., 11, :] + src[..., 12, :]) / 2
    a[..., 8, :] = (src[..., 5, :] + src[..., 6, :]) / 2
    a[..., 7, :] = (a[..., 0, :] + a[..., 8, :]) / 2
    a[..., 10, :] = (src[..., 1, :] + src[..., 2, :]) / 2
    a[..., [1, 2, 3, 4, 5, 6, 9, 11, 12, 13, 14, 15, 16], :] = src[
        ..., [12, 14, 16, 11, 13, 15, 0, 5, 7, 9, 6, 8, 10], :
    ]
    out, osc = a[..., :2], a[..., 2]
    return out, osc


@dataclass
class Lifter:
    """A lifting model ready to lift tracks (see :meth:`lift_track`)."""

    model: Any
    recipe: Any
    skeleton: Any
    device: torch.device
    batch_size: int = 256

    @classmethod
    def load(cls, spec: str | Path, device: str = "cpu", batch_size: int = 256) -> Lifter:
        """A lifter from a posecli lifting checkpoint."""
        from posecli.api import load_checkpoint
        from posecli.data.metainfo import load_skeleton

        text = str(spec)
        if text.startswith("mmpose://"):
            model, recipe = _zoo_lifter(text.removeprefix("mmpose://"))
        else:
            if not Path(text).is_file():
                raise PoseCliError(f"--lift {text}: checkpoint not found")
            model, recipe = load_checkpoint(text)
        if getattr(model, "kind", None) != "lifting":
            raise PoseCliError(
                f"--lift {text}: not a lifting checkpoint (model.kind is not 'lifting')"
            )
        dev = torch.device(device if device != "auto" else "cpu")
        skeleton = load_skeleton(recipe.data.skeleton) if recipe.data.skeleton else None
        return cls(model.to(dev).eval(), recipe, skeleton, dev, batch_size)

    @property
    def num_keypoints(self) -> int:
        return int(self.model.num_keypoints)

    @property
    def seq_len(self) -> int:
        """Frames the lifter sees for one output (TCN) or per clip (MotionBERT)."""
        bb = self.model.backbone
        return int(getattr(bb, "receptive_field", getattr(bb, "seq_len", 1)))

    def _encode(self, kps: np.ndarray, vis: np.ndarray, w: float, h: float) -> np.ndarray:
        cam = {"w": float(w), "h": float(h)}
        codec = self.model.codec
        name = type(codec).__name__
        if name == "ImagePoseLifting":
            out = codec.encode(kps, vis)
        else:
            out = codec.encode(kps, vis, camera_param=cam)
        return np.asarray(out["keypoint_labels"], np.float32)

    @torch.no_grad()
    def _run(self, inputs: np.ndarray) -> tuple[torch.Tensor, torch.Tensor | None]:
        poses, trajs = [], []
        fi = self.model.flip_indices if self.model.test_cfg.flip_test else None
        for i in range(0, len(inputs), self.batch_size):
            x = torch.from_numpy(np.ascontiguousarray(inputs[i : i + self.batch_size]))
            pose, traj = self.model.predict_outputs(x.to(self.device), fi)
            poses.append(pose.float().cpu())
            if traj is not None:
                trajs.append(traj.float().cpu())
        return torch.cat(poses), (torch.cat(trajs) if trajs else None)

    def lift_track(
        self,
        keypoints: np.ndarray,
        scores: np.ndarray,
        image_size: tuple[float, float],
        causal: bool | None = None,
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """One track ``(F, K, 2)`` pixels + scores ``(F, K)`` → root-relative 3D ``(F, K, 3)``
        in metres and, with a trajectory model, camera-space 3D ``(F, K, 3)`` (else ``None``)."""
        kps = np.asarray(keypoints, np.float32)
        vis = np.asarray(scores, np.float32)
        n = len(kps)
        if kps.ndim != 3 or kps.shape[1] != self.num_keypoints:
            raise PoseCliError(
                f"--lift: the 2D model gives {kps.shape[1] if kps.ndim == 3 else '?'} keypoints, "
                f"the lifter expects {self.num_keypoints}"
            )
        w, h = image_size
        labels = self._encode(kps, vis, w, h)
        causal = self.model.causal if causal is None else causal
        model = self.model
        if model.sequence_layout == "tokens":  # MotionBERT: (F, K, C) → clips (S, T, K, C)
            t = min(self.seq_len, n)
            idx = clip_indices(n, t, pad_last=True)
            pose, _ = self._run(labels[idx])
            wh = np.tile(np.array([[w, h]], np.float32), (len(idx), 1))
            kp3 = model.decode(pose, None, wh, None).reshape(-1, self.num_keypoints, 3)[:n]
            return kp3, None
        # TCN: (K·C, F) → one window per frame (S=F, K·C, L)
        idx = window_indices(n, self.seq_len, 1, causal=bool(causal), pad=True)
        inputs = labels[:, idx].transpose(1, 0, 2)
        pose, traj = self._run(inputs)
        rel = model.decode(pose, None)
        cam = None
        if traj is not None:
            cam = rel + traj.numpy().reshape(n, 1, 3)
        return rel, cam


def _zoo_lifter(name: str) -> tuple[Any, Any]:
    """A published MMPose lifter: the shipped recipe ``h36m/NAME.toml`` + its weights (strict)."""
    from posecli.api import build_model
    from posecli.models.weights import load_pretrained
    from posecli.recipe import load_recipe

    path = Path(__file__).resolve().parents[1] / "recipes" / "h36m" / f"{name}.toml"
    if not path.is_file():
        known = sorted(p.stem for p in path.parent.glob("*.toml"))
        raise PoseCliError(f"--lift mmpose://{name}: unknown lifter (known: {', '.join(known)})")
    recipe = load_recipe(path)
    model = build_model(recipe, pretrained=False)
    load_pretrained(model, f"mmpose://{name}", strict=True)
    return model.eval(), recipe


def _tracks(frames: list[dict[str, Any]]) -> dict[Any, list[tuple[int, int]]]:
    """``track key → [(frame position, instance position), ...]`` in frame order."""
    tracks: dict[Any, list[tuple[int, int]]] = {}
    for fpos, fr in enumerate(frames):
        for ipos, inst in enumerate(fr.get("instances", [])):
            tid = inst.get("track_id")
            key = ("track", tid) if tid is not None else ("slot", ipos)
            tracks.setdefault(key, []).append((fpos, ipos))
    return tracks


def lift_predictions(
    doc: dict[str, Any], lifter: Lifter, image_size: tuple[float, float], causal: bool | None = None
) -> int:
    """Add ``keypoints_3d`` (and ``keypoints_3d_camera``) to every instance of a predictions
    document, in place; returns the number of instances lifted."""
    frames = doc.get("frames", [])
    convert = (
        lifter.skeleton is not None
        and lifter.skeleton.name == "h36m"
        and (doc.get("skeleton") or {}).get("name") == "coco"
    )
    count = 0
    for members in _tracks(frames).values():
        insts = [frames[f]["instances"][i] for f, i in members]
        kps = np.array(
            [[[np.nan if v is None else v for v in p] for p in x["keypoints"]] for x in insts],
            np.float32,
        )
        sc = np.array(
            [[0.0 if v is None else v for v in x["keypoint_scores"]] for x in insts], np.float32
        )
        bad = ~np.isfinite(kps).all(-1)
        kps[bad] = 0.0
        sc[bad] = 0.0
        if convert:
            kps, sc = coco_to_h36m(kps, sc)
        rel, cam = lifter.lift_track(kps, sc, image_size, causal)
        for j, inst in enumerate(insts):
            inst["keypoints_3d"] = np.round(rel[j].astype(np.float64), 5).tolist()
            if cam is not None:
                inst["keypoints_3d_camera"] = np.round(cam[j].astype(np.float64), 5).tolist()
        count += len(insts)
    doc["lifting"] = {
        "recipe": lifter.recipe.name,
        "skeleton": lifter.skeleton.name if lifter.skeleton is not None else None,
        "units": "metres, root-relative, camera axes (x right, y down, z forward)",
        "converted_from_coco": bool(convert),
    }
    return count


def write_csv_3d(doc: dict[str, Any], path: Path, names: list[str]) -> None:
    """``frame, track_id, <name>_x, <name>_y, <name>_z, ...`` rows, one per lifted instance."""
    from posecli.data.io import atomic_write

    with atomic_write(path, "w", force=True) as fh:
        out = csv.writer(fh)
        out.writerow(["frame", "track_id"] + [f"{n}_{a}" for n in names for a in "xyz"])
        for fr in doc.get("frames", []):
            for inst in fr.get("instances", []):
                if "keypoints_3d" in inst:
                    flat = [v for p in inst["keypoints_3d"] for v in p]
                    out.writerow([fr.get("frame"), inst.get("track_id"), *flat])


def run_lift_stage(
    spec: str | Path,
    out: Path,
    *,
    render: bool = False,
    causal: bool | None = None,
    device: str = "cpu",
) -> dict[str, str]:
    """Lift ``out/predictions.json`` in place; write ``predictions_3d.csv``; with ``render``,
    rebuild the rendered ``*_pose.mp4`` with the 3D view beside the 2D overlay.

    Returns the files written (kind → path).
    """
    from posecli.data.io import atomic_write
    from posecli.inference.writers import load_predictions

    pred_path = Path(out) / "predictions.json"
    if not pred_path.is_file():
        raise PoseCliError(f"--lift: {pred_path} was not written (keep --to json)")
    lifter = Lifter.load(spec, device=device)
    doc = load_predictions(pred_path)
    size = _image_size(doc, Path(out))
    lift_predictions(doc, lifter, size, causal)
    with atomic_write(pred_path, "w", force=True) as fh:
        json.dump(doc, fh)
    names = list(
        getattr(lifter.skeleton, "keypoint_names", ())
        or [f"k{i}" for i in range(lifter.num_keypoints)]
    )
    csv_path = Path(out) / "predictions_3d.csv"
    write_csv_3d(doc, csv_path, names)
    files = {"json": str(pred_path), "csv_3d": str(csv_path)}
    if render:
        from posecli.visualization.pose3d import render_side_by_side

        for video in sorted(Path(out).glob("*_pose.mp4")):
            render_side_by_side(video, doc, lifter.skeleton)
            files["render"] = str(video)
    return files


def _image_size(doc: dict[str, Any], out: Path) -> tuple[float, float]:
    for key in ("image_size", "frame_size"):
        if doc.get(key):
            w, h = doc[key][:2]
            return float(w), float(h)
    for fr in doc.get("frames", []):
        for key in ("image_size", "size", "width"):
            if key in fr:
                v = fr[key]
                return (
                    (float(v[0]), float(v[1]))
                    if key != "width"
                    else (float(fr["width"]), float(fr["height"]))
                )
    src = doc.get("source")
    if src:
        import cv2

        cap = cv2.VideoCapture(str(src))
        if cap.isOpened():
            w, h = cap.get(cv2.CAP_PROP_FRAME_WIDTH), cap.get(cv2.CAP_PROP_FRAME_HEIGHT)
            cap.release()
            if w > 0 and h > 0:
                return float(w), float(h)
        img = cv2.imread(str(src))
        if img is not None:
            return float(img.shape[1]), float(img.shape[0])
    raise PoseCliError("--lift: cannot tell the image size of the source (needed to normalise 2D)")


__all__ = ["Lifter", "coco_to_h36m", "lift_predictions", "run_lift_stage", "write_csv_3d"]
