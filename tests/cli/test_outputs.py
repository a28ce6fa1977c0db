"""The ownership rule of :mod:`posecli.outputs`: refuse, replace whole, keep the old on failure."""

from __future__ import annotations

from pathlib import Path

import pytest

from posecli.errors import OutputExistsError
from posecli.outputs import interrupt_note, on_interrupt, output_folder, remove_temporaries


def _names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_new_and_empty_folders_are_used_in_place(tmp_path: Path) -> None:
    with output_folder(tmp_path / "new") as folder:
        assert folder == tmp_path / "new" and folder.is_dir()
    (tmp_path / "empty").mkdir()
    with output_folder(tmp_path / "empty") as folder:
        assert folder == tmp_path / "empty"


def test_a_folder_holding_files_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "out"
    target.mkdir()
    (target / "mine.txt").write_text("keep")
    match = r"out already holds files .*mine\.txt.*--force"
    with pytest.raises(OutputExistsError, match=match), output_folder(target):
        pass
    assert (target / "mine.txt").read_text() == "keep"


def test_force_swaps_a_new_set_in_whole(tmp_path: Path) -> None:
    target = tmp_path / "out"
    target.mkdir()
    (target / "old.csv").write_text("stale")
    with output_folder(target, force=True) as folder:
        assert folder != target and folder.parent == tmp_path
        assert _names(target) == ["old.csv"]  # untouched while the new set is written
        (folder / "new.json").write_text("{}")
    assert _names(target) == ["new.json"]
    assert _names(tmp_path) == ["out"]


def test_a_failed_forced_run_leaves_the_old_set(tmp_path: Path) -> None:
    target = tmp_path / "out"
    target.mkdir()
    (target / "old.csv").write_text("complete")
    with pytest.raises(RuntimeError), output_folder(target, force=True) as folder:
        (folder / "half.json").write_text("{")
        raise RuntimeError("boom")
    assert _names(target) == ["old.csv"] and _names(tmp_path) == ["out"]


def test_keep_swaps_in_a_resumable_partial_set(tmp_path: Path) -> None:
    target = tmp_path / "run"
    target.mkdir()
    (target / "old.pt").write_text("x")
    keep = lambda f: (f / "last.pt").is_file()  # noqa: E731
    with pytest.raises(KeyboardInterrupt), output_folder(target, force=True, keep=keep) as f:
        (f / "last.pt").write_text("epoch 1")
        raise KeyboardInterrupt
    assert _names(target) == ["last.pt"]


def test_a_failed_new_run_removes_what_it_created(tmp_path: Path) -> None:
    with pytest.raises(ValueError), output_folder(tmp_path / "new") as folder:
        (folder / "recipe.toml").write_text("x")
        raise ValueError
    assert not (tmp_path / "new").exists()


def test_stale_siblings_and_temporaries_are_removed(tmp_path: Path) -> None:
    """Issue 14.9: what a killed run left (kill -9 cleans nothing) does not stay forever."""
    (tmp_path / ".out.posecli-new-abc123").mkdir()
    (tmp_path / ".out.posecli-old-abc123").mkdir()
    with output_folder(tmp_path / "out"):
        pass
    assert _names(tmp_path) == ["out"]
    run = tmp_path / "run"
    run.mkdir()
    (run / ".last.pt.k2j3h4g5.tmp").write_bytes(b"half")
    (run / "last.pt").write_bytes(b"whole")
    assert [p.name for p in remove_temporaries(run)] == [".last.pt.k2j3h4g5.tmp"]
    assert _names(run) == ["last.pt"]


def test_interrupt_note_is_the_last_registered() -> None:
    on_interrupt(lambda: "first")
    on_interrupt(lambda: "kept x")
    assert interrupt_note() == "kept x"
    assert interrupt_note() is None
