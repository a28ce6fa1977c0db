"""``posecli predict --lift``: 2D poses lifted to 3D per track while the video streams.

:class:`LiftStream` sits in front of a run's sinks: every frame's instances join their
track's history (``track_id``, or the position in the frame when untracked), and a frame is
handed on once the frames its windows need have arrived, with ``keypoints_3d`` (K×3,
root-relative metres, camera axes: x right, y down, z forward) and, when the lifter has a
trajectory model, ``keypoints_3d_camera`` (camera space) in its extras — written into
``predictions.json`` and ``predictions_3d.csv`` as the run goes. With ``--render`` the
rendered video gets a 3D skeleton view beside the 2D overlay at the end of the run.

Windows: TCN lifters see their receptive field around each frame (centred: half a field of
delay; ``causal``: ending on the frame, no delay, for webcams); MotionBERT lifters see clips of
their ``seq_len`` frames. COCO-17 2D poses are converted to Human3.6M-17 (MMPose's mapping)
when the lifter's skeleton is ``h36m``. :func:`lift_predictions` lifts a finished
``predictions.json`` through the same stream (same results).
"""

from __future__ import annotations

import bisect
import csv
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from posecli.errors import PoseCliError
from posecli.runtime import Frame, FramePrediction


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

    @property
    def clip_batch_size(self) -> int:
        """Clips per MotionBERT run: 1 on the CPU, where its attention over 243 frames is
        memory-bound (measured, 2 cores: 0.296 / 0.275 / 0.214 / 0.212 / 0.198 clips/s at
        batch 1 / 2 / 4 / 8 / 64), :attr:`batch_size` on CUDA."""
        return 1 if self.device.type == "cpu" else self.batch_size

    @torch.no_grad()
    def _run(
        self, inputs: np.ndarray, batch_size: int | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        poses, trajs = [], []
        fi = self.model.flip_indices if self.model.test_cfg.flip_test else None
        step = batch_size or self.batch_size
        for i in range(0, len(inputs), step):
            x = torch.from_numpy(np.ascontiguousarray(inputs[i : i + step]))
            pose, traj = self.model.predict_outputs(x.to(self.device), fi)
            poses.append(pose.float().cpu())
            if traj is not None:
                trajs.append(traj.float().cpu())
        return torch.cat(poses), (torch.cat(trajs) if trajs else None)

    def lift_windows(
        self, keypoints: np.ndarray, scores: np.ndarray, image_size: tuple[float, float]
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """Windows of 2D poses → the 3D pose of each window's output frame.

        Args:
            keypoints: ``(S, L, K, 2)`` pixels, ``L`` = :attr:`seq_len` frames per window.
            scores: ``(S, L, K)``.
            image_size: ``(w, h)`` of the frames (the codecs normalise by it).

        Returns:
            Root-relative 3D ``(S, K, 3)`` in metres and, with a trajectory model, camera-space
            3D ``(S, K, 3)`` (else ``None``). TCN lifters only (``sequence_layout != "tokens"``).
        """
        s, length, k = keypoints.shape[:3]
        w, h = image_size
        labels = self._encode(keypoints.reshape(s * length, k, 2), scores.reshape(-1, k), w, h)
        inputs = labels.reshape(labels.shape[0], s, length).transpose(1, 0, 2)  # (S, K·C, L)
        pose, traj = self._run(inputs)
        rel = np.asarray(self.model.decode(pose, None), np.float32).reshape(s, k, 3)
        cam = None if traj is None else rel + traj.numpy().reshape(s, 1, 3)
        return rel, cam

    def lift_clips(
        self, keypoints: np.ndarray, scores: np.ndarray, image_size: tuple[float, float]
    ) -> np.ndarray:
        """Clips ``(S, T, K, 2)`` pixels + scores ``(S, T, K)`` → root-relative 3D
        ``(S, T, K, 3)`` of every frame (MotionBERT: ``sequence_layout == "tokens"``)."""
        s, t, k = keypoints.shape[:3]
        w, h = image_size
        labels = self._encode(keypoints.reshape(s * t, k, 2), scores.reshape(-1, k), w, h)
        pose, _ = self._run(labels.reshape(s, t, k, -1), self.clip_batch_size)
        wh = np.tile(np.array([[w, h]], np.float32), (s, 1))
        return np.asarray(self.model.decode(pose, None, wh, None), np.float32).reshape(s, t, k, 3)


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


TrackKey = tuple[str, int]


def track_keys(result: FramePrediction) -> list[TrackKey]:
    """One key per instance: ``("track", id)`` when tracked, else ``("slot", position)``."""
    if result.track_ids is not None:
        return [("track", int(t)) for t in result.track_ids]
    return [("slot", i) for i in range(len(result))]


def nearest_rows(have: np.ndarray, want: np.ndarray) -> np.ndarray:
    """For each frame index of ``want``, the position in sorted ``have`` of the nearest frame
    (ties to the earlier one): frames before a track's first appearance repeat it, after its
    last repeat that, and a hole takes its nearest neighbour."""
    pos = np.searchsorted(have, want)
    lo = np.clip(pos - 1, 0, len(have) - 1)
    hi = np.clip(pos, 0, len(have) - 1)
    return np.where(np.abs(want - have[lo]) <= np.abs(have[hi] - want), lo, hi)


class _History:
    """One track's recent 2D poses by frame index (oldest first)."""

    def __init__(self) -> None:
        self.frames: list[int] = []
        self.keypoints: list[np.ndarray] = []
        self.scores: list[np.ndarray] = []

    def add(self, frame: int, keypoints: np.ndarray, scores: np.ndarray) -> None:
        self.frames.append(frame)
        self.keypoints.append(keypoints)
        self.scores.append(scores)

    def drop_before(self, frame: int) -> None:
        n = bisect.bisect_left(self.frames, frame)
        if n:
            del self.frames[:n], self.keypoints[:n], self.scores[:n]

    def window(self, wanted: np.ndarray, lo: int, hi: int) -> tuple[np.ndarray, np.ndarray]:
        """Poses ``(L, K, 2)``, ``(L, K)`` at the ``wanted`` frames, from the appearances in
        frames ``lo..hi`` (nearest one for a frame the track is not in)."""
        a, b = bisect.bisect_left(self.frames, lo), bisect.bisect_right(self.frames, hi)
        rows = nearest_rows(np.asarray(self.frames[a:b], np.int64), wanted)
        return np.stack(self.keypoints[a:b])[rows], np.stack(self.scores[a:b])[rows]


class LiftStream:
    """Lifts a stream's 2D poses to 3D per track as the frames arrive, in front of sinks.

    A sink (``write(frame, result)``): each frame's instances join their track's history
    (:func:`track_keys`), and a frame goes on to ``sinks`` — with ``extras["keypoints_3d"]``
    ``(N, K, 3)`` root-relative metres (camera axes: x right, y down, z forward) and, with a
    trajectory model, ``extras["keypoints_3d_camera"]`` — once the frames its windows need
    have arrived:

    - TCN lifters (receptive field ``L``): frame ``t`` sees frames ``t-(L-1)..t`` (causal, no
      delay: webcams) or ``t-(L-1)//2..t+L-1-(L-1)//2`` (centred, a delay of half the field);
    - MotionBERT lifters see clips of ``seq_len`` frames (frame indices ``c·T..c·T+T-1``): a
      clip goes on when its last frame has arrived (or the stream ended).

    Inside a window a frame the track is missing from takes the track's nearest appearance
    in that window (edges repeat the first/last pose, MMPose's padding), so the result of a
    frame depends only on its window, whatever arrived later. Ready frames are lifted
    ``chunk`` at a time (1 when causal). COCO-17 poses are converted to Human3.6M-17 when the
    lifter's skeleton is ``h36m`` and ``convert`` is set.

    Args:
        lifter: the lifting model.
        sinks: where lifted frames go.
        causal: ``None``: the lifter's own setting.
        convert: apply :func:`coco_to_h36m` to the 2D poses first.
        chunk: ready frames lifted per model run (centred windows).
    """

    def __init__(
        self,
        lifter: Lifter,
        sinks: Sequence[Any],
        *,
        causal: bool | None = None,
        convert: bool = False,
        chunk: int = 16,
    ) -> None:
        self.lifter, self.sinks, self.convert = lifter, list(sinks), bool(convert)
        self.clips = lifter.model.sequence_layout == "tokens"
        self.causal = bool(lifter.model.causal if causal is None else causal)
        length = lifter.seq_len
        self.length = length
        self.left = length - 1 if self.causal else (length - 1) // 2
        self.right = length - 1 - self.left
        self.chunk = 1 if self.causal and not self.clips else max(1, int(chunk))
        self.size: tuple[float, float] | None = None
        self.history: dict[TrackKey, _History] = {}
        self.pending: deque[tuple[Frame | None, FramePrediction, list[TrackKey]]] = deque()
        self.last = -1
        self.keep_going = True
        self.closed = False
        self.lifted = 0

    def describe(self) -> dict[str, Any]:
        """The ``lifting`` header of ``predictions.json``."""
        return {
            "recipe": self.lifter.recipe.name,
            "skeleton": self.lifter.skeleton.name if self.lifter.skeleton is not None else None,
            "units": "metres, root-relative, camera axes (x right, y down, z forward)",
            "converted_from_coco": self.convert,
            "window": "clips" if self.clips else ("causal" if self.causal else "centred"),
            "frames_per_window": self.length,
        }

    def write(self, frame: Frame | None, result: FramePrediction) -> bool:
        if self.size is None:
            if frame is None:
                raise PoseCliError("--lift: the first frame has no image size")
            self.size = (float(frame.size[0]), float(frame.size[1]))
        kps = np.nan_to_num(np.asarray(result.keypoints, np.float32), nan=0.0)
        scs = np.where(
            np.isfinite(result.keypoints).all(-1), np.asarray(result.keypoint_scores), 0.0
        ).astype(np.float32)
        if self.convert:
            kps, scs = coco_to_h36m(kps, scs)
        if len(kps) and kps.shape[1] != self.lifter.num_keypoints:
            raise PoseCliError(
                f"--lift: the 2D model gives {kps.shape[1]} keypoints, the lifter expects "
                f"{self.lifter.num_keypoints}"
            )
        keys = track_keys(result)
        for key, kp, sc in zip(keys, kps, scs, strict=True):
            self.history.setdefault(key, _History()).add(result.frame, kp, sc)
        self.last = max(self.last, result.frame)
        self.pending.append((frame, result, keys))
        self._emit(final=False)
        return self.keep_going

    def _ready(self, final: bool) -> int:
        """How many pending frames can be lifted now."""
        if final:
            return len(self.pending)
        n = 0
        for _, result, _ in self.pending:
            if self.clips:
                done = (result.frame // self.length + 1) * self.length - 1 <= self.last
            else:
                done = result.frame + self.right <= self.last
            if not done:
                break
            n += 1
        return n

    def _emit(self, final: bool) -> None:
        n = self._ready(final)
        if not final and n < self.chunk:
            return
        if n == 0:  # (ready clips are whole: a clip's frames become ready together)
            return
        items = [self.pending.popleft() for _ in range(n)]
        if self.clips:
            self._lift_clips(items)
        else:
            self._lift_windows(items)
        for frame, result, _ in items:
            for sink in self.sinks:
                self.keep_going = sink.write(frame, result) is not False and self.keep_going
        self.lifted += sum(len(r) for _, r, _ in items)
        oldest = self.pending[0][1].frame if self.pending else self.last + 1
        lo = oldest - self.left if not self.clips else (oldest // self.length) * self.length
        for key in list(self.history):
            self.history[key].drop_before(lo)
            if not self.history[key].frames:
                del self.history[key]

    def _lift_windows(self, items: list[tuple[Any, FramePrediction, list[TrackKey]]]) -> None:
        offsets = np.arange(self.length) - self.left
        win_k, win_s, where = [], [], []
        for j, (_, result, keys) in enumerate(items):
            t = result.frame
            for i, key in enumerate(keys):
                kp, sc = self.history[key].window(t + offsets, t - self.left, t + self.right)
                win_k.append(kp)
                win_s.append(sc)
                where.append((j, i))
        rel = cam = None
        if win_k:
            assert self.size is not None
            rel, cam = self.lifter.lift_windows(np.stack(win_k), np.stack(win_s), self.size)
        self._attach(items, where, rel, cam)

    def _lift_clips(self, items: list[tuple[Any, FramePrediction, list[TrackKey]]]) -> None:
        t_len = self.length
        groups: dict[tuple[int, TrackKey], list[tuple[int, int]]] = {}
        for j, (_, result, keys) in enumerate(items):
            for i, key in enumerate(keys):
                groups.setdefault((result.frame // t_len, key), []).append((j, i))
        win_k, win_s, order = [], [], []
        for (clip, key), members in groups.items():
            lo = clip * t_len
            kp, sc = self.history[key].window(np.arange(lo, lo + t_len), lo, lo + t_len - 1)
            win_k.append(kp)
            win_s.append(sc)
            order.append((lo, members))
        out = None
        if win_k:
            assert self.size is not None
            out = self.lifter.lift_clips(np.stack(win_k), np.stack(win_s), self.size)
        where, rows = [], []
        for g, (lo, members) in enumerate(order):
            for j, i in members:
                where.append((j, i))
                rows.append(out[g, items[j][1].frame - lo])  # type: ignore[index]
        self._attach(items, where, np.stack(rows) if rows else None, None)

    def _attach(
        self,
        items: list[tuple[Any, FramePrediction, list[TrackKey]]],
        where: list[tuple[int, int]],
        rel: np.ndarray | None,
        cam: np.ndarray | None,
    ) -> None:
        k = self.lifter.num_keypoints
        for _, result, _ in items:
            result.extras["keypoints_3d"] = np.zeros((len(result), k, 3), np.float32)
            if cam is not None:
                result.extras["keypoints_3d_camera"] = np.zeros((len(result), k, 3), np.float32)
        for row, (j, i) in enumerate(where):
            extras = items[j][1].extras
            extras["keypoints_3d"][i] = rel[row]  # type: ignore[index]
            if cam is not None:
                extras["keypoints_3d_camera"][i] = cam[row]

    def close(self) -> None:
        """Lift and hand on every frame still waiting (the stream has ended)."""
        if not self.closed:
            self.closed = True
            self._emit(final=True)


class _Collect:
    def __init__(self) -> None:
        self.results: list[FramePrediction] = []

    def write(self, frame: Frame | None, result: FramePrediction) -> None:
        self.results.append(result)


def _frame_prediction(record: dict[str, Any]) -> FramePrediction:
    insts = record.get("instances", [])
    kps = np.array(
        [[[np.nan if v is None else v for v in p] for p in x["keypoints"]] for x in insts],
        np.float32,
    ).reshape(len(insts), -1, 2)
    sc = np.array(
        [[0.0 if v is None else v for v in x["keypoint_scores"]] for x in insts], np.float32
    ).reshape(len(insts), -1)
    ids = [x.get("track_id") for x in insts]
    return FramePrediction(
        int(record.get("frame", 0)),
        record.get("time_s"),
        kps,
        sc,
        np.zeros((len(insts), 4), np.float32),
        np.ones(len(insts), np.float32),
        track_ids=None if not ids or any(i is None for i in ids) else np.array(ids),
    )


def lift_predictions(
    doc: dict[str, Any], lifter: Lifter, image_size: tuple[float, float], causal: bool | None = None
) -> int:
    """Add ``keypoints_3d`` (and ``keypoints_3d_camera``) to every instance of a finished
    ``predictions.json`` document, in place, through the same :class:`LiftStream` as
    ``predict --lift`` (same windows, same results); returns the number of instances lifted."""
    frames = doc.get("frames", [])
    convert = _converts(lifter, (doc.get("skeleton") or {}).get("name"))
    sink = _Collect()
    stream = LiftStream(lifter, [sink], causal=causal, convert=convert)
    stream.size = (float(image_size[0]), float(image_size[1]))
    for record in frames:
        stream.write(None, _frame_prediction(record))
    stream.close()
    for record, result in zip(frames, sink.results, strict=True):
        for inst, kp3, cam in zip(
            record.get("instances", []),
            result.extras["keypoints_3d"],
            result.extras.get("keypoints_3d_camera", [None] * len(result)),
            strict=True,
        ):
            inst["keypoints_3d"] = np.round(kp3.astype(np.float64), 5).tolist()
            if cam is not None:
                inst["keypoints_3d_camera"] = np.round(cam.astype(np.float64), 5).tolist()
    doc["lifting"] = stream.describe()
    return stream.lifted


def _converts(lifter: Lifter, skeleton_name: str | None) -> bool:
    """Whether 2D poses of ``skeleton_name`` go through :func:`coco_to_h36m` for ``lifter``."""
    return bool(
        lifter.skeleton is not None and lifter.skeleton.name == "h36m" and skeleton_name == "coco"
    )


class Csv3dWriter:
    """``predictions_3d.csv``: ``frame, track_id, <name>_x, <name>_y, <name>_z, ...``, one row
    per lifted instance, streamed (a sink behind :class:`LiftStream`)."""

    def __init__(self, path: Path, names: Sequence[str], force: bool = False) -> None:
        from posecli.inference.writers import check_writable

        self.path = check_writable(path, force)
        self._fh: Any = self.path.open("w", newline="", encoding="utf-8")
        self._out = csv.writer(self._fh)
        self._out.writerow(["frame", "track_id"] + [f"{n}_{a}" for n in names for a in "xyz"])

    def write(self, frame: Frame | None, result: FramePrediction) -> None:
        kp3 = result.extras.get("keypoints_3d")
        if kp3 is None:
            return
        ids = result.track_ids
        for i, pose in enumerate(np.round(np.asarray(kp3, np.float64), 5)):
            tid = None if ids is None else int(ids[i])
            self._out.writerow([result.frame, "" if tid is None else tid, *pose.reshape(-1)])

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None


def lift_sinks(
    lifter: Lifter,
    sinks: Sequence[Any],
    out: Path | None,
    skeleton_name: str | None,
    *,
    causal: bool | None = None,
    force: bool = False,
) -> tuple[LiftStream, Csv3dWriter | None]:
    """The :class:`LiftStream` in front of a run's ``sinks``, plus ``predictions_3d.csv`` under
    ``out`` (when given)."""
    csv_sink = None
    if out is not None:
        names = list(
            getattr(lifter.skeleton, "keypoint_names", ())
            or [f"k{i}" for i in range(lifter.num_keypoints)]
        )
        csv_sink = Csv3dWriter(Path(out) / "predictions_3d.csv", names, force=force)
    stream = LiftStream(
        lifter,
        [*sinks, *([csv_sink] if csv_sink else [])],
        causal=causal,
        convert=_converts(lifter, skeleton_name),
    )
    return stream, csv_sink


def render_lifted(out: Path, skeleton: Any) -> str | None:
    """Put the 3D view beside the 2D overlay of the rendered ``*_pose.mp4`` under ``out``
    (the 3D scale is set from every lifted pose of ``predictions.json``)."""
    from posecli.inference.writers import load_predictions
    from posecli.visualization.pose3d import render_side_by_side

    doc = load_predictions(Path(out) / "predictions.json")
    done = None
    for video in sorted(Path(out).glob("*_pose.mp4")):
        render_side_by_side(video, doc, skeleton)
        done = str(video)
    return done


__all__ = [
    "Csv3dWriter",
    "LiftStream",
    "Lifter",
    "coco_to_h36m",
    "lift_predictions",
    "lift_sinks",
    "nearest_rows",
    "render_lifted",
    "track_keys",
]
