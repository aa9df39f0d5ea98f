"""Iteration-based learning-rate schedules: warmup, milestones, PTB decay, resuming."""

from __future__ import annotations

import io

import pytest
import torch

from experiments.optimizers import make_optimizer
from experiments.schedules import (
    make_epoch_decay_schedule,
    make_schedule,
    parse_step,
    parse_steps,
)

BASE_LR = 0.4


def new_optimizer() -> torch.optim.Optimizer:
    return torch.optim.SGD([torch.zeros(2, requires_grad=True)], lr=BASE_LR, momentum=0.9)


def learning_rates(scheduler, optimizer, iterations: int) -> list[float]:
    """The rate each iteration trains with, stepping the scheduler once per iteration."""
    (w,) = optimizer.param_groups[0]["params"]

    def closure():
        loss = ((w - 1) ** 2).sum()
        loss.backward()
        return loss

    rates = []
    for _ in range(iterations):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.zero_grad()
        optimizer.step(closure)
        scheduler.step()
    return rates


def changes(rates: list[float]) -> dict[int, float]:
    """{iteration: rate / previous rate} wherever the rate changes."""
    return {t: rates[t] / rates[t - 1] for t in range(1, len(rates)) if rates[t] != rates[t - 1]}


def test_warmup_ramps_linearly_then_holds():
    optimizer = new_optimizer()
    rates = learning_rates(make_schedule(optimizer, warmup=8), optimizer, 20)
    ramp = [rates[t + 1] - rates[t] for t in range(8)]
    assert rates[0] == 0.0
    assert ramp == pytest.approx([BASE_LR / 8] * 8, rel=1e-12)
    assert rates[8:] == [pytest.approx(BASE_LR, rel=1e-15)] * 12


@pytest.mark.parametrize("milestones", [(5,), (3, 7), (1, 2, 10)])
def test_milestones_multiply_by_gamma_exactly_there(milestones):
    optimizer = new_optimizer()
    scheduler = make_schedule(optimizer, milestones=milestones, gamma=0.2)
    rates = learning_rates(scheduler, optimizer, 12)
    assert rates[0] == BASE_LR
    assert changes(rates) == {m: pytest.approx(0.2, rel=1e-12) for m in milestones}


def test_warmup_and_milestones_combine():
    optimizer = new_optimizer()
    scheduler = make_schedule(optimizer, milestones=(6,), gamma=0.5, warmup=4)
    rates = learning_rates(scheduler, optimizer, 10)
    assert rates[:4] == pytest.approx([BASE_LR * t / 4 for t in range(4)], rel=1e-12)
    assert rates[4:6] == pytest.approx([BASE_LR] * 2) and rates[6:] == pytest.approx([0.2] * 4)


def test_no_options_is_a_constant_rate():
    optimizer = new_optimizer()
    assert set(learning_rates(make_schedule(optimizer), optimizer, 5)) == {BASE_LR}


@pytest.mark.parametrize(
    ("text", "per_epoch", "expected"),
    [
        ("80ep,120ep", 391, (80 * 391, 120 * 391)),
        ("1000it", 391, (1000,)),
        ("2ep50it, 3ep", 100, (250, 300)),
        ("0.5ep", 10, (5,)),
        ("", 10, ()),
    ],
)
def test_parse_steps(text, per_epoch, expected):
    assert parse_steps(text, per_epoch) == expected


@pytest.mark.parametrize("text", ["80", "ep", "80 epochs", "1.5it", "-3ep", "it5", "", "2it3ep"])
def test_malformed_steps_are_clear_errors(text):
    with pytest.raises(ValueError, match=r"bad step '.*'; write e.g. '80ep'"):
        parse_step(text, 10)


