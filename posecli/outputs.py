"""Who owns an output folder: the one rule for run directories and output folders.

A folder that holds anything posecli did not just create is refused unless ``force``.
With ``force`` the whole output set is replaced atomically: posecli writes into a temporary
sibling (``.NAME.posecli-new-XXXX``) and, once the work has ended, swaps it into place
(the old folder is renamed to ``.NAME.posecli-old-XXXX`` and then deleted), so the folder never
mixes old and new files. If the work fails or is interrupted, the temporary sibling is removed
and the old folder is left as it was — unless ``keep`` says the new partial set is worth keeping
(a training run with a checkpoint to resume from), in which case it is swapped in.

Interrupts: commands register what an interrupt would leave behind with :func:`on_interrupt`;
the CLI prints it as one line and exits with 130.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

from posecli.errors import OutputExistsError

NEW_TAG = ".posecli-new-"
OLD_TAG = ".posecli-old-"
#: Temporary files of atomic writes (``.NAME.RANDOM.tmp``, see ``posecli.data.io``).
_TMP_FILE = re.compile(r"^\..+\.[A-Za-z0-9_]{6,}\.tmp$")

_interrupt_notes: list[Callable[[], str | None]] = []


def on_interrupt(note: Callable[[], str | None]) -> Callable[[], str | None]:
    """Register ``note()``: the line saying what an interrupt kept (last one registered wins)."""
    _interrupt_notes.append(note)
    return note


def interrupt_note() -> str | None:
    """What the running command kept, if it registered a note (cleared afterwards)."""
    text = None
    while _interrupt_notes and text is None:
        with contextlib.suppress(Exception):
            text = _interrupt_notes[-1]()
        _interrupt_notes.pop()
    _interrupt_notes.clear()
    return text


def contents(folder: Path, limit: int = 4) -> list[str]:
    """Up to ``limit`` names in ``folder`` (sorted; temporary siblings are not listed)."""
    names = sorted(p.name for p in folder.iterdir())
    return names[:limit] + ([f"... {len(names) - limit} more"] if len(names) > limit else [])


def is_empty(folder: Path) -> bool:
    return folder.is_dir() and not any(folder.iterdir())


def remove_stale(target: Path) -> list[Path]:
    """Delete the temporary siblings of ``target`` that a killed run left (``kill -9`` gives
    no chance to clean up); returns what was removed."""
    removed: list[Path] = []
    parent = target.parent
    if parent.is_dir():
        for tag in (NEW_TAG, OLD_TAG):
            for path in parent.glob(f".{glob_escape(target.name)}{tag}*"):
                shutil.rmtree(path, ignore_errors=True)
                removed.append(path)
    return removed


def remove_temporaries(target: Path) -> list[Path]:
    """Delete the atomic-write temporaries (``.last.pt.RANDOM.tmp``) inside a folder posecli
    owns (a run being resumed); returns what was removed."""
    removed: list[Path] = []
    if target.is_dir():
        for path in target.iterdir():
            if path.is_file() and _TMP_FILE.match(path.name):
                path.unlink(missing_ok=True)
                removed.append(path)
    return removed


def glob_escape(name: str) -> str:
    return re.sub(r"([*?\[])", r"[\1]", name)


def refusal(target: Path, what: str, hint: str = "") -> OutputExistsError:
    """The one-line error for an output that already holds files."""
    held = ", ".join(contents(target)) if target.is_dir() else "a file"
    more = f"; {hint}" if hint else ""
    return OutputExistsError(
        f"{what} {target} already holds files posecli did not just create ({held}): "
        f"pass --force to replace it whole{more}, or choose another"
    )


def swap_in(staging: Path, target: Path) -> None:
    """Replace ``target`` (file or folder, may be absent) by ``staging`` with two renames."""
    old: Path | None = None
    if target.exists() or target.is_symlink():
        old = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}{OLD_TAG}"))
        old.rmdir()
        os.replace(target, old)
    try:
        os.replace(staging, target)
    except BaseException:
        if old is not None:
            os.replace(old, target)
        raise
    if old is not None:
        if old.is_dir() and not old.is_symlink():
            shutil.rmtree(old, ignore_errors=True)
        else:
            old.unlink(missing_ok=True)


@contextlib.contextmanager
def output_folder(
    target: str | Path,
    *,
    force: bool = False,
    what: str = "output folder",
    hint: str = "",
    keep: Callable[[Path], bool] | None = None,
) -> Iterator[Path]:
    """Yield the folder to write ``target``'s outputs into, under the ownership rule.

    Args:
        target: the folder the user named.
        force: replace a folder that already holds files (atomically, see the module doc).
        what: how error messages name the folder (``run directory``, ``output folder``).
        hint: extra advice in the refusal (``pass --resume to continue it``).
        keep: on failure or interrupt, ``keep(folder)`` True keeps the partial outputs
            (swapped in when staged); False removes what this call created.

    Raises:
        OutputExistsError: ``target`` holds files (or is a file) and ``force`` is false.
    """
    target = Path(target)
    remove_stale(target)
    occupied = target.is_file() or (target.is_dir() and not is_empty(target))
    if occupied and not force:
        raise refusal(target, what, hint)
    if occupied:
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}{NEW_TAG}"))
        try:
            yield staging
        except BaseException:
            if keep is not None and _safe(keep, staging):
                swap_in(staging, target)
            else:
                shutil.rmtree(staging, ignore_errors=True)
            raise
        swap_in(staging, target)
        return
    created = not target.exists()
    target.mkdir(parents=True, exist_ok=True)
    try:
        yield target
    except BaseException:
        if keep is None or not _safe(keep, target):
            if created:
                shutil.rmtree(target, ignore_errors=True)
            else:  # it was empty before: empty it again
                for path in target.iterdir():
                    if path.is_dir() and not path.is_symlink():
                        shutil.rmtree(path, ignore_errors=True)
                    else:
                        path.unlink(missing_ok=True)
        raise


def _safe(keep: Callable[[Path], bool], folder: Path) -> bool:
    try:
        return bool(keep(folder))
    except Exception:
        return False


def has_files(folder: Path) -> bool:
    """``keep`` rule: anything was written."""
    return folder.is_dir() and any(folder.iterdir())


__all__ = [
    "contents",
    "has_files",
    "interrupt_note",
    "is_empty",
    "on_interrupt",
    "output_folder",
    "refusal",
    "remove_stale",
    "remove_temporaries",
    "swap_in",
]
