"""``LiftStream``: per-track 2D→3D lifting while frames arrive (``predict --lift``).

Each frame's result must depend only on its own window (so streaming, chunking and lifting a
finished ``predictions.json`` agree), centred windows must wait exactly half a receptive field,
causal ones not at all, and MotionBERT clips must equal the clips of the whole track.
"""

from __future__ import annotations

import numpy as np
import pytest

from posecli.data.datasets.sequences import clip_indices, window_indices
from posecli.inference.lifting import Lifter, LiftStream, lift_predictions, nearest_rows
from posecli.runtime import Frame, FramePrediction
from tests.lifting._synthetic import small_lifter_checkpoint

SIZE = (640, 480)


class _Collect:
    def __init__(self) -> None:
        self.results: list[FramePrediction] = []

    def write(self, frame: Frame | None, result: FramePrediction) -> None:
        self.results.append(result)


@pytest.fixture(scope="module")
def tcn(tmp_path_factory: pytest.TempPathFactory) -> Lifter:
    path = tmp_path_factory.mktemp("tcn") / "vp3d.pt"
    return Lifter.load(small_lifter_checkpoint("videopose3d-27", path))


@pytest.fixture(scope="module")
def motionbert(tmp_path_factory: pytest.TempPathFactory) -> Lifter:
    path = tmp_path_factory.mktemp("mb") / "mb.pt"
    return Lifter.load(small_lifter_checkpoint("motionbert", path))


