"""Estimators beside the top-down :class:`~posecli.models.pose_model.PoseModel`."""

from posecli.models.estimators.lifting import PoseLifter

__all__ = ["PoseLifter"]
