"""Necks: tuple of feature maps → tuple of feature maps (between backbone and head).

Every neck has ``out_spec(in_channels, strides) -> (out_channels, strides)`` describing what it
returns for given inputs (strides 0 mean "no spatial map", e.g. after global pooling).
"""
