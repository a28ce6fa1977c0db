"""Gated attention unit (RTMPose's ``RTMCCBlock``), self-attention over keypoint tokens."""

from __future__ import annotations

import math

import torch
from torch import nn

from posecli.models.layers import Scale, ScaleNorm, make_act


class DropPath(nn.Module):
    """Stochastic depth on the residual branch (identity at eval or with ``p = 0``)."""

    def __init__(self, p: float = 0.0) -> None:
        super().__init__()
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.p == 0.0 or not self.training:
            return x
        keep = 1.0 - self.p
        mask = x.new_empty((x.shape[0],) + (1,) * (x.ndim - 1)).bernoulli_(keep)
        return x * mask / keep


class GAU(nn.Module):
    """Gated attention unit on tokens ``(B, N, dim)`` → ``(B, N, out_dim)``.

    ``uv`` (no bias) projects to ``u`` (e), ``v`` (e) and a shared ``base`` (s) after SiLU;
    ``q, k = base·gamma + beta``; attention ``relu(q kᵀ / √s)²``; output
    ``o(u ⊙ (attention · v))``, added to ``res_scale ⊙ input`` when ``dim == out_dim``.
    """

    def __init__(
        self,
        num_token: int,
        dim: int,
        out_dim: int,
        expansion_factor: int = 2,
        s: int = 128,
        eps: float = 1e-5,
        dropout_rate: float = 0.0,
        drop_path: float = 0.0,
        act: str = "silu",
    ) -> None:
        super().__init__()
        self.s = s
        self.e = int(dim * expansion_factor)
        self.num_token = num_token
        self.uv = nn.Linear(dim, 2 * self.e + s, bias=False)
        self.gamma = nn.Parameter(torch.rand(2, s))
        self.beta = nn.Parameter(torch.rand(2, s))
        self.o = nn.Linear(self.e, out_dim, bias=False)
        self.ln = ScaleNorm(dim, eps=eps)
        self.act = make_act(act)
        self.dropout = nn.Dropout(dropout_rate)
        self.drop_path = DropPath(drop_path)
        self.shortcut = dim == out_dim
        if self.shortcut:
            self.res_scale = Scale(dim)
        self.sqrt_s = math.sqrt(s)
        nn.init.xavier_uniform_(self.uv.weight)

    def _attend(self, x: torch.Tensor, pos_enc: torch.Tensor | None = None) -> torch.Tensor:
        uv = self.act(self.uv(self.ln(x)))
        u, v, base = torch.split(uv, [self.e, self.e, self.s], dim=2)
        qk = base.unsqueeze(2) * self.gamma + self.beta  # (B, N, 2, s)
        q, k = qk.unbind(dim=2)
        if pos_enc is not None:  # additive positional encoding of the tokens (N, s)
            q, k = q + pos_enc, k + pos_enc
        kernel = torch.square(torch.relu(torch.bmm(q, k.transpose(1, 2)) / self.sqrt_s))
        kernel = self.dropout(kernel)
        return self.o(u * torch.bmm(kernel, v))

    def forward(self, x: torch.Tensor, pos_enc: torch.Tensor | None = None) -> torch.Tensor:
        """Tokens ``(B, N, dim)``; ``pos_enc (N, s)`` is added to queries and keys (RTMO's
        DCC, MMPose ``pos_enc = 'add'``)."""
        out = self.drop_path(self._attend(x, pos_enc))
        return self.res_scale(x) + out if self.shortcut else out
