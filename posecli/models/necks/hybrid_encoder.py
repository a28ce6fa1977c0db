"""HybridEncoder (RT-DETR's, as MMPose's RTMO uses it) with MMPose 1.3.2's state-dict names.

``input_proj.<i>``: 1×1 ConvModule (BN, no activation) of each level to ``hidden_dim``;
``encoder.<j>.layers.<l>``: post-norm DETR encoder layers (``self_attn.attn`` = torch
``MultiheadAttention``, ``ffn.layers``, ``norms.0/1``) over the flattened level
``use_encoder_idx[j]``, a 2-D sine encoding (``sincos_pos_enc.dim_t``) added to queries and
keys; then a top-down FPN (``lateral_convs``, ``fpn_blocks``) and a bottom-up PAN
(``downsample_convs``, ``pan_blocks``) of CSP-RepVGG layers. ``output_indices`` pick levels and
``projector`` (a neck, RTMO: ``channel_mapper``) maps their widths (``projector.convs``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from posecli.models.layers import ConvModule, make_act
from posecli.models.necks.channel_mapper import act_from_cfg


class RepVGGBlock(nn.Module):
    """``act(branch_3x3(x) + branch_1x1(x))``, both ConvModules with BN and no activation
    (MMPose's ``RepVGGBlock`` without the identity-branch norm)."""

    def __init__(self, in_ch: int, out_ch: int, act: str | None = "silu") -> None:
        super().__init__()
        self.branch_3x3 = ConvModule(in_ch, out_ch, 3, act=None)
        self.branch_1x1 = ConvModule(in_ch, out_ch, 1, act=None)
        self.act = make_act(act)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.branch_3x3(x) + self.branch_1x1(x))


