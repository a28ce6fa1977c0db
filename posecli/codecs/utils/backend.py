"""Array-kind plumbing: codecs compute in numpy and hand back the kind they were given."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

ArrayLike = Any  # np.ndarray or torch.Tensor


def is_tensor(x: object) -> bool:
    """True for a ``torch.Tensor`` (without importing torch when it is not loaded)."""
    return type(x).__module__.startswith("torch") and hasattr(x, "detach")


def to_numpy(x: ArrayLike, dtype: Any = np.float32) -> np.ndarray:
    """A numpy view/copy of ``x`` (numpy array, torch tensor or nested list) as ``dtype``."""
    if is_tensor(x):
        x = x.detach().cpu().numpy()
    return np.asarray(x, dtype=dtype)


def restorer(like: ArrayLike) -> Callable[[np.ndarray], ArrayLike]:
    """A function turning numpy results back into the kind (and device) of ``like``.

    Numpy in → numpy out; a torch tensor in → torch tensors on the same device out.
    """
    if not is_tensor(like):
        return lambda a: a
    import torch

    device = like.device

    def back(a: np.ndarray) -> Any:
        return torch.from_numpy(np.ascontiguousarray(a)).to(device)

    return back
