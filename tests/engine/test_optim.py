"""Optimiser building: parameter groups without decay on norm layers and biases."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from posecli.engine.optim import build_optimizer, param_groups
from posecli.errors import BuildError
from posecli.recipe.schema import Component


class _Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, bias=False)
        self.bn = nn.BatchNorm2d(4)
        self.ln = nn.LayerNorm(4)
        self.fc = nn.Linear(4, 2)
        self.gain = nn.Parameter(torch.ones(1))
        self.frozen = nn.Parameter(torch.ones(1), requires_grad=False)
        self.fc_again = self.fc  # shared module: counted once


def _names(opt: torch.optim.Optimizer) -> dict[str, tuple[float, list[str]]]:
    return {g["name"]: (g["weight_decay"], sorted(g["param_names"])) for g in opt.param_groups}


def test_no_decay_on_norm_and_bias() -> None:
    opt = build_optimizer(
        _Net(), {"name": "AdamW", "lr": 4e-3, "weight_decay": 0.05, "betas": [0.9, 0.99]}
    )
    assert isinstance(opt, torch.optim.AdamW)
    groups = _names(opt)
    assert groups["decay"] == (0.05, ["conv.weight", "fc.weight", "gain"])
    assert groups["no_decay"] == (0.0, ["bn.bias", "bn.weight", "fc.bias", "ln.bias", "ln.weight"])
    assert all(g["lr"] == 4e-3 and g["initial_lr"] == 4e-3 for g in opt.param_groups)
    assert opt.param_groups[0]["betas"] == (0.9, 0.99)


def test_decay_everywhere_when_switched_off() -> None:
    groups = param_groups(_Net(), 0.1, no_decay_norm_bias=False)
    assert [g["name"] for g in groups] == ["decay"]
    assert len(groups[0]["params"]) == 8


def test_sgd_adam_and_components() -> None:
    sgd = build_optimizer(_Net(), Component(name="sgd", lr=0.1, momentum=0.9, weight_decay=1e-4))
    assert isinstance(sgd, torch.optim.SGD) and sgd.param_groups[0]["momentum"] == 0.9
    adam = build_optimizer(_Net(), {"name": "adam", "lr": 1e-3})
    assert isinstance(adam, torch.optim.Adam) and adam.param_groups[0]["weight_decay"] == 0.0
    model = _Net()
    opt = build_optimizer(model, {"name": "adamw", "lr": 1e-2, "weight_decay": 0.5})
    model.fc.bias.grad = torch.zeros_like(model.fc.bias)
    model.fc.weight.grad = torch.zeros_like(model.fc.weight)
    before_b, before_w = model.fc.bias.detach().clone(), model.fc.weight.detach().clone()
    opt.step()  # zero gradients: only decoupled weight decay moves weights
    assert torch.equal(model.fc.bias, before_b)
    assert torch.allclose(model.fc.weight, before_w * (1 - 1e-2 * 0.5))


def test_bad_tables() -> None:
    with pytest.raises(BuildError, match="unknown optimizer 'lamb'"):
        build_optimizer(_Net(), {"name": "lamb", "lr": 1})
    with pytest.raises(BuildError, match=r"train\.optimizer\.momentun.*did you mean momentum"):
        build_optimizer(_Net(), {"name": "sgd", "lr": 1, "momentun": 0.9})
    with pytest.raises(BuildError, match="no trainable"):
        build_optimizer(nn.ReLU(), {"name": "sgd", "lr": 1})


def test_custom_keys_give_their_parameters_a_learning_rate_factor() -> None:
    """MMEngine's ``custom_keys`` (RTMO: ``neck.encoder`` at 0.05×): the longest matching key
    wins, a matched parameter ignores the norm/bias rule, schedules scale every group."""
    table = {
        "name": "adamw",
        "lr": 4e-3,
        "weight_decay": 0.05,
        "custom_keys": {"fc": {"lr_mult": 0.05}, "fc.bias": {"lr_mult": 0.5, "decay_mult": 0}},
    }
    opt = build_optimizer(_Net(), table)
    by_name = {g["name"]: g for g in opt.param_groups}
    assert by_name["custom:fc"]["param_names"] == ["fc.weight"]
    assert by_name["custom:fc"]["lr"] == pytest.approx(2e-4)
    assert by_name["custom:fc"]["weight_decay"] == 0.05
    assert by_name["custom:fc.bias"]["lr"] == pytest.approx(2e-3)
    assert by_name["custom:fc.bias"]["weight_decay"] == 0.0
    assert by_name["no_decay"]["param_names"] == ["bn.weight", "bn.bias", "ln.weight", "ln.bias"]
    assert by_name["custom:fc"]["initial_lr"] == pytest.approx(2e-4)
    with pytest.raises(BuildError, match=r"custom_keys \['neck.encoder'\] match no trainable"):
        build_optimizer(_Net(), {**table, "custom_keys": {"neck.encoder": {"lr_mult": 0.05}}})
    with pytest.raises(BuildError, match="only lr_mult and decay_mult are known"):
        build_optimizer(_Net(), {**table, "custom_keys": {"fc": {"lr_mul": 0.05}}})
