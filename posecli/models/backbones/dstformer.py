"""DSTformer: MotionBERT's dual-stream spatio-temporal transformer.

Input ``(B, T, K, C)`` (2D keypoints plus visibility, ``C = 3``); output ``((B, T, K, feat_size),)``.
Every layer runs a spatial→temporal block and a temporal→spatial block on the same tokens and
fuses them with learned per-token weights (``att_fuse``) or their mean. State-dict names equal
MMPose 1.3.2's ``DSTFormer`` (``joints_embed``, ``blocks_st.i.attn_s.qkv``, ``temp_embed``...).
"""

from __future__ import annotations

import torch
from torch import nn

from posecli.models.backbones.base import Backbone

#: LayerNorm epsilon of every DSTformer norm (MMPose's, not torch's default 1e-5)
_LN_EPS = 1e-6


class DropPath(nn.Module):
    """Stochastic depth: drop whole residual branches per sample while training."""

    def __init__(self, p: float) -> None:
        super().__init__()
        self.p = float(p)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.p == 0.0 or not self.training:
            return x
        keep = 1.0 - self.p
        mask = x.new_empty((x.shape[0],) + (1,) * (x.ndim - 1)).bernoulli_(keep)
        return x * mask / keep


class Attention(nn.Module):
    """Multi-head self-attention over joints (``spatial``) or frames (``temporal``).

    Tokens arrive as ``(B·T, K, C)``; the temporal mode regroups them per joint over ``T``.
    """

    def __init__(
        self,
        dim: int,
        num_heads: int,
        qkv_bias: bool,
        qk_scale: float | None,
        attn_drop: float,
        proj_drop: float,
        mode: str,
    ) -> None:
        super().__init__()
        if mode not in ("spatial", "temporal"):
            raise ValueError(f"attention mode must be spatial or temporal, got {mode!r}")
        self.num_heads = num_heads
        self.scale = qk_scale or (dim // num_heads) ** -0.5
        self.mode = mode
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.attn_drop = nn.Dropout(attn_drop)
        self.proj = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(proj_drop)

    def forward(self, x: torch.Tensor, seq_len: int) -> torch.Tensor:
        bt, k, c = x.shape
        h = self.num_heads
        q, kk, v = self.qkv(x).reshape(bt, k, 3, h, c // h).permute(2, 0, 3, 1, 4)  # (BT,h,K,d)
        if self.mode == "temporal":
            # (B, T, h, K, d) → (B, h, K, T, d): attend over frames for each joint
            q, kk, v = (
                t.reshape(-1, seq_len, h, k, c // h).permute(0, 2, 3, 1, 4) for t in (q, kk, v)
            )
        attn = ((q @ kk.transpose(-2, -1)) * self.scale).softmax(dim=-1)
        out = self.attn_drop(attn) @ v
        if self.mode == "temporal":
            out = out.permute(0, 3, 2, 1, 4).reshape(bt, k, c)  # (B,T,K,h,d) → (BT,K,C)
        else:
            out = out.transpose(1, 2).reshape(bt, k, c)
        return self.proj_drop(self.proj(out))


def _mlp(dim: int, hidden: int, out: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, out), nn.Dropout(0))


class AttentionBlock(nn.Module):
    """Spatial and temporal attention + MLP, in ``st`` or ``ts`` order (pre-norm residuals)."""

    def __init__(
        self,
        dim: int,
        num_heads: int,
        mlp_ratio: float,
        qkv_bias: bool,
        qk_scale: float | None,
        drop: float,
        attn_drop: float,
        drop_path: float,
        st_mode: str,
    ) -> None:
        super().__init__()
        if st_mode not in ("st", "ts"):
            raise ValueError(f"st_mode must be 'st' or 'ts', got {st_mode!r}")
        self.st_mode = st_mode
        self.norm1_s = nn.LayerNorm(dim, eps=_LN_EPS)
        self.norm1_t = nn.LayerNorm(dim, eps=_LN_EPS)
        self.attn_s = Attention(dim, num_heads, qkv_bias, qk_scale, attn_drop, drop, "spatial")
        self.attn_t = Attention(dim, num_heads, qkv_bias, qk_scale, attn_drop, drop, "temporal")
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()
        self.norm2_s = nn.LayerNorm(dim, eps=_LN_EPS)
        self.norm2_t = nn.LayerNorm(dim, eps=_LN_EPS)
        hidden = int(dim * mlp_ratio)
        self.mlp_s = _mlp(dim, hidden, dim)
        self.mlp_t = _mlp(dim, hidden, dim)

    def _spatial(self, x: torch.Tensor, t: int) -> torch.Tensor:
        x = x + self.drop_path(self.attn_s(self.norm1_s(x), t))
        return x + self.drop_path(self.mlp_s(self.norm2_s(x)))

    def _temporal(self, x: torch.Tensor, t: int) -> torch.Tensor:
        x = x + self.drop_path(self.attn_t(self.norm1_t(x), t))
        return x + self.drop_path(self.mlp_t(self.norm2_t(x)))

    def forward(self, x: torch.Tensor, seq_len: int) -> torch.Tensor:
        if self.st_mode == "st":
            return self._temporal(self._spatial(x, seq_len), seq_len)
        return self._spatial(self._temporal(x, seq_len), seq_len)


class DSTFormer(Backbone):
    """MotionBERT backbone (MMPose ``DSTFormer``).

    Args:
        in_channels: coordinates per keypoint (3: x, y, visibility).
        feat_size: token width.
        depth: number of dual-stream layers.
        num_heads: attention heads.
        mlp_ratio: MLP expansion.
        num_keypoints: K (size of the spatial position embedding).
        seq_len: longest sequence (size of the temporal position embedding).
        qkv_bias, qk_scale: attention projections.
        drop_rate, attn_drop_rate, drop_path_rate: dropout, attention dropout, stochastic depth.
        att_fuse: fuse the two streams with learned weights (else their mean).
    """

    def __init__(
        self,
        in_channels: int,
        feat_size: int = 256,
        depth: int = 5,
        num_heads: int = 8,
        mlp_ratio: float = 4,
        num_keypoints: int = 17,
        seq_len: int = 243,
        qkv_bias: bool = True,
        qk_scale: float | None = None,
        drop_rate: float = 0.0,
        attn_drop_rate: float = 0.0,
        drop_path_rate: float = 0.0,
        att_fuse: bool = True,
    ) -> None:
        super().__init__()
        if feat_size % num_heads:
            raise ValueError(f"DSTFormer: feat_size {feat_size} not divisible by {num_heads} heads")
        self.in_channels = int(in_channels)
        self.feat_size = int(feat_size)
        self.seq_len = int(seq_len)
        self.num_keypoints = int(num_keypoints)
        self.joints_embed = nn.Linear(in_channels, feat_size)
        self.pos_drop = nn.Dropout(p=drop_rate)
        dpr = torch.linspace(0, drop_path_rate, depth).tolist()
        args = (num_heads, mlp_ratio, qkv_bias, qk_scale, drop_rate, attn_drop_rate)
        self.blocks_st = nn.ModuleList(
            AttentionBlock(feat_size, *args, dpr[i], "st") for i in range(depth)
        )
        self.blocks_ts = nn.ModuleList(
            AttentionBlock(feat_size, *args, dpr[i], "ts") for i in range(depth)
        )
        self.norm = nn.LayerNorm(feat_size, eps=_LN_EPS)
        self.temp_embed = nn.Parameter(torch.zeros(1, seq_len, 1, feat_size))
        self.spat_embed = nn.Parameter(torch.zeros(1, num_keypoints, feat_size))
        self.att_fuse = bool(att_fuse)
        if self.att_fuse:
            self.attn_regress = nn.ModuleList(nn.Linear(feat_size * 2, 2) for _ in range(depth))
        self.out_channels = [feat_size]
        self.strides = [1]
        self.causal = False
        self._init_weights()

    def _init_weights(self) -> None:
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.trunc_normal_(m.weight, std=0.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.LayerNorm):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        nn.init.trunc_normal_(self.temp_embed, std=0.02)
        nn.init.trunc_normal_(self.spat_embed, std=0.02)
        if self.att_fuse:
            for lin in self.attn_regress:
                nn.init.zeros_(lin.weight)
                nn.init.constant_(lin.bias, 0.5)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """``(B, T, K, C)`` (or ``(T, K, C)``) → ``((B, T, K, feat_size),)``."""
        if x.ndim == 3:
            x = x[None]
        if x.ndim != 4 or x.shape[-1] != self.in_channels or x.shape[2] != self.num_keypoints:
            raise ValueError(
                f"DSTFormer expects (B, T, {self.num_keypoints}, {self.in_channels}), "
                f"got {tuple(x.shape)}"
            )
        b, t, k, _ = x.shape
        if t > self.seq_len:
            raise ValueError(f"DSTFormer: {t} frames exceed seq_len {self.seq_len}")
        x = self.joints_embed(x.reshape(b * t, k, -1)) + self.spat_embed
        x = (x.reshape(b, t, k, -1) + self.temp_embed[:, :t]).reshape(b * t, k, -1)
        x = self.pos_drop(x)
        for i, (blk_st, blk_ts) in enumerate(zip(self.blocks_st, self.blocks_ts, strict=True)):
            x_st, x_ts = blk_st(x, t), blk_ts(x, t)
            if self.att_fuse:
                alpha = self.attn_regress[i](torch.cat([x_st, x_ts], dim=-1)).softmax(dim=-1)
                x = x_st * alpha[..., 0:1] + x_ts * alpha[..., 1:2]
            else:
                x = (x_st + x_ts) * 0.5
        return (self.norm(x).reshape(b, t, k, -1),)
