"""Identity tracking of the two-fly recipe against the labelled tracks; prints ONE JSON line.

Runs the trained two-stage fly model (``--flies-run``, default ``work_dirs/flies``; boxes from
its own detector) with tracking (``posecli.predict.stream(track=True)``, as ``posecli predict
--track``) over the whole bundled clip, then, over frames ``--start``..``--stop`` (the
validation stretch) and over the whole clip, matches each frame's
predictions to the labelled flies (Hungarian on the distance of the keypoints' mean, at most
``--max-dist`` px). Reported: the share of labelled flies matched, the identity agreement (the
share of matched flies whose predicted track is the one the clip-wide best one-to-one
mapping of predicted to labelled tracks gives them), the identity switches (a labelled fly
whose matched track changes from one frame to the next) and the number of track ids used.

Usage: ``python benchmarks/flies_tracks.py [--start 1200] [--stop 1500] [--flies-run DIR]``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def main() -> None:
    from posecli.predict import stream

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--start", type=int, default=1200)
    parser.add_argument("--stop", type=int, default=1500)
    parser.add_argument("--max-dist", type=float, default=30.0)
    parser.add_argument("--flies-run", type=Path, default=REPO / "work_dirs" / "flies")
    parser.add_argument("--track-metric", choices=("oks", "iou"), default="oks")
    args = parser.parse_args()
    clip = REPO / "examples" / "sleap-flies" / "clip.mp4"
    t0 = time.perf_counter()
    results = list(
        stream(clip, model=args.flies_run / "best.pt", track=True, track_metric=args.track_metric)
    )
    seconds = time.perf_counter() - t0
    line = {
        "benchmark": "flies_tracks",
        "track_metric": args.track_metric,
        "frames": len(results),
        "predict_frames_per_s": round(len(results) / seconds, 2),
        "validation_stretch": _agreement(results, args.start, args.stop, args.max_dist),
        "whole_clip": _agreement(results, 0, len(results), args.max_dist),
    }
    print(json.dumps(line))


def _agreement(results: list, start: int, stop: int, max_dist: float) -> dict[str, object]:
    """Tracking of ``results[start:stop]`` against the labelled tracks."""
    from scipy.optimize import linear_sum_assignment

    from posecli.data.converters.sleap import read_sleap

    ann = read_sleap(REPO / "examples" / "sleap-flies" / "clip.slp", skeleton="sleap_fly13")
    frame_of = np.array([ann.images[i].frame_idx for i in ann.image_index])
    vis = ann.visibility > 0
    centre = np.array([ann.keypoints[i][vis[i]].mean(0) for i in range(len(vis))])
    pairs: list[tuple[int, int, int]] = []  # (frame, labelled track, predicted track)
    labelled = 0
    for offset, result in enumerate(results[start:stop]):
        rows = np.flatnonzero(frame_of == start + offset)
        labelled += len(rows)
        if len(result.keypoints) == 0 or result.track_ids is None:
            continue
        ok = result.keypoint_scores > 0.1
        pred = np.array(
            [
                kp[m].mean(0) if m.any() else kp.mean(0)
                for kp, m in zip(result.keypoints, ok, strict=True)
            ]
        )
        cost = np.linalg.norm(centre[rows][:, None] - pred[None], axis=-1)
        for r, c in zip(*linear_sum_assignment(cost), strict=True):
            if cost[r, c] <= max_dist:
                pairs.append((offset, int(ann.track_id[rows[r]]), int(result.track_ids[c])))
    counts = Counter((label, track) for _, label, track in pairs)
    labels = sorted({p[1] for p in pairs})
    tracks = sorted({p[2] for p in pairs})
    grid = np.array([[counts.get((lab, tr), 0) for tr in tracks] for lab in labels])
    li, ti = linear_sum_assignment(-grid) if grid.size else ([], [])
    agreeing = int(grid[li, ti].sum()) if grid.size else 0
    switches, last = 0, {}
    for _, label, track in sorted(pairs):
        switches += int(label in last and last[label] != track)
        last[label] = track
    used = {int(t) for r in results[start:stop] if r.track_ids is not None for t in r.track_ids}
    return {
        "compared_frames": [start, stop],
        "labelled_flies": labelled,
        "matched": round(len(pairs) / max(labelled, 1), 4),
        "identity_agreement": round(agreeing / max(len(pairs), 1), 4),
        "identity_switches": switches,
        "track_ids_used": len(used),
    }


if __name__ == "__main__":
    main()
