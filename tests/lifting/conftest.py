"""Fixture paths of the lifting tests (MMPose's Human3.6M and MPI-INF-3DHP test files)."""

from __future__ import annotations

from pathlib import Path

import pytest

DATA = Path(__file__).resolve().parents[1] / "data" / "mmpose-tests"
H36M = DATA / "h36m"
MPI = DATA / "mpi_inf_3dhp"
H3WB = DATA / "h3wb" / "h3wb_train_bbox_subset.npz"
RECIPES = Path(__file__).resolve().parents[2] / "posecli" / "recipes" / "h36m"


@pytest.fixture
def h36m_dir() -> Path:
    return H36M


@pytest.fixture
def mpi_dir() -> Path:
    return MPI
