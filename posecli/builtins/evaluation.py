"""Built-in evaluation metrics, registered through ``posecli_register_metrics``."""

from __future__ import annotations

from posecli.hookspecs import RegisterCallback, hookimpl

_METRICS = "posecli.evaluation.metrics"
_WHOLEBODY = "posecli.evaluation.wholebody"
_PARTITION = "posecli.evaluation.partition"


@hookimpl
def posecli_register_metrics(register: RegisterCallback) -> None:
    register(
        "pck",
        f"{_METRICS}:PCK",
        aliases=("PCKAccuracy", "pck_accuracy"),
        help="PCK@thr with a bbox, head (PCKh), torso (tPCK) or image normaliser",
    )
    register(
        "mpii_pck",
        "posecli.evaluation.mpii:MpiiPCK",
        aliases=("MpiiPCKAccuracy",),
        help="MPII PCKh in % (Head PCK ... Ankle PCK, PCK, PCK@0.1); needs headbox_file",
    )
    register("auc", f"{_METRICS}:AUC", aliases=("AUC",), help="area under the PCK curve")
    register("epe", f"{_METRICS}:EPE", aliases=("EPE",), help="end-point error in pixels")
    register(
        "nme", f"{_METRICS}:NME", aliases=("NME",), help="normalised mean error (faces, hands)"
    )
    register(
        "coco_ap",
        f"{_METRICS}:CocoAP",
        aliases=("CocoMetric", "coco"),
        help="COCO keypoint AP/AR through pycocotools (coco/AP, coco/AR, ...)",
    )
    register(
        "instance_match",
        "posecli.evaluation.instance_match:InstanceMatch",
        aliases=("InstanceMatch", "sleap_match"),
        help="matched instances (greedy OKS): match/recall, match/precision, match/error (px)",
    )
    register(
        "mpjpe",
        "posecli.evaluation.mpjpe:MPJPE",
        aliases=("MPJPE",),
        help="3D mean per-joint position error: mode mpjpe, p-mpjpe (Procrustes), n-mpjpe (scale)",
    )
    register(
        "pck_3d",
        "posecli.evaluation.mpjpe:PCK3D",
        aliases=("3DPCK", "PCK3D"),
        help="3D PCK@150 mm and its AUC (MPI-INF-3DHP), 3DPCK / 3DAUC",
    )
    register(
        "coco_wholebody",
        f"{_WHOLEBODY}:CocoWholeBody",
        aliases=("CocoWholeBodyMetric",),
        help="COCO-WholeBody AP/AR of body, foot, face, hands and whole body",
    )
    register(
        "keypoint_partition",
        f"{_PARTITION}:KeypointPartition",
        aliases=("KeypointPartitionMetric",),
        help="one metric per named keypoint subset (<part>/<name>)",
    )
    register(
        "per_dataset",
        "posecli.evaluation.per_dataset:PerDataset",
        aliases=("MultiDatasetEvaluator",),
        help="one metric per source of a combined dataset (<source>/<name>)",
    )
