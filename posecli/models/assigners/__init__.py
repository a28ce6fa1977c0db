"""Positive-sample assigners of the one-stage heads (torch, vectorised over priors)."""

from posecli.models.assigners.sim_ota import (
    SimOTAAssigner,
    bbox_overlaps,
    pose_oks,
    pose_oks_aligned,
)

__all__ = ["SimOTAAssigner", "bbox_overlaps", "pose_oks", "pose_oks_aligned"]
