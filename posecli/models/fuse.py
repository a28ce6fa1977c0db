"""Fold BatchNorm into the preceding convolution for inference (fewer ops, same outputs).

Handles MMCV-style ``ConvModule`` (``conv`` + ``bn``), ``nn.Sequential`` runs of
``Conv2d`` → ``BatchNorm2d``, and blocks with ``convN``/``bnN`` attribute pairs (ResNet/HRNet).
After fusing, the state dict differs (BN entries gone, conv biases added): fuse a copy for
inference, never a model you will train or save.
"""

from __future__ import annotations

import itertools

from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval


def _fusable(conv: object, bn: object) -> bool:
    return (
        isinstance(conv, nn.Conv2d)
        and isinstance(bn, nn.BatchNorm2d)
        and bn.track_running_stats
        and bn.running_mean is not None
    )


def fuse_conv_bn(model: nn.Module) -> int:
    """Fuse in place (``model`` must be in eval mode); returns the number of fused pairs."""
    if model.training:
        raise ValueError("fuse_conv_bn needs a model in eval mode")
    count = 0
    for module in list(model.modules()):
        if isinstance(module, nn.Sequential):
            names = list(module._modules)
            for a, b in itertools.pairwise(names):
                conv, bn = module._modules[a], module._modules[b]
                if _fusable(conv, bn):
                    module._modules[a] = fuse_conv_bn_eval(conv, bn)  # type: ignore[arg-type]
                    module._modules[b] = nn.Identity()
                    count += 1
        pairs = [("conv", "bn")] + [(f"conv{i}", f"bn{i}") for i in range(1, 4)]
        for conv_name, bn_name in pairs:
            conv, bn = getattr(module, conv_name, None), getattr(module, bn_name, None)
            if _fusable(conv, bn):
                setattr(module, conv_name, fuse_conv_bn_eval(conv, bn))  # type: ignore[arg-type]
                setattr(module, bn_name, nn.Identity())
                count += 1
    return count