def _track(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A walking 17-point track ``(n, 17, 2)`` pixels with scores ``(n, 17)``."""
    rng = np.random.default_rng(seed)
    base = rng.uniform(200, 300, (17, 2))
    drift = np.cumsum(rng.normal(0, 2, (n, 1, 2)), axis=0)
    return (base + drift).astype(np.float32), rng.uniform(0.5, 1, (n, 17)).astype(np.float32)


def _frame(t: int, kps: np.ndarray, scores: np.ndarray, ids: list[int] | None) -> tuple:
    image = np.zeros((SIZE[1], SIZE[0], 3), np.uint8)
    n = len(kps)
    result = FramePrediction(
        t,
        t / 25,
        kps,
        scores,
        np.zeros((n, 4)),
        np.ones(n),
        track_ids=None if ids is None else np.array(ids),
    )
    return Frame(t, t / 25, image, f"video#{t}"), result


def test_nearest_rows_fill_edges_and_holes() -> None:
    have = np.array([2, 3, 7])
    rows = nearest_rows(have, np.array([0, 1, 2, 4, 5, 6, 8]))
    assert rows.tolist() == [0, 0, 0, 1, 1, 2, 2]  # 5 is as far from 3 as from 7: the earlier


def test_centred_windows_equal_the_whole_track_and_wait_half_a_field(tcn: Lifter) -> None:
    n = 40
    kps, scores = _track(n)
    sink = _Collect()
    stream = LiftStream(tcn, [sink], causal=False, chunk=1)
    length, right = tcn.seq_len, stream.right
    assert length == 27 and right == 13
    for t in range(n):
        stream.write(*_frame(t, kps[t : t + 1], scores[t : t + 1], [7]))
        assert len(sink.results) == max(0, t + 1 - right)  # frame t goes once t + 13 arrived
    stream.close()
    assert [r.frame for r in sink.results] == list(range(n))
    got = np.stack([r.extras["keypoints_3d"][0] for r in sink.results])
    idx = window_indices(n, length, causal=False, pad=True)  # MMPose's edge padding
    want, _ = tcn.lift_windows(kps[idx], scores[idx], SIZE)
    np.testing.assert_allclose(got, want, atol=1e-5)
    assert got.shape == (n, 17, 3) and np.abs(got).max() > 0


def test_causal_windows_need_no_delay(tcn: Lifter) -> None:
    kps, scores = _track(12, seed=1)
    sink = _Collect()
    stream = LiftStream(tcn, [sink], causal=True)
    for t in range(12):
        stream.write(*_frame(t, kps[t : t + 1], scores[t : t + 1], None))
        assert len(sink.results) == t + 1
    idx = window_indices(12, tcn.seq_len, causal=True, pad=True)
    want, _ = tcn.lift_windows(kps[idx], scores[idx], SIZE)
    got = np.stack([r.extras["keypoints_3d"][0] for r in sink.results])
    np.testing.assert_allclose(got, want, atol=1e-5)


def _run(lifter: Lifter, frames: list[tuple], chunk: int) -> list[FramePrediction]:
    sink = _Collect()
    stream = LiftStream(lifter, [sink], causal=False, chunk=chunk)
    for frame, result in frames:
        copy = FramePrediction(
            result.frame,
            result.time_s,
            result.keypoints,
            result.keypoint_scores,
            result.bboxes,
            result.bbox_scores,
            track_ids=result.track_ids,
        )
        stream.write(frame, copy)
    stream.close()
    return sink.results


def test_two_tracks_with_a_hole_agree_across_chunks_and_later_frames(tcn: Lifter) -> None:
    n = 50
    a, sa = _track(n, seed=2)
    b, sb = _track(n, seed=3)
    frames = []
    for t in range(n):
        if 20 <= t < 24:  # track 2 is lost for four frames
            frames.append(_frame(t, a[t : t + 1], sa[t : t + 1], [1]))
        else:
            frames.append(_frame(t, np.stack([b[t], a[t]]), np.stack([sb[t], sa[t]]), [2, 1]))
    one, many = _run(tcn, frames, 1), _run(tcn, frames, 16)
    for r1, r2 in zip(one, many, strict=True):
        np.testing.assert_allclose(r1.extras["keypoints_3d"], r2.extras["keypoints_3d"], atol=1e-5)
    # track 1 never misses a frame: its result is the whole-track window's
    idx = window_indices(n, tcn.seq_len, causal=False, pad=True)
    want, _ = tcn.lift_windows(a[idx], sa[idx], SIZE)
    track1 = np.stack([r.extras["keypoints_3d"][list(r.track_ids).index(1)] for r in one])
    np.testing.assert_allclose(track1, want, atol=1e-5)
    # frame 22 of track 2 does not exist; frame 25's window fills 20..23 from frames 19 and 24
    t = 25
    offsets = np.arange(tcn.seq_len) - (tcn.seq_len - 1) // 2
    have = np.array([f for f in range(n) if not 20 <= f < 24])
    rows = have[nearest_rows(have, np.clip(t + offsets, 0, n - 1))]
    want2, _ = tcn.lift_windows(b[rows][None], sb[rows][None], SIZE)
    np.testing.assert_allclose(one[t].extras["keypoints_3d"][0], want2[0], atol=1e-5)
    # what comes after frame t + 13 does not change frame t
    changed = frames[:30] + [_frame(t, b[t : t + 1] + 50, sb[t : t + 1], [2]) for t in range(30, n)]
    later = _run(tcn, changed, 16)
    for t in range(30 - 13):
        np.testing.assert_allclose(
            later[t].extras["keypoints_3d"], one[t].extras["keypoints_3d"], atol=1e-5
        )


def test_lifting_a_finished_document_equals_the_stream(tcn: Lifter) -> None:
    n = 30
    kps, scores = _track(n, seed=4)
    frames = [_frame(t, kps[t : t + 1], scores[t : t + 1], [3]) for t in range(n)]
    streamed = _run(tcn, frames, 16)
    doc = {"skeleton": {"name": "h36m"}, "frames": [r.to_record() for _, r in frames]}
    assert lift_predictions(doc, tcn, SIZE) == n
    got = np.array([fr["instances"][0]["keypoints_3d"] for fr in doc["frames"]])
    want = np.stack([r.extras["keypoints_3d"][0] for r in streamed])
    np.testing.assert_allclose(got, want, atol=2e-3)  # 2D rounded to 1e-3 px in the document
    assert doc["lifting"]["window"] == "centred" and doc["lifting"]["frames_per_window"] == 27
    record = streamed[0].to_record()
    assert np.array(record["instances"][0]["keypoints_3d"]).shape == (17, 3)


def test_motionbert_lifts_whole_clips(motionbert: Lifter) -> None:
    n, t_len = 20, motionbert.seq_len
    assert t_len == 9
    kps, scores = _track(n, seed=5)
    sink = _Collect()
    stream = LiftStream(motionbert, [sink], chunk=1)
    for t in range(n):
        stream.write(*_frame(t, kps[t : t + 1], scores[t : t + 1], [0]))
        assert len(sink.results) == (t + 1) // t_len * t_len  # a clip goes once it is whole
    stream.close()
    idx = clip_indices(n, t_len, pad_last=True)  # the last clip repeats frame 19
    want = motionbert.lift_clips(kps[idx], scores[idx], SIZE).reshape(-1, 17, 3)[:n]
    got = np.stack([r.extras["keypoints_3d"][0] for r in sink.results])
    np.testing.assert_allclose(got, want, atol=1e-5)


def test_first_frame_without_a_size_and_a_keypoint_mismatch_are_refused(tcn: Lifter) -> None:
    from posecli.errors import PoseCliError

    kps, scores = _track(1)
    frame, result = _frame(0, kps, scores, None)
    with pytest.raises(PoseCliError, match="image size"):
        LiftStream(tcn, []).write(None, result)
    _, wrong = _frame(0, kps[:, :13], scores[:, :13], None)
    with pytest.raises(
        PoseCliError, match="the 2D model gives 13 keypoints, the lifter expects 17"
    ):
        LiftStream(tcn, []).write(frame, wrong)


def test_motionbert_runs_one_clip_at_a_time_on_the_cpu(
    motionbert: Lifter, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Batched MotionBERT clips are slower per clip on the CPU (memory-bound attention)."""
    seen: list[int] = []
    original = motionbert.model.predict_outputs

    def spy(x, flip_indices):
        seen.append(int(x.shape[0]))
        return original(x, flip_indices)

    monkeypatch.setattr(motionbert.model, "predict_outputs", spy)
    kps, scores = _track(27, seed=6)
    clips = kps.reshape(3, 9, 17, 2)
    out = motionbert.lift_clips(clips, scores.reshape(3, 9, 17), SIZE)
    assert seen == [1, 1, 1] and out.shape == (3, 9, 17, 3)
    one = motionbert.lift_clips(clips[1:2], scores.reshape(3, 9, 17)[1:2], SIZE)
    np.testing.assert_allclose(out[1], one[0], atol=1e-5)