class CSPRepLayer(nn.Module):
    """``conv3(bottlenecks(conv1(x)) + conv2(x))``, hidden width ``out · widen_factor``;
    ``conv3`` is an identity when the hidden width equals ``out``."""

    def __init__(
        self,
        in_ch: int,
        out_ch: int,
        num_blocks: int = 3,
        widen_factor: float = 1.0,
        act: str | None = "silu",
    ) -> None:
        super().__init__()
        hidden = int(out_ch * widen_factor)
        self.conv1 = ConvModule(in_ch, hidden, 1, act=act)
        self.conv2 = ConvModule(in_ch, hidden, 1, act=act)
        self.bottlenecks = nn.Sequential(
            *(RepVGGBlock(hidden, hidden, act) for _ in range(num_blocks))
        )
        self.conv3: nn.Module = (
            ConvModule(hidden, out_ch, 1, act=act) if hidden != out_ch else nn.Identity()
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv3(self.bottlenecks(self.conv1(x)) + self.conv2(x))


class SelfAttention(nn.Module):
    """MMCV ``MultiheadAttention`` for self-attention (key ``attn``): the positions are added
    to queries and keys, the input is the value and the residual; ``dropout`` drops attention
    weights and the output."""

    def __init__(
        self, embed_dims: int = 256, num_heads: int = 8, dropout: float = 0.0, **_: Any
    ) -> None:
        super().__init__()
        self.embed_dims = int(embed_dims)
        self.attn = nn.MultiheadAttention(
            self.embed_dims, int(num_heads), dropout=float(dropout), batch_first=True
        )
        self.drop = nn.Dropout(float(dropout))

    def forward(self, x: torch.Tensor, pos: torch.Tensor | None = None) -> torch.Tensor:
        q = x if pos is None else x + pos
        return x + self.drop(self.attn(q, q, x, need_weights=False)[0])


class FFN(nn.Module):
    """MMCV ``FFN``: ``num_fcs`` linear layers (keys ``layers.<i>.0`` for the hidden ones, then
    ``layers.<num_fcs - 1>``), activation and dropout after each hidden one, residual added."""

    def __init__(
        self,
        embed_dims: int = 256,
        feedforward_channels: int = 1024,
        num_fcs: int = 2,
        ffn_drop: float = 0.0,
        act_cfg: object = None,
        add_identity: bool = True,
        **_: Any,
    ) -> None:
        super().__init__()
        if num_fcs < 2:
            raise ValueError(f"num_fcs must be at least 2, got {num_fcs}")
        act = act_from_cfg(act_cfg if act_cfg is not None else {"type": "ReLU"})
        layers: list[nn.Module] = []
        cin = int(embed_dims)
        for _layer in range(int(num_fcs) - 1):
            layers.append(
                nn.Sequential(
                    nn.Linear(cin, int(feedforward_channels)), make_act(act), nn.Dropout(ffn_drop)
                )
            )
            cin = int(feedforward_channels)
        layers += [nn.Linear(cin, int(embed_dims)), nn.Dropout(ffn_drop)]
        self.layers = nn.Sequential(*layers)
        self.add_identity = add_identity

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.layers(x)
        return x + out if self.add_identity else out


class DetrEncoderLayer(nn.Module):
    """Post-norm encoder layer: self-attention, ``norms.0``, FFN, ``norms.1`` (LayerNorms)."""

    def __init__(
        self,
        self_attn_cfg: Mapping[str, Any] | None = None,
        ffn_cfg: Mapping[str, Any] | None = None,
        norm_cfg: object = None,
    ) -> None:
        super().__init__()
        if isinstance(norm_cfg, Mapping) and norm_cfg.get("type", "LN") != "LN":
            raise ValueError("encoder layers support only norm_cfg {type = 'LN'}")
        self.self_attn = SelfAttention(**dict(self_attn_cfg or {}))
        self.ffn = FFN(**dict(ffn_cfg or {}))
        dims = self.self_attn.embed_dims
        self.norms = nn.ModuleList((nn.LayerNorm(dims), nn.LayerNorm(dims)))

    def forward(self, x: torch.Tensor, pos: torch.Tensor | None = None) -> torch.Tensor:
        x = self.norms[0](self.self_attn(x, pos))
        return self.norms[1](self.ffn(x))


class DetrEncoder(nn.Module):
    """``num_layers`` :class:`DetrEncoderLayer` built from one ``layer_cfg`` (key ``layers``)."""

    def __init__(self, num_layers: int, layer_cfg: Mapping[str, Any]) -> None:
        super().__init__()
        self.layers = nn.ModuleList(DetrEncoderLayer(**dict(layer_cfg)) for _ in range(num_layers))

    def forward(self, x: torch.Tensor, pos: torch.Tensor | None = None) -> torch.Tensor:
        for layer in self.layers:
            x = layer(x, pos)
        return x


class SineEncoding2D(nn.Module):
    """MMPose's 2-D ``SinePositionalEncoding`` as HybridEncoder flattens it: ``(1, H·W, 2C)``
    with, per position ``(y, x)``, ``[cos(y/t), sin(y/t), cos(x/t), sin(x/t)]``,
    ``t_i = temperature ** (i / (C/2))`` for ``i < C/2`` (``dim_t``, a buffer or, with
    ``learnable``, a parameter), C = ``channels``."""

    def __init__(self, channels: int, temperature: float = 10000, learnable: bool = False) -> None:
        super().__init__()
        if channels % 2:
            raise ValueError(f"the sine encoding needs an even width, got {channels}")
        half = channels // 2
        dim_t = float(temperature) ** (torch.arange(half, dtype=torch.float32) / half)
        if learnable:
            self.dim_t = nn.Parameter(dim_t)
        else:
            self.register_buffer("dim_t", dim_t)

    def forward(self, h: int, w: int) -> torch.Tensor:
        dim_t: torch.Tensor = self.dim_t
        gy, gx = torch.meshgrid(
            torch.arange(h, dtype=torch.float32, device=dim_t.device),
            torch.arange(w, dtype=torch.float32, device=dim_t.device),
            indexing="ij",
        )
        fy = gy.reshape(-1, 1) / dim_t
        fx = gx.reshape(-1, 1) / dim_t
        return torch.cat((fy.cos(), fy.sin(), fx.cos(), fx.sin()), dim=-1)[None]


class HybridEncoder(nn.Module):
    """RT-DETR hybrid encoder neck (see the module docstring).

    Args:
        encoder_cfg: one encoder layer, as in MMPose: ``{self_attn_cfg = {embed_dims,
            num_heads, dropout}, ffn_cfg = {embed_dims, feedforward_channels, num_fcs?,
            ffn_drop, act_cfg}}`` (defaults: 256 wide, 8 heads, 1024 hidden, ReLU).
        projector: a neck table (``{name = "channel_mapper", ...}``; MMPose's ``type`` key is
            accepted too) applied to the selected outputs, or none.
        num_encoder_layers: layers per encoder (0: no transformer).
        in_channels: input widths, strides increasing.
        feat_strides: input strides (informative, as in MMPose).
        hidden_dim: common width of every level.
        use_encoder_idx: levels with a transformer encoder.
        pe_temperature: sine encoding temperature.
        widen_factor: CSP-RepVGG hidden ratio.
        deepen_factor: ``round(3 · deepen_factor)`` RepVGG blocks per CSP-RepVGG layer.
        spe_learnable: learn the sine encoding's frequencies.
        output_indices: levels returned (default all).
        act: activation of the FPN/PAN convs (MMPose: SiLU).

    Input: ``len(in_channels)`` maps (the last ones if more are given) whose sizes halve
    level to level. Output: the selected levels, ``hidden_dim`` wide (or the projector's).
    """

    def __init__(
        self,
        encoder_cfg: Mapping[str, Any] | None = None,
        projector: Mapping[str, Any] | None = None,
        num_encoder_layers: int = 1,
        in_channels: Sequence[int] = (512, 1024, 2048),
        feat_strides: Sequence[int] = (8, 16, 32),
        hidden_dim: int = 256,
        use_encoder_idx: Sequence[int] = (2,),
        pe_temperature: float = 10000,
        widen_factor: float = 1.0,
        deepen_factor: float = 1.0,
        spe_learnable: bool = False,
        output_indices: Sequence[int] | None = None,
        act: str | None = "silu",
    ) -> None:
        super().__init__()
        self.in_channels = [int(c) for c in in_channels]
        n = len(self.in_channels)
        if n < 2:
            raise ValueError("HybridEncoder needs at least two input levels")
        self.feat_strides = [int(s) for s in feat_strides]
        self.hidden_dim = h = int(hidden_dim)
        self.use_encoder_idx = [int(i) for i in use_encoder_idx]
        self.num_encoder_layers = int(num_encoder_layers)
        self.output_indices = (
            [int(i) for i in output_indices] if output_indices is not None else None
        )
        for i in [*self.use_encoder_idx, *(self.output_indices or [])]:
            if not 0 <= i < n:
                raise ValueError(f"level index {i} out of range 0..{n - 1}")
        self.input_proj = nn.ModuleList(ConvModule(c, h, 1, act=None) for c in self.in_channels)
        if self.use_encoder_idx:
            layer_cfg = dict(encoder_cfg or {})
            self.encoder = nn.ModuleList(
                DetrEncoder(self.num_encoder_layers, layer_cfg) for _ in self.use_encoder_idx
            )
        self.sincos_pos_enc = SineEncoding2D(h // 2, pe_temperature, learnable=spe_learnable)
        blocks = round(3 * deepen_factor)
        self.lateral_convs = nn.ModuleList(ConvModule(h, h, 1, act=act) for _ in range(n - 1))
        self.fpn_blocks = nn.ModuleList(
            CSPRepLayer(2 * h, h, blocks, widen_factor, act) for _ in range(n - 1)
        )
        self.downsample_convs = nn.ModuleList(
            ConvModule(h, h, 3, stride=2, act=act) for _ in range(n - 1)
        )
        self.pan_blocks = nn.ModuleList(
            CSPRepLayer(2 * h, h, blocks, widen_factor, act) for _ in range(n - 1)
        )
        self.projector: nn.Module | None = None
        if projector is not None:
            from posecli.plugins import registry

            cfg = dict(projector)
            if "name" not in cfg and "type" in cfg:
                cfg["name"] = cfg.pop("type")
            self.projector = registry("necks").build_from(cfg, path="model.neck.projector")

    def out_spec(
        self, in_channels: Sequence[int], strides: Sequence[int]
    ) -> tuple[list[int], list[int]]:
        n = len(self.in_channels)
        idx = self.output_indices if self.output_indices is not None else list(range(n))
        level_strides = list(strides)[-n:]
        chans, outs = [self.hidden_dim] * len(idx), [level_strides[i] for i in idx]
        if self.projector is not None:
            return self.projector.out_spec(chans, outs)  # type: ignore[operator]
        return chans, outs

    def forward(self, feats: Sequence[torch.Tensor]) -> tuple[torch.Tensor, ...]:
        feats = tuple(feats)[-len(self.in_channels) :]
        proj = [conv(f) for conv, f in zip(self.input_proj, feats, strict=True)]
        if self.num_encoder_layers > 0:
            for j, i in enumerate(self.use_encoder_idx):
                b, c, hh, ww = proj[i].shape
                tokens = proj[i].flatten(2).permute(0, 2, 1)
                pos = self.sincos_pos_enc(hh, ww).to(tokens.dtype)
                memory = self.encoder[j](tokens, pos)
                proj[i] = memory.permute(0, 2, 1).reshape(b, c, hh, ww)
        n = len(self.in_channels)
        inner = [proj[-1]]
        for k, i in enumerate(range(n - 1, 0, -1)):
            high = self.lateral_convs[k](inner[0])
            inner[0] = high
            up = F.interpolate(high, scale_factor=2.0, mode="nearest")
            inner.insert(0, self.fpn_blocks[k](torch.cat([up, proj[i - 1]], dim=1)))
        outs = [inner[0]]
        for i in range(n - 1):
            down = self.downsample_convs[i](outs[-1])
            outs.append(self.pan_blocks[i](torch.cat([down, inner[i + 1]], dim=1)))
        if self.output_indices is not None:
            outs = [outs[i] for i in self.output_indices]
        if self.projector is not None:
            return tuple(self.projector(outs))
        return tuple(outs)


__all__ = [
    "CSPRepLayer",
    "DetrEncoder",
    "DetrEncoderLayer",
    "HybridEncoder",
    "RepVGGBlock",
    "SineEncoding2D",
]
