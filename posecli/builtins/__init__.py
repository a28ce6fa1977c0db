"""Built-in plugin modules: each registers posecli's own components through the public hooks.

They are loaded by :mod:`posecli.plugins` exactly like third-party entry points, so a built-in
has no privilege a plugin lacks. Factories are given as lazy ``"module:attr"`` strings so that
listing components does not import torch.
"""
