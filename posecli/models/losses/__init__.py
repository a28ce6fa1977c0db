"""Losses: ``forward(pred, target, weight)`` → scalar tensor; ``weight`` is per keypoint (B,K)."""
