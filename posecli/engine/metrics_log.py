"""Append-only ``metrics.jsonl``: one JSON object per training log step and per validation.

Records carry ``mode`` (``"train"`` or ``"val"``), ``epoch`` (a float: ``3.5`` is half-way
through the fourth epoch for training lines, the finished epoch number for validation lines),
``step`` (global optimiser step) and the values (``loss``, ``lr``, ``PCK``...). Each line is
flushed as soon as it is written, so a killed run leaves at most one partial last line, which
:func:`read_metrics` skips. Non-finite numbers are written as ``null``.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TextIO

from posecli._closing import Closing

__all__ = ["MetricsLog", "read_metrics", "rewind_metrics"]


def _plain(value: Any) -> Any:
    if hasattr(value, "tolist") and not isinstance(value, list | tuple):  # numpy / torch
        value = value.tolist()
    if isinstance(value, bool | int | str) or value is None:
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    return number if math.isfinite(number) else None


class MetricsLog(Closing):
    """Writer of ``metrics.jsonl`` (appends; usable as a context manager).

    Args:
        path: The file; its directory is created.
        fsync: Also ``os.fsync`` after each line (durable on power loss; slower).
    """

    def __init__(self, path: str | Path, fsync: bool = False) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.fsync = fsync
        self._file: TextIO | None = self.path.open("a", encoding="utf-8")

    def write(self, record: Mapping[str, Any]) -> dict[str, Any]:
        """Append one record and flush; returns what was written."""
        if self._file is None:
            raise ValueError(f"{self.path}: metrics log is closed")
        plain = {str(k): _plain(v) for k, v in record.items()}
        self._file.write(json.dumps(plain, allow_nan=False) + "\n")
        self._file.flush()
        if self.fsync:
            os.fsync(self._file.fileno())
        return plain

    def log_train(self, *, epoch: float, step: int, **values: Any) -> dict[str, Any]:
        """A training line: ``epoch`` (fractional), ``step`` and values such as loss and lr."""
        return self.write({"mode": "train", "epoch": epoch, "step": step, **values})

    def log_val(self, *, epoch: float, step: int, **values: Any) -> dict[str, Any]:
        """A validation line with the metric values."""
        return self.write({"mode": "val", "epoch": epoch, "step": step, **values})

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


def read_metrics(path: str | Path) -> list[dict[str, Any]]:
    """All complete records of a ``metrics.jsonl`` (a torn last line is skipped)."""
    records: list[dict[str, Any]] = []
    p = Path(path)
    if not p.exists():
        return records
    for line in p.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line:
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(obj, dict):
            records.append(obj)
    return records


def rewind_metrics(path: str | Path, step: int) -> int:
    """Drop records after global ``step`` (for resuming from a checkpoint taken at ``step``).

    Rewrites the file atomically; returns the number of records dropped.
    """
    p = Path(path)
    if not p.exists():
        return 0
    records = read_metrics(p)
    keep = [r for r in records if int(r.get("step") or 0) <= step]
    tmp = p.with_name(p.name + ".tmp")
    tmp.write_text("".join(json.dumps(r) + "\n" for r in keep), encoding="utf-8")
    os.replace(tmp, p)
    return len(records) - len(keep)
