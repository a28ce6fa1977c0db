"""Optimisers from the recipe's ``train.optimizer`` table, with weight-decay parameter groups.

``{name = "adamw", lr = 4e-3, weight_decay = 0.05, betas = [0.9, 0.999]}`` builds AdamW. With
``no_decay_norm_bias`` (RTMPose's ``norm_decay_mult=0, bias_decay_mult=0``) the parameters of
normalisation layers (batch, group, layer and instance norm) and every parameter named ``bias``
get no weight decay; a parameter shared by several modules is counted once.

``custom_keys = {"neck.encoder" = {lr_mult = 0.05}}`` (MMEngine's ``paramwise_cfg.custom_keys``,
RTMO's setting) gives the parameters whose full name contains a key their own group: learning
rate ``lr · lr_mult``, weight decay ``weight_decay · decay_mult`` (both default 1). As in
MMEngine, the longest matching key wins and a matched parameter ignores the norm/bias rule;
a key that matches no parameter is an error (a typo would otherwise train silently at full
rate).
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
    model: nn.Module,
    weight_decay: float,
    no_decay_norm_bias: bool = True,
    *,
    lr: float | None = None,
    custom_keys: Mapping[str, Mapping[str, float]] | None = None,
) -> list[dict[str, Any]]:
    """Split trainable parameters into a ``decay`` and a ``no_decay`` group, plus one group per
    custom key (see the module docstring).

    Args:
        model: The model (a DDP wrapper is fine: names keep its ``module.`` prefix).
        weight_decay: Decay of the ``decay`` group.
        no_decay_norm_bias: Put norm-layer parameters and biases into ``no_decay``.
        lr: The base learning rate (needed with ``custom_keys``).
        custom_keys: name substring → ``{lr_mult, decay_mult}``.

    Returns:
        Torch parameter groups with extra keys ``name`` and ``param_names``; empty groups are
        left out.

    Raises:
        ValueError: a custom key matches no trainable parameter, or has other settings.
    """
    decay: list[nn.Parameter] = []
    no_decay: list[nn.Parameter] = []
    decay_names: list[str] = []
    no_decay_names: list[str] = []
    custom = _custom_groups(custom_keys or {}, lr, weight_decay)
    keys = sorted(sorted(custom), key=len, reverse=True)  # longest first, as MMEngine
    seen: set[int] = set()
    for module_name, module in model.named_modules():
        is_norm = isinstance(module, NORM_TYPES)
        for pname, param in module.named_parameters(recurse=False):
            if not param.requires_grad or id(param) in seen:
                continue
            seen.add(id(param))
            full = f"{module_name}.{pname}" if module_name else pname
            key = next((k for k in keys if k in full), None)
            if key is not None:
                custom[key]["params"].append(param)
                custom[key]["param_names"].append(full)
            elif no_decay_norm_bias and (is_norm or pname == "bias"):
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
    unmatched = [k for k, g in custom.items() if not g["params"]]
    if unmatched:
        raise ValueError(f"custom_keys {unmatched} match no trainable parameter of the model")
    return [g for g in groups if g["params"]] + [custom[k] for k in sorted(custom)]


def _custom_groups(
    custom_keys: Mapping[str, Mapping[str, float]], lr: float | None, weight_decay: float
) -> dict[str, dict[str, Any]]:
    groups: dict[str, dict[str, Any]] = {}
    for key, settings in custom_keys.items():
        if not isinstance(settings, Mapping):
            raise ValueError(f"custom_keys.{key} must be a table such as {{lr_mult = 0.1}}")
        extra = sorted(set(settings) - {"lr_mult", "decay_mult"})
        if extra:
            raise ValueError(
                f"custom_keys.{key}: only lr_mult and decay_mult are known, got {extra}"
            )
        if lr is None:
            raise ValueError("custom_keys need the optimizer's lr")
        groups[str(key)] = {
            "name": f"custom:{key}",
            "params": [],
            "lr": float(lr) * float(settings.get("lr_mult", 1.0)),
            "weight_decay": weight_decay * float(settings.get("decay_mult", 1.0)),
            "param_names": [],
        }
    return groups


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
    custom_keys = data.pop("custom_keys", None)
    check_kwargs(factory, data, path=path, what=f"optimizer {name!r}", n_args=1)
    try:
        groups = param_groups(
            model, weight_decay, no_decay_norm_bias, lr=data.get("lr"), custom_keys=custom_keys
        )
    except ValueError as exc:
        raise BuildError(f"{path}: {exc}") from None
    if not groups:
        raise BuildError(f"{path}: the model has no trainable parameters")
    try:
        optimizer = factory(groups, **data)
    except (TypeError, ValueError) as exc:
        raise BuildError(f"{path}: {exc}") from exc
    for group in optimizer.param_groups:
        group.setdefault("initial_lr", group["lr"])
    return optimizer
