"""Reading MMPose's preprocessed mocap files: ``.npz`` annotations and ``cameras.pkl``.

``cameras.pkl`` is a pickle; it is read by :func:`load_camera_params`, a restricted unpickler
that builds only plain containers (dict, list, tuple, str, numbers) and numeric numpy arrays —
any other global (functions, classes, object arrays) is refused, so a camera file cannot run code.
"""

from __future__ import annotations

import pickle
import zipfile
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


class _RestrictedObjects(_Restricted):
    """:class:`_Restricted` that also rebuilds object arrays (``np.savez`` of dicts): their
    elements are unpickled by the same restricted ``find_class``, so no code can run."""

    def find_class(self, module: str, name: str) -> Any:
        if name == "dtype" and (module, name) in _ALLOWED:
            return lambda spec, *a: np.dtype(spec) if spec == "O8" else _dtype(spec, *a)
        return super().find_class(module, name)


def load_object_npz(path: str | Path, keys: tuple[str, ...]) -> dict[str, Any]:
    """``keys`` of an ``.npz`` whose members are pickled 0-d object arrays (H3WB's
    ``train_data``/``metadata``/``bbox`` dicts) → ``{key: the object}``, read by the restricted
    unpickler (plain containers, strings, numbers and numeric arrays only)."""
    p = Path(path)
    if not p.is_file():
        raise DataError(f"annotation file not found: {p}")
    out: dict[str, Any] = {}
    try:
        with zipfile.ZipFile(p) as z:
            members = set(z.namelist())
            for key in keys:
                if f"{key}.npy" not in members:
                    have = ", ".join(sorted(m.removesuffix(".npy") for m in members))
                    raise DataError(f"{p}: missing {key!r} (have: {have})")
                with z.open(f"{key}.npy") as fh:
                    version = np.lib.format.read_magic(fh)
                    header = (
                        np.lib.format.read_array_header_1_0
                        if version == (1, 0)
                        else np.lib.format.read_array_header_2_0
                    )
                    shape, _, dtype = header(fh)
                    if dtype.kind == "O":
                        arr = _RestrictedObjects(fh).load()
                    else:
                        arr = np.frombuffer(fh.read(), dtype).reshape(shape)
                out[key] = arr.item() if getattr(arr, "shape", None) == () else arr
    except (zipfile.BadZipFile, pickle.UnpicklingError, EOFError, ValueError, TypeError) as exc:
        raise DataError(f"{p}: not a readable .npz of plain objects ({exc})") from None
    return out


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


__all__ = ["load_camera_params", "load_mocap_npz", "load_object_npz"]
