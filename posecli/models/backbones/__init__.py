"""Backbones: images ``(N,3,H,W)`` → tuple of feature maps, with declared channels/strides."""

from posecli.models.backbones.base import Backbone

__all__ = ["Backbone"]