def test_parsed_epoch_milestones_drop_at_epoch_boundaries():
    optimizer = new_optimizer()
    milestones = parse_steps("2ep,3ep", 4)
    rates = learning_rates(make_schedule(optimizer, milestones=milestones), optimizer, 16)
    assert sorted(changes(rates)) == [8, 12]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"milestones": (5, 3)},
         r"milestones must be strictly increasing iterations ≥ 0, got \(5, 3\)"),
        ({"milestones": (3, 3)}, "milestones must be strictly increasing"),
        ({"milestones": (-1,)}, "milestones must be strictly increasing"),
        ({"milestones": (2.5,)}, "milestones must be strictly increasing"),
        ({"gamma": 0.0}, "gamma must be a number > 0, got 0.0"),
        ({"warmup": -1}, "warmup must be a whole number of iterations ≥ 0, got -1"),
        ({"warmup": 1.5}, "warmup must be a whole number"),
    ],
)
def test_bad_schedule_values_are_clear_errors(options, message):
    with pytest.raises(ValueError, match=message):
        make_schedule(new_optimizer(), **options)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"decay_after": -1}, "decay_after must be a whole number of epochs ≥ 0, got -1"),
        ({"decay_factor": 0.5}, "decay_factor must be a number ≥ 1, got 0.5"),
        ({"iterations_per_epoch": 0}, "iterations_per_epoch must be an integer ≥ 1, got 0"),
    ],
)
def test_bad_epoch_decay_values_are_clear_errors(options, message):
    options = {"decay_after": 4, "decay_factor": 2.0, "iterations_per_epoch": 10, **options}
    with pytest.raises(ValueError, match=message):
        make_epoch_decay_schedule(new_optimizer(), **options)


def test_zaremba_decay_is_constant_then_divides_once_per_epoch():
    per_epoch, decay_after, factor = 5, 4, 1.2
    optimizer = new_optimizer()
    scheduler = make_epoch_decay_schedule(
        optimizer, decay_after=decay_after, decay_factor=factor, iterations_per_epoch=per_epoch
    )
    rates = learning_rates(scheduler, optimizer, 9 * per_epoch)
    assert rates[: decay_after * per_epoch] == [BASE_LR] * (decay_after * per_epoch)
    expected = {e * per_epoch: pytest.approx(1 / factor, rel=1e-12) for e in range(decay_after, 9)}
    assert changes(rates) == expected


def run(build, total: int, stop: int | None = None) -> tuple[list[float], list[float]]:
    """Rates over ``total`` iterations and the final weights; with ``stop``, resumed there."""
    optimizer, scheduler = build()
    if stop is None:
        return learning_rates(scheduler, optimizer, total), weights(optimizer)
    rates = learning_rates(scheduler, optimizer, stop)
    state = {"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
             "weights": optimizer.param_groups[0]["params"][0]}
    buffer = io.BytesIO()
    torch.save(state, buffer)
    buffer.seek(0)
    saved = torch.load(buffer, weights_only=True)
    optimizer, scheduler = build()
    with torch.no_grad():
        optimizer.param_groups[0]["params"][0].copy_(saved["weights"])
    optimizer.load_state_dict(saved["optimizer"])
    scheduler.load_state_dict(saved["scheduler"])
    return rates + learning_rates(scheduler, optimizer, total - stop), weights(optimizer)


def weights(optimizer) -> list[float]:
    return optimizer.param_groups[0]["params"][0].tolist()


def with_milestones():
    optimizer = new_optimizer()
    return optimizer, make_schedule(optimizer, milestones=(5, 9), gamma=0.5, warmup=3)


def with_epoch_decay():
    optimizer = make_optimizer("rk_adam_heun", [torch.zeros(2, requires_grad=True)], lr=0.01)
    return optimizer, make_epoch_decay_schedule(
        optimizer, decay_after=1, decay_factor=2.0, iterations_per_epoch=3
    )


@pytest.mark.parametrize("build", [with_milestones, with_epoch_decay])
@pytest.mark.parametrize("stop", [1, 4, 7])
def test_state_dict_round_trip_continues_the_same_schedule(build, stop):
    assert run(build, 12, stop) == run(build, 12)


def test_state_dict_carries_the_schedule_itself():
    optimizer = new_optimizer()
    saved = make_schedule(optimizer, milestones=(2,), gamma=0.5).state_dict()
    other = new_optimizer()
    scheduler = make_schedule(other, milestones=(7,), gamma=0.1)
    scheduler.load_state_dict(saved)
    assert scheduler.lr_lambdas[0](2) == 0.5
