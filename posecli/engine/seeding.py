"""Seeding and RNG state capture, so that runs repeat and resumed runs continue identically.

* :func:`seed_everything` seeds Python, NumPy and torch (CPU and CUDA), optionally with
  deterministic algorithms.
* :func:`worker_init_fn` seeds a DataLoader worker from the seed torch gave it
  (``base_seed + worker_id``, where the base seed comes from the main process's torch RNG), so
  workers differ from each other, from epoch to epoch and from rank to rank.
* :func:`capture_rng_state` / :func:`restore_rng_state` round-trip every global RNG through a
  checkpoint loaded with ``torch.load(weights_only=True)`` (plain tensors, ints, lists, dicts).
"""

from __future__ import annotations

import os
import random
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

__all__ = [
    "capture_rng_state",
    "generator_state",
    "get_rng_state",
    "restore_rng_state",
    "seed_everything",
    "set_generator_state",
    "set_rng_state",
    "worker_init_fn",
]


def seed_everything(seed: int, deterministic: bool = False) -> None:
    """Seed ``random``, NumPy's global RNG and torch (all devices).

    Args:
        seed: The seed (used modulo 2**32 for NumPy).
        deterministic: Also ask torch for deterministic algorithms (warn-only) and turn off the
            cuDNN autotuner.
    """
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False


def worker_init_fn(worker_id: int) -> None:
    """Seed ``random`` and NumPy in a DataLoader worker from its torch seed."""
    seed = torch.initial_seed() % 2**32
    random.seed(seed)
    np.random.seed(seed)


def generator_state(gen: np.random.Generator) -> dict[str, Any]:
    """State of a NumPy ``Generator`` as plain data."""
    return dict(gen.bit_generator.state)


def set_generator_state(gen: np.random.Generator, state: Mapping[str, Any]) -> None:
    """Restore a NumPy ``Generator`` from :func:`generator_state`."""
    gen.bit_generator.state = dict(state)


def capture_rng_state() -> dict[str, Any]:
    """States of Python's, NumPy's and torch's global RNGs (CUDA too when available)."""
    np_state = np.random.get_state(legacy=False)
    assert isinstance(np_state, dict)
    state: dict[str, Any] = {
        "python": list(_listify(random.getstate())),
        "numpy": {
            "bit_generator": np_state["bit_generator"],
            "key": torch.from_numpy(np_state["state"]["key"].astype(np.int64)),
            "pos": int(np_state["state"]["pos"]),
            "has_gauss": int(np_state["has_gauss"]),
            "gauss": float(np_state["gauss"]),
        },
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


#: Aliases used by the trainer.
get_rng_state = capture_rng_state


def _listify(value: Any) -> Any:
    return [_listify(v) for v in value] if isinstance(value, tuple | list) else value


def _tuplify(value: Any) -> Any:
    return tuple(_tuplify(v) for v in value) if isinstance(value, list) else value


def restore_rng_state(state: Mapping[str, Any]) -> None:
    """Restore the states captured by :func:`capture_rng_state`."""
    random.setstate(_tuplify(state["python"]))
    npst = state["numpy"]
    np.random.set_state(
        {
            "bit_generator": npst["bit_generator"],
            "state": {
                "key": np.asarray(npst["key"], dtype=np.int64).astype(np.uint32),
                "pos": int(npst["pos"]),
            },
            "has_gauss": int(npst["has_gauss"]),
            "gauss": float(npst["gauss"]),
        }
    )
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        cuda = list(state["cuda"])[: torch.cuda.device_count()]
        torch.cuda.set_rng_state_all(cuda)


set_rng_state = restore_rng_state
