"""MobileNetV2 / V3 backbones built on torchvision's implementations (``features.N`` keys).

Stage outputs are the last layer of each stride (4, 8, 16, 32), found once at construction.
ImageNet weights: ``pretrained = [{source = "torchvision://MobileNet_V2_Weights.IMAGENET1K_V1",
prefix = "features.", into = "backbone.features"}]`` in the recipe.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from posecli.models.backbones.base import StagedBackbone, check_out_indices


def _stage_ends(features: nn.Sequential) -> tuple[list[int], list[int]]:
    """Index of the last layer at each stride 4/8/16/32 and its channel count."""
    x = torch.zeros(1, 3, 64, 64)
    ends: dict[int, tuple[int, int]] = {}
    was_training = features.training
    features.eval()
    with torch.no_grad():
        for i, layer in enumerate(features):
            x = layer(x)
            stride = 64 // x.shape[-1]
            if stride in (4, 8, 16, 32):
                ends[stride] = (i, x.shape[1])
    features.train(was_training)
    return [ends[s][0] for s in (4, 8, 16, 32)], [ends[s][1] for s in (4, 8, 16, 32)]


class _TorchvisionFeatures(StagedBackbone):
    def __init__(
        self, features: nn.Sequential, out_indices: Sequence[int], frozen_stages: int, name: str
    ) -> None:
        super().__init__()
        self.features = features
        self.out_indices = check_out_indices(out_indices, 4, name)
        ends, channels = _stage_ends(features)
        self._ends = ends
        self.out_channels = [channels[i] for i in self.out_indices]
        self.strides = [(4, 8, 16, 32)[i] for i in self.out_indices]
        self.frozen_stages = frozen_stages
        self._freeze()

    def _frozen_modules(self) -> list[nn.Module]:
        last = self._ends[min(self.frozen_stages, 3)]
        return list(self.features[: last + 1])

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        wanted = {self._ends[i] for i in self.out_indices}
        outs = []
        for i, layer in enumerate(self.features):
            x = layer(x)
            if i in wanted:
                outs.append(x)
            if i >= max(wanted):
                break
        return tuple(outs)


class MobileNetV2(_TorchvisionFeatures):
    """MobileNetV2 (torchvision layout).

    Args:
        widen_factor: width multiplier.
        out_indices: 0..3 = strides 4, 8, 16, 32 (the last is the 1280-channel 1×1 conv).
        frozen_stages: freeze layers up to this stage (-1: none).
    """

    def __init__(
        self, widen_factor: float = 1.0, out_indices: Sequence[int] = (3,), frozen_stages: int = -1
    ) -> None:
        from torchvision.models import mobilenet_v2

        super().__init__(
            mobilenet_v2(weights=None, width_mult=widen_factor).features,
            out_indices,
            frozen_stages,
            "mobilenet_v2",
        )


class MobileNetV3(_TorchvisionFeatures):
    """MobileNetV3 small or large (torchvision layout).

    Args:
        arch: ``small`` or ``large``.
        widen_factor: width multiplier.
        out_indices: 0..3 = strides 4, 8, 16, 32.
        frozen_stages: freeze layers up to this stage (-1: none).
    """

    def __init__(
        self,
        arch: str = "large",
        widen_factor: float = 1.0,
        out_indices: Sequence[int] = (3,),
        frozen_stages: int = -1,
    ) -> None:
        from torchvision.models import mobilenet_v3_large, mobilenet_v3_small

        builders = {"small": mobilenet_v3_small, "large": mobilenet_v3_large}
        if arch not in builders:
            raise ValueError(f"mobilenet_v3 arch must be 'small' or 'large', got {arch!r}")
        model = builders[arch](weights=None, width_mult=widen_factor)
        super().__init__(model.features, out_indices, frozen_stages, "mobilenet_v3")
