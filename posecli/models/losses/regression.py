"""Coordinate losses: smooth L1, RLE (residual log-likelihood with a RealNVP flow), DSNT.

Coordinates are normalised by the input size (``keypoint_labels``), ``(B,K,2)``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


class SmoothL1Loss(nn.Module):
    """Smooth L1 (beta 1) on weighted coordinates, mean over all elements (MMPose's)."""

    def __init__(self, use_target_weight: bool = False, loss_weight: float = 1.0) -> None:
        super().__init__()
        self.use_target_weight = use_target_weight
        self.loss_weight = loss_weight

    def forward(
        self, pred: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None = None
    ) -> torch.Tensor:
        if self.use_target_weight and weight is not None:
            w = weight.reshape(*weight.shape, *([1] * (pred.ndim - weight.ndim)))
            pred, target = pred * w, target * w
        return F.smooth_l1_loss(pred, target) * self.loss_weight


class RealNVP(nn.Module):
    """2-D RealNVP flow of six alternating affine coupling layers (RLE's density model).

    Buffers ``loc``, ``cov`` (standard normal prior) and ``mask`` are in the state dict, as in
    MMPose; coupling nets ``s`` (tanh-bounded scale) and ``t`` (translation) are 2-64-64-2 MLPs.
    """

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("loc", torch.zeros(2))
        self.register_buffer("cov", torch.eye(2))
        self.register_buffer("mask", torch.tensor([[0.0, 1.0], [1.0, 0.0]] * 3))
        self.s = nn.ModuleList(self._net(tanh=True) for _ in range(6))
        self.t = nn.ModuleList(self._net(tanh=False) for _ in range(6))
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.xavier_uniform_(m.weight, gain=0.01)

    @staticmethod
    def _net(tanh: bool) -> nn.Sequential:
        layers: list[nn.Module] = [
            nn.Linear(2, 64),
            nn.LeakyReLU(),
            nn.Linear(64, 64),
            nn.LeakyReLU(),
            nn.Linear(64, 2),
        ]
        if tanh:
            layers.append(nn.Tanh())
        return nn.Sequential(*layers)

    def backward_p(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Map samples ``(M,2)`` to the latent space; returns ``(z, log|det J|)``."""
        log_det = x.new_zeros(x.shape[0])
        z = x
        for i in reversed(range(len(self.t))):
            m = self.mask[i]
            z_ = m * z
            s = self.s[i](z_) * (1 - m)
            t = self.t[i](z_) * (1 - m)
            z = (1 - m) * (z - t) * torch.exp(-s) + z_
            log_det = log_det - s.sum(dim=1)
        return z, log_det

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """Log density of samples ``(M,2)``."""
        z, log_det = self.backward_p(x)
        prior = torch.distributions.MultivariateNormal(self.loc, self.cov)
        return prior.log_prob(z) + log_det


class RLELoss(nn.Module):
    """Residual log-likelihood estimation loss (Li et al. 2021), MMPose's ``RLELoss``.

    ``error = (pred - target) / sigma``; ``loss = log σ - log φ(error)`` plus, with
    ``residual``, the ``q_distribution`` (laplace or gaussian) term; weighted, divided by B when
    ``size_average``, summed. The flow lives here as ``flow_model`` (MMPose's key names).

    Inputs: ``pred (B,K,4)`` = coordinates and sigmoid-ed sigma, ``target (B,K,2)``,
    ``weight (B,K)``.
    """

    def __init__(
        self,
        use_target_weight: bool = False,
        size_average: bool = True,
        residual: bool = True,
        q_distribution: str = "laplace",
        loss_weight: float = 1.0,
    ) -> None:
        super().__init__()
        if q_distribution not in ("laplace", "gaussian"):
            raise ValueError(
                f"q_distribution must be 'laplace' or 'gaussian', got {q_distribution!r}"
            )
        self.use_target_weight = use_target_weight
        self.size_average = size_average
        self.residual = residual
        self.q_distribution = q_distribution
        self.loss_weight = loss_weight
        self.flow_model = RealNVP()

    def forward(
        self, pred: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None = None
    ) -> torch.Tensor:
        coords, sigma = pred[..., :2], pred[..., 2:4]
        b, k = target.shape[:2]
        error = (coords - target) / (sigma + 1e-9)
        log_phi = self.flow_model.log_prob(error.reshape(-1, 2)).reshape(b, k, 1)
        loss = torch.log(sigma) - log_phi
        if self.residual:
            if self.q_distribution == "laplace":
                loss = loss + torch.log(sigma * 2) + error.abs()
            else:
                loss = loss + torch.log(sigma * math.sqrt(2 * math.pi)) + 0.5 * error**2
        if self.use_target_weight and weight is not None:
            loss = loss * weight.reshape(b, k, 1)
        if self.size_average:
            loss = loss / b
        return loss.sum() * self.loss_weight


class DSNTRegLoss(nn.Module):
    """DSNT heatmap regularisation: Jensen–Shannon (or KL) divergence to the target gaussian.

    ``pred`` and ``target`` are heatmaps ``(B,K,H,W)`` each normalised to sum 1 (the integral
    head's softmax output and ``IntegralRegressionLabel``'s normalised heatmaps). Weighted mean
    over keypoints.
    """

    def __init__(
        self, divergence: str = "js", use_target_weight: bool = True, loss_weight: float = 1.0
    ) -> None:
        super().__init__()
        if divergence not in ("js", "kl"):
            raise ValueError(f"divergence must be 'js' or 'kl', got {divergence!r}")
        self.divergence = divergence
        self.use_target_weight = use_target_weight
        self.loss_weight = loss_weight

    @staticmethod
    def _kl(p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
        return (p * (torch.log(p + 1e-24) - torch.log(q + 1e-24))).sum(dim=-1)

    def forward(
        self, pred: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None = None
    ) -> torch.Tensor:
        p, t = pred.flatten(2), target.flatten(2)
        if self.divergence == "js":
            m = 0.5 * (p + t)
            per = 0.5 * self._kl(p, m) + 0.5 * self._kl(t, m)
        else:
            per = self._kl(t, p)
        if self.use_target_weight and weight is not None:
            per = per * weight.reshape(per.shape)
        return per.mean() * self.loss_weight
