"""Learning-rate schedules: RTMPose's warm-up → flat → cosine, step, state round trip."""

from __future__ import annotations

import io
import math

import pytest
import torch

from posecli.engine.schedules import build_scheduler, compile_phases
from posecli.errors import BuildError, CheckpointError

RTMPOSE = [
    {"name": "linear_warmup", "iters": 1000, "start_factor": 1e-5},
    {"name": "flat", "end_epoch": 210},
    {"name": "cosine", "end_epoch": 420, "eta_min": 2e-4},
]
IPE = 100  # iterations per epoch


def _optimizer(lr: float = 4e-3, groups: int = 1) -> torch.optim.Optimizer:
    params = [
        {"params": [torch.nn.Parameter(torch.zeros(1))], "lr": lr * (i + 1)} for i in range(groups)
    ]
    return torch.optim.AdamW(params, lr=lr)


def test_rtmpose_schedule_values() -> None:
    sched = build_scheduler(_optimizer(), RTMPOSE, IPE, max_epochs=420)
    base = 4e-3
    assert sched.get_last_lr() == [pytest.approx(base * 1e-5)]  # iteration 0 is set at once
    assert sched.lr_at(0) == pytest.approx(4e-8)
    assert sched.lr_at(500) == pytest.approx(base * (1e-5 + (1 - 1e-5) * 0.5))
    assert sched.lr_at(1000) == pytest.approx(base)
    assert sched.lr_at(210 * IPE) == pytest.approx(base)
    assert sched.lr_at(315 * IPE) == pytest.approx(2e-4 + (base - 2e-4) / 2)  # 2.1e-3
    assert sched.lr_at(420 * IPE) == pytest.approx(2e-4)
    assert sched.lr_at(500 * IPE) == pytest.approx(2e-4)  # held after the last phase
    t = 280 * IPE + 37
    expected = 2e-4 + (base - 2e-4) * (1 + math.cos(math.pi * (t - 21000) / 21000)) / 2
    assert sched.lr_at(t) == pytest.approx(expected)


def test_warmup_matches_torch_linear_lr() -> None:
    opt_a, opt_b = _optimizer(), _optimizer()
    ours = build_scheduler(opt_a, RTMPOSE, IPE)
    ref = torch.optim.lr_scheduler.LinearLR(
        opt_b, start_factor=1e-5, end_factor=1.0, total_iters=1000
    )
    for _ in range(1200):
        assert opt_a.param_groups[0]["lr"] == pytest.approx(opt_b.param_groups[0]["lr"], rel=1e-9)
        opt_a.step()
        opt_b.step()
        ours.step()
        ref.step()


def test_every_group_follows_its_own_base_rate() -> None:
    opt = _optimizer(1e-3, groups=2)
    sched = build_scheduler(opt, [{"name": "cosine", "epochs": 10, "eta_min_ratio": 0.1}], IPE)
    for _ in range(5 * IPE):
        sched.step()
    lo, hi = sched.get_last_lr()
    assert lo == pytest.approx(1e-4 + (1e-3 - 1e-4) / 2)
    assert hi == pytest.approx(2e-4 + (2e-3 - 2e-4) / 2)


def test_step_exponential_and_poly() -> None:
    sched = build_scheduler(
        _optimizer(0.1),
        [
            {"name": "linear_warmup", "iters": 50, "start_factor": 0.001},
            {"name": "MultiStepLR", "milestones": [3, 5], "gamma": 0.1},
        ],
        IPE,
        max_epochs=8,
    )
    assert sched.lr_at(0) == pytest.approx(1e-4)
    assert sched.lr_at(299) == pytest.approx(0.1)
    assert sched.lr_at(300) == pytest.approx(0.01)
    assert sched.lr_at(500) == pytest.approx(0.001)
    exp = build_scheduler(_optimizer(1.0), [{"name": "exponential", "gamma": 0.5}], IPE)
    assert [exp.lr_at(e * IPE + 3) for e in range(3)] == pytest.approx([1.0, 0.5, 0.25])
    poly = build_scheduler(_optimizer(1.0), [{"name": "poly", "end_iter": 100, "power": 2.0}], IPE)
    assert poly.lr_at(50) == pytest.approx(0.25)
    assert build_scheduler(_optimizer(0.3), [], IPE).lr_at(10**6) == pytest.approx(0.3)


