"""Reading MMPose's preprocessed mocap files: ``.npz`` annotations and ``cameras.pkl``.

``cameras.pkl`` is a pickle; it is read by :func:`load_camera_params`, a restricted unpickler
that builds only plain containers (dict, list, tuple, str, numbers) and numeric numpy arrays —
any other global (functions, classes, object arrays) is refused, so a camera file cannot run code.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import numpy as np

from posecli.errors import DataError

try:  # numpy ≥ 2
    from numpy._core.multiarray import _reconstruct, scalar
except ImportError:  # pragma: no cover - numpy 1.x
    from numpy.core.multiarray import _reconstruct, scalar  # type: ignore[no-redef]

#: The only globals a camera pickle may name (numpy's array reconstruction, protocol 2–5).
_ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
}
_NUMERIC_KINDS = set("biufc")


def _dtype(spec: Any, *args: Any) -> np.dtype:
    dt = np.dtype(spec)
    if dt.kind not in _NUMERIC_KINDS:
        raise pickle.UnpicklingError(f"non-numeric dtype {dt} refused")
    return dt


class _Restricted(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in _ALLOWED:
            raise pickle.UnpicklingError(f"global {module}.{name} refused")
        if name == "dtype":
            return _dtype
        if name == "ndarray":
            return np.ndarray
        if name == "scalar":
            return scalar
        return _reconstruct


def load_camera_params(path: str | Path) -> dict[Any, dict[str, Any]]:
    """``cameras.pkl`` → ``{key: {"R", "T", "f", "c", "k", "p", "w", "h", ...}}``.

    Keys are ``(subject, camera_id)`` for Human3.6M, ``"S1_Seq1_Cam0"`` / ``"TS1"`` for
    MPI-INF-3DHP; arrays keep the file's shapes (``f``, ``c`` are ``(2, 1)``).
    """
    p = Path(path)
    if not p.is_file():
        raise DataError(f"camera file not found: {p}")
    try:
        with p.open("rb") as fh:
            data = _Restricted(fh).load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError) as exc:
        raise DataError(f"{p}: not a camera parameter pickle ({exc})") from None
    if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
        raise DataError(f"{p}: expected a dict of camera dicts")
    return data


def load_mocap_npz(path: str | Path) -> dict[str, np.ndarray]:
    """MMPose's annotation ``.npz`` (``imgname``, ``center``, ``scale``, ``part`` (N,K,3),
    ``S`` (N,K,4)), read without pickle."""
    p = Path(path)
    if not p.is_file():
        raise DataError(f"annotation file not found: {p}")
    try:
        with np.load(p, allow_pickle=False) as z:
            data = {k: z[k] for k in z.files}
    except ValueError as exc:
        raise DataError(f"{p}: not a plain mocap .npz ({exc})") from None
    for key in ("imgname", "S"):
        if key not in data:
            raise DataError(f"{p}: missing {key!r} (have: {', '.join(data)})")
    return data


__all__ = ["load_camera_params", "load_mocap_npz"]
