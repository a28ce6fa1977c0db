"""Models: backbones, necks, heads, losses and the top-down :class:`PoseModel`."""

from posecli.models.pose_model import PoseModel

__all__ = ["PoseModel"]
