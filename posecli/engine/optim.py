"""Optimisers from the recipe's ``train.optimizer`` table, with weight-decay parameter groups.

``{name = "adamw", lr = 4e-3, weight_decay = 0.05, betas = [0.9, 0.999]}`` builds AdamW. With
``no_decay_norm_bias`` (RTMPose's ``norm_decay_mult=0, bias_decay_mult=0``) the parameters of
normalisation layers (batch, group, layer and instance norm) and every parameter named ``bias``
get no weight decay; a parameter shared by several modules is counted once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import torch
from torch import nn

from posecli.errors import BuildError
from posecli.registry import check_kwargs

__all__ = ["NORM_TYPES", "OPTIMIZERS", "build_optimizer", "param_groups"]

#: Module types whose parameters count as normalisation parameters.
NORM_TYPES: tuple[type[nn.Module], ...] = (
    nn.modules.batchnorm._BatchNorm,
    nn.modules.instancenorm._InstanceNorm,
    nn.GroupNorm,
    nn.LayerNorm,
    nn.LocalResponseNorm,
)

#: Optimiser name → factory ``(params, **kwargs)``.
OPTIMIZERS: dict[str, Callable[..., torch.optim.Optimizer]] = {
    "adamw": torch.optim.AdamW,
    "adam": torch.optim.Adam,
    "sgd": torch.optim.SGD,
}


def param_groups(
    model: nn.Module, weight_decay: float, no_decay_norm_bias: bool = True
) -> list[dict[str, Any]]:
    """Split trainable parameters into a ``decay`` and a ``no_decay`` group.

    Args:
        model: The model (a DDP wrapper is fine: names keep its ``module.`` prefix).
        weight_decay: Decay of the ``decay`` group.
        no_decay_norm_bias: Put norm-layer parameters and biases into ``no_decay``.

    Returns:
        Torch parameter groups with extra keys ``name`` and ``param_names``; empty groups are
        left out.
    """
    decay: list[nn.Parameter] = []
    no_decay: list[nn.Parameter] = []
    decay_names: list[str] = []
    no_decay_names: list[str] = []
    seen: set[int] = set()
    for module_name, module in model.named_modules():
        is_norm = isinstance(module, NORM_TYPES)
        for pname, param in module.named_parameters(recurse=False):
            if not param.requires_grad or id(param) in seen:
                continue
            seen.add(id(param))
            full = f"{module_name}.{pname}" if module_name else pname
            if no_decay_norm_bias and (is_norm or pname == "bias"):
                no_decay.append(param)
                no_decay_names.append(full)
            else:
                decay.append(param)
                decay_names.append(full)
    groups = [
        {
            "name": "decay",
            "params": decay,
            "weight_decay": weight_decay,
            "param_names": decay_names,
        },
        {
            "name": "no_decay",
            "params": no_decay,
            "weight_decay": 0.0,
            "param_names": no_decay_names,
        },
    ]
    return [g for g in groups if g["params"]]


def build_optimizer(
    model: nn.Module,
    table: Mapping[str, Any] | Any,
    *,
    no_decay_norm_bias: bool = True,
    path: str = "train.optimizer",
) -> torch.optim.Optimizer:
    """Build an optimiser (``adamw``, ``adam``, ``sgd``; MMPose names are aliases).

    Args:
        model: Model whose trainable parameters are optimised.
        table: ``{name, lr, weight_decay, ...}`` (a dict or a recipe ``Component``); the other
            keys are the torch optimiser's arguments (``betas``, ``eps``, ``momentum``...).
        no_decay_norm_bias: See :func:`param_groups`.
        path: Recipe location for error messages.

    Returns:
        The optimiser; each group also records ``initial_lr`` for the schedulers.
    """
    data = table.as_dict() if hasattr(table, "as_dict") else dict(table)
    name = str(data.pop("name", "")).lower()
    if name not in OPTIMIZERS:
        raise BuildError(f"{path}: unknown optimizer {name!r} (one of {', '.join(OPTIMIZERS)})")
    factory = OPTIMIZERS[name]
    if "betas" in data:
        data["betas"] = tuple(data["betas"])
    weight_decay = float(data.pop("weight_decay", 0.01 if name == "adamw" else 0.0))
    check_kwargs(factory, data, path=path, what=f"optimizer {name!r}", n_args=1)
    groups = param_groups(model, weight_decay, no_decay_norm_bias)
    if not groups:
        raise BuildError(f"{path}: the model has no trainable parameters")
    try:
        optimizer = factory(groups, **data)
    except (TypeError, ValueError) as exc:
        raise BuildError(f"{path}: {exc}") from exc
    for group in optimizer.param_groups:
        group.setdefault("initial_lr", group["lr"])
    return optimizer