def test_state_dict_round_trip() -> None:
    opt = _optimizer()
    sched = build_scheduler(opt, RTMPOSE, IPE)
    for _ in range(777):
        sched.step()
    buf = io.BytesIO()
    torch.save(sched.state_dict(), buf)
    buf.seek(0)
    state = torch.load(buf, weights_only=True)
    opt2 = _optimizer()
    resumed = build_scheduler(opt2, RTMPOSE, IPE)
    resumed.load_state_dict(state)
    assert resumed.last_iter == 777
    assert opt2.param_groups[0]["lr"] == pytest.approx(opt.param_groups[0]["lr"])
    for _ in range(300):
        sched.step()
        resumed.step()
        assert resumed.get_last_lr() == pytest.approx(sched.get_last_lr())
    other = build_scheduler(_optimizer(), RTMPOSE, IPE * 2)
    with pytest.raises(CheckpointError, match="schedule differs"):
        other.load_state_dict(state)


@pytest.mark.parametrize(
    ("tables", "message"),
    [
        ([{"name": "triangle"}], "unknown schedule"),
        ([{"name": "cosine", "end_epoch": 5, "eta_mn": 0}], r"schedule\[0\]\.eta_mn"),
        ([{"name": "flat"}, {"name": "cosine", "end_epoch": 5}], "only the last phase"),
        (
            [{"name": "flat", "end_epoch": 5}, {"name": "cosine", "end_epoch": 2}],
            "before it starts",
        ),
        ([{"name": "cosine"}], "needs an end"),
        ([{"name": "exponential", "end_epoch": 3}], "gamma"),
    ],
)
def test_bad_schedules_name_the_phase(tables: list[dict], message: str) -> None:
    with pytest.raises(BuildError, match=message):
        compile_phases(tables, IPE)


def test_open_phase_ends_with_training() -> None:
    phases = compile_phases(
        [{"name": "linear_warmup", "iters": 10}, {"name": "cosine"}], IPE, total_iters=1000
    )
    assert (phases[-1].start, phases[-1].end) == (10, 1000)


RTMO = [
    {"name": "quadratic_warmup", "epochs": 5},
    {"name": "cosine", "end_epoch": 280, "eta_min": 2e-4, "t_max_epochs": 280},
    {"name": "flat", "end_epoch": 281, "factor": 2.5},
    {"name": "cosine", "end_epoch": 580, "eta_min": 2e-4, "t_max_epochs": 300},
    {"name": "flat"},
]


def test_rtmo_quadratic_warmup_and_two_cosine_cycles() -> None:
    """MMPose's RTMO schedule: QuadraticWarmupLR over 5 epochs (lr0·((t+1)/T)², as MMEngine's
    cumulative (2t+1)/T² steps), cosine with T_max 280 from epoch 5, ×2.5 at epoch 280
    (2e-4 → 5e-4), a second cosine (T_max 300) to epoch 580, then flat to 600."""
    sched = build_scheduler(_optimizer(), RTMO, IPE, max_epochs=600)
    base, warm = 4e-3, 5 * IPE
    steps = [base * (2 * i + 1) / warm**2 for i in range(warm)]  # MMEngine's chained form
    for t in (0, 1, 137, warm - 1):
        assert sched.lr_at(t) == pytest.approx(sum(steps[: t + 1]))
    assert sched.lr_at(warm) == pytest.approx(base)
    end1 = 2e-4 + (base - 2e-4) * (1 + math.cos(math.pi * 275 / 280)) / 2
    assert sched.lr_at(280 * IPE - 1) == pytest.approx(end1, rel=1e-3)
    assert sched.lr_at(280 * IPE) == pytest.approx(2.5 * end1, rel=1e-3)  # ~5e-4
    lifted = sched.lr_at(281 * IPE)
    assert lifted == pytest.approx(2.5 * end1, rel=1e-3)
    mid = 2e-4 + (lifted - 2e-4) * (1 + math.cos(math.pi * 150 / 300)) / 2
    assert sched.lr_at(431 * IPE) == pytest.approx(mid)
    assert sched.lr_at(599 * IPE) == pytest.approx(sched.lr_at(580 * IPE))
