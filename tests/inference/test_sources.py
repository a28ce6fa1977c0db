"""Frame sources: video (synthetic and the bundled mouse video), corrupt frames, images."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from posecli.errors import DataError
from posecli.inference.sources import ImageSource, VideoSource, open_source, to_bgr_uint8

from .conftest import corrupt_mjpeg_frame, frame_value, make_video


def test_video_indices_times_and_content(video_path: Path) -> None:
    source = open_source(video_path, prefetch=4)
    assert isinstance(source, VideoSource)
    assert (source.fps, source.frame_count, source.size) == (10.0, 20, (64, 48))
    frames = list(source)
    assert [f.index for f in frames] == list(range(20))
    assert frames[5].time_s == pytest.approx(0.5)
    for f in frames:
        assert f.image.dtype == np.uint8 and f.image.shape == (48, 64, 3)
        assert abs(int(f.image.mean()) - frame_value(f.index)) <= 3
    assert source.failed == []


def test_bundled_mouse_video_has_994_frames() -> None:
    path = Path(__file__).resolve().parents[2] / "examples/mirror-mouse/videos/test_vid.mp4"
    with open_source(path) as source:
        assert source.frame_count == 994 and source.fps == 250.0
        indices = [f.index for f in source]
        assert indices == list(range(994))
        assert source.failed == []


def test_corrupt_frame_is_skipped_and_indices_stay_aligned(tmp_path: Path, caplog) -> None:
    path = make_video(tmp_path / "broken.avi", n=20)
    corrupt_mjpeg_frame(path, 7)
    with caplog.at_level("WARNING"):
        frames = list(source := open_source(path))
    assert [f.index for f in frames] == [i for i in range(20) if i != 7]
    assert source.failed == [7]
    assert any("7" in r.getMessage() for r in caplog.records)
    for f in frames:  # the frame after the hole is really frame 8, not 7
        assert abs(int(f.image.mean()) - frame_value(f.index)) <= 3


def test_unreadable_video_is_one_line_data_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"this is not a video" * 10)
    with pytest.raises(DataError, match=r"bad\.mp4: cannot open video"):
        open_source(bad)
    with pytest.raises(DataError, match="no such file"):
        open_source(tmp_path / "missing.mp4")


def test_early_break_stops_the_decoding_thread(video_path: Path) -> None:
    source = open_source(video_path, prefetch=2)
    it = iter(source)
    first = [next(it) for _ in range(3)]
    it.close()  # what a `break` out of a for loop does
    assert [f.index for f in first] == [0, 1, 2]
    assert source._thread is None


def _write_images(folder: Path) -> None:
    folder.mkdir()
    colour = np.zeros((10, 12, 3), np.uint8)
    colour[..., 2] = 200
    cv2.imwrite(str(folder / "img10.jpg"), colour)
    cv2.imwrite(str(folder / "img2.png"), np.full((10, 12), 77, np.uint8))  # greyscale
    bgra = np.zeros((10, 12, 4), np.uint8)
    bgra[..., 0], bgra[..., 3] = 255, 0  # blue, fully transparent
    cv2.imwrite(str(folder / "img1.png"), bgra)
    (folder / "notes.txt").write_text("ignored")


def test_folder_glob_and_single_image(tmp_path: Path) -> None:
    folder = tmp_path / "imgs"
    _write_images(folder)
    source = open_source(folder)
    assert isinstance(source, ImageSource) and source.fps is None and source.frame_count == 3
    frames = list(source)
    assert [f.name for f in frames] == ["img1.png", "img2.png", "img10.jpg"]  # natural order
    assert all(f.image.shape == (10, 12, 3) and f.image.dtype == np.uint8 for f in frames)
    assert frames[0].image[0, 0].tolist() == [255, 0, 0]  # alpha dropped, colour kept
    assert frames[1].image[0, 0].tolist() == [77, 77, 77]  # grey expanded
    assert [f.name for f in open_source(str(folder / "*.png"))] == ["img1.png", "img2.png"]
    single = list(open_source(folder / "img10.jpg"))
    assert len(single) == 1 and single[0].time_s is None and single[0].index == 0
    with pytest.raises(DataError, match="no image files"):
        open_source(str(tmp_path / "*.jpeg"))


def test_unreadable_image_among_many_is_skipped(tmp_path: Path) -> None:
    folder = tmp_path / "imgs"
    _write_images(folder)
    (folder / "img5.png").write_bytes(b"broken")
    source = open_source(folder)
    frames = list(source)
    assert [f.index for f in frames] == [0, 1, 3] and source.failed == [2]
    with pytest.raises(DataError, match=r"img5\.png: cannot read image"):
        list(open_source(folder / "img5.png"))


def test_to_bgr_uint8_conversions() -> None:
    assert to_bgr_uint8(np.full((2, 2), 65535, np.uint16))[0, 0].tolist() == [255, 255, 255]
    assert to_bgr_uint8(np.full((2, 2, 1), 0.5, np.float32))[0, 0].tolist() == [128, 128, 128]
    with pytest.raises(ValueError):
        to_bgr_uint8(np.zeros((2, 2, 2), np.uint8))


def test_webcam_spec_is_validated() -> None:
    with pytest.raises(DataError, match="webcam:N"):
        open_source("webcam:abc")
