"""Heads: features → outputs; each owns its loss, its codec decode and its flip test."""

from posecli.models.heads.base import BaseHead

__all__ = ["BaseHead"]
