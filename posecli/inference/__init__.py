"""Inference: frame sources, box providers, detectors, tracking, smoothing and writers."""
