"""EMA: exponential momentum warm-up values, updates, buffers, swap, state round trip."""

from __future__ import annotations

import io
import itertools
import math

import pytest
import torch
from torch import nn

from posecli.engine.ema import ModelEMA, build_ema
from posecli.errors import CheckpointError


def _model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 1))


def _set(model: nn.Module, value: float) -> None:
    with torch.no_grad():
        for p in model.parameters():
            p.fill_(value)


def test_momentum_warmup_values() -> None:
    ema = ModelEMA(_model(), momentum=0.0002, warmup_iters=2000)
    # m_t = (1 - m)·exp(-(1 + t)/gamma) + m
    assert ema.momentum_at(1) == pytest.approx(0.9998 * math.exp(-2 / 2000) + 0.0002)
    assert ema.momentum_at(1) == pytest.approx(0.9990007, abs=1e-7)
    assert ema.momentum_at(1999) == pytest.approx(0.9998 * math.exp(-1) + 0.0002)
    assert ema.momentum_at(2000) == pytest.approx(0.36782, abs=1e-5)
    assert ema.momentum_at(50_000) == pytest.approx(0.0002, abs=1e-10)
    values = [ema.momentum_at(t) for t in range(1, 5000, 50)]
    assert all(a > b for a, b in itertools.pairwise(values))
    assert ModelEMA(_model(), momentum=0.01, warmup=False).momentum_at(3) == 0.01


def test_updates_follow_the_rule() -> None:
    model = _model()
    ema = ModelEMA(model, momentum=0.1, warmup=False)
    _set(model, 2.0)
    ema.update(model)  # first update copies
    assert all(torch.all(p == 2.0) for p in ema.module.parameters())
    _set(model, 12.0)
    ema.update(model)  # 2 + 0.1·(12 - 2)
    assert all(torch.allclose(p, torch.tensor(3.0)) for p in ema.module.parameters())
    warm = ModelEMA(model, momentum=0.0002, warmup_iters=2000)
    _set(model, 0.0)
    warm.update(model)
    _set(model, 1.0)
    warm.update(model)
    expected = warm.momentum_at(1)
    assert all(torch.allclose(p, torch.tensor(expected)) for p in warm.module.parameters())
    assert warm.steps == 2


def test_buffers_averaged_or_followed() -> None:
    model = _model()
    with_buf = ModelEMA(model, momentum=0.5, warmup=False, update_buffers=True)
    no_buf = ModelEMA(model, momentum=0.5, warmup=False, update_buffers=False)
    bn = model[1]
    for ema in (with_buf, no_buf):
        ema.update(model)
    bn.running_mean.fill_(4.0)
    bn.num_batches_tracked.fill_(7)
    for ema in (with_buf, no_buf):
        ema.update(model)
    assert torch.allclose(with_buf.module[1].running_mean, torch.full((4,), 2.0))
    assert int(with_buf.module[1].num_batches_tracked) == 7  # integers are copied
    assert torch.allclose(no_buf.module[1].running_mean, torch.full((4,), 4.0))


def test_swapped_evaluates_ema_weights_and_restores() -> None:
    model = _model()
    ema = ModelEMA(model, momentum=0.5, warmup=False)
    _set(model, 0.0)
    ema.update(model)
    _set(model, 2.0)
    ema.update(model)
    with ema.swapped(model) as m:
        assert all(torch.allclose(p, torch.tensor(1.0)) for p in m.parameters())
    assert all(torch.all(p == 2.0) for p in model.parameters())
    state = ema.model_state_dict()
    assert set(state) == set(model.state_dict())
    assert torch.allclose(state["0.weight"], torch.tensor(1.0))


def test_state_dict_round_trip_continues_identically() -> None:
    model = _model()
    ema = ModelEMA(model)
    for i in range(5):
        _set(model, float(i))
        ema.update(model)
    buf = io.BytesIO()
    torch.save(ema.state_dict(), buf)
    buf.seek(0)
    state = torch.load(buf, weights_only=True)
    assert "steps" in state and "module.0.weight" in state  # MMEngine's layout
    resumed = ModelEMA(_model())
    resumed.load_state_dict(state)
    assert resumed.steps == 5
    _set(model, 9.0)
    ema.update(model)
    resumed.update(model)
    for a, b in zip(
        ema.module.state_dict().values(), resumed.module.state_dict().values(), strict=True
    ):
        assert torch.equal(a, b)
    with pytest.raises(CheckpointError, match="does not match"):
        ModelEMA(nn.Linear(2, 2)).load_state_dict(state)


def test_build_ema_from_config() -> None:
    assert build_ema(_model(), None) is None
    assert build_ema(_model(), {"enabled": False}) is None
    ema = build_ema(_model(), {"momentum": 0.001, "warmup_iters": 100, "update_buffers": False})
    assert ema is not None and ema.warmup_iters == 100 and not ema.update_buffers
    with pytest.raises(ValueError, match="momentum"):
        ModelEMA(_model(), momentum=1.5)
