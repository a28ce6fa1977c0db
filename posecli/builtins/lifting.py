"""Built-in 2D→3D lifting data components: the Human3.6M / MPI-INF-3DHP skeletons and
dataset readers, and the lifting transforms (models and metrics register with their kinds in
``builtins.models`` and ``builtins.evaluation``)."""

from __future__ import annotations

from posecli.hookspecs import RegisterCallback, hookimpl


@hookimpl
def posecli_register_skeletons(register: RegisterCallback) -> None:
    register(
        "h36m",
        "posecli.data.datasets.h36m:h36m_skeleton",
        aliases=("Human36M",),
        help="Human3.6M body (17)",
    )
    register(
        "mpi_inf_3dhp",
        "posecli.data.datasets.h36m:mpi_inf_3dhp_skeleton",
        aliases=("MPIINF3DHP",),
        help="MPI-INF-3DHP body (17)",
    )


@hookimpl
def posecli_register_datasets(register: RegisterCallback) -> None:
    register(
        "h36m",
        "posecli.data.datasets.h36m:Human36mDataset",
        aliases=("Human36mDataset",),
        help="Human3.6M lifting: MMPose's .npz + cameras.pkl, 2D→3D sequences",
    )
    register(
        "mpi_inf_3dhp",
        "posecli.data.datasets.h36m:MpiInf3dhpDataset",
        aliases=("MpiInf3dhpDataset",),
        help="MPI-INF-3DHP lifting: MMPose's .npz + cameras pickle",
    )
    register(
        "h3wb",
        "posecli.data.datasets.h36m:H36mWholeBodyDataset",
        aliases=("H36MWholeBodyDataset",),
        help="H3WB whole-body (133) lifting: MMPose's .npz of dicts, cameras inside",
    )


@hookimpl
def posecli_register_transforms(register: RegisterCallback) -> None:
    register(
        "random_flip_around_root",
        "posecli.data.transforms.lifting:RandomFlipAroundRoot",
        aliases=("RandomFlipAroundRoot",),
        help="Random left/right mirror of a lifting sample about its root",
    )
