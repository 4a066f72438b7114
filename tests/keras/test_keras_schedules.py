"""`keras.optimizers.schedules`: each schedule's values at given steps, by Keras's formulas."""

from __future__ import annotations

import math

import pytest

from epochal.errors import ArgumentError, ArgumentTypeError
from epochal.keras import schedules


def test_exponential_decay():
    s = schedules.ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5)
    assert s(0) == pytest.approx(0.1)
    assert s(10) == pytest.approx(0.05)
    assert s(5) == pytest.approx(0.1 * 0.5**0.5)
    stair = schedules.ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5, staircase=True)
    assert stair(9) == pytest.approx(0.1)
    assert stair(10) == pytest.approx(0.05)
    assert stair(25) == pytest.approx(0.025)


def test_piecewise_constant_decay_boundaries_are_inclusive_on_the_left_piece():
    s = schedules.PiecewiseConstantDecay([10, 20], [1.0, 0.5, 0.1])
    assert [s(0), s(10), s(11), s(20), s(21), s(1000)] == [1.0, 1.0, 0.5, 0.5, 0.1, 0.1]
    with pytest.raises(ArgumentError, match="one more value"):
        schedules.PiecewiseConstantDecay([10], [1.0])
    with pytest.raises(ArgumentError, match="increasing"):
        schedules.PiecewiseConstantDecay([10, 5], [1.0, 0.5, 0.1])


def test_polynomial_decay_with_and_without_cycles():
    s = schedules.PolynomialDecay(1.0, decay_steps=10, end_learning_rate=0.0, power=1.0)
    assert [s(0), s(5), s(10), s(50)] == pytest.approx([1.0, 0.5, 0.0, 0.0])
    sq = schedules.PolynomialDecay(1.0, 10, end_learning_rate=0.1, power=2.0)
    assert sq(5) == pytest.approx(0.9 * 0.25 + 0.1)
    cyc = schedules.PolynomialDecay(1.0, 10, end_learning_rate=0.0, cycle=True)
    assert cyc(0) == pytest.approx(1.0)
    assert cyc(10) == pytest.approx(0.0)
    assert cyc(15) == pytest.approx(1 - 15 / 20)  # second cycle: horizon 20


def test_inverse_time_decay():
    s = schedules.InverseTimeDecay(0.1, decay_steps=1.0, decay_rate=0.5)
    assert s(0) == pytest.approx(0.1)
    assert s(2) == pytest.approx(0.1 / 2)
    stair = schedules.InverseTimeDecay(0.1, decay_steps=4, decay_rate=1.0, staircase=True)
    assert stair(3) == pytest.approx(0.1)
    assert stair(4) == pytest.approx(0.05)


def test_cosine_decay_without_and_with_warmup():
    s = schedules.CosineDecay(1.0, decay_steps=100, alpha=0.1)
    assert s(0) == pytest.approx(1.0)
    assert s(50) == pytest.approx(0.9 * 0.5 + 0.1)
    assert s(100) == pytest.approx(0.1)
    assert s(1000) == pytest.approx(0.1)
    w = schedules.CosineDecay(0.0, decay_steps=100, warmup_target=1.0, warmup_steps=10)
    assert w(0) == pytest.approx(0.0)
    assert w(5) == pytest.approx(0.5)
    assert w(10) == pytest.approx(1.0)
    assert w(60) == pytest.approx(0.5)
    assert w(110) == pytest.approx(0.0, abs=1e-12)


def test_cosine_decay_restarts():
    s = schedules.CosineDecayRestarts(1.0, first_decay_steps=10, t_mul=2.0, m_mul=0.5)
    assert s(0) == pytest.approx(1.0)
    assert s(5) == pytest.approx(0.5)
    assert s(10) == pytest.approx(0.5)  # restart: peak halved
    assert s(20) == pytest.approx(0.5 * 0.5 * (1 + math.cos(math.pi * 0.5)))  # halfway in 20
    assert s(30) == pytest.approx(0.25)  # second restart
    flat = schedules.CosineDecayRestarts(1.0, first_decay_steps=10, t_mul=1.0)
    assert flat(10) == pytest.approx(1.0)
    assert flat(15) == pytest.approx(0.5)


def test_configs_round_trip_and_custom_schedules():
    s = schedules.CosineDecay(0.5, 100, warmup_target=1.0, warmup_steps=5)
    again = schedules.deserialize(schedules.serialize(s))
    assert isinstance(again, schedules.CosineDecay)
    assert [again(i) for i in (0, 3, 50)] == [s(i) for i in (0, 3, 50)]

    class Halving(schedules.LearningRateSchedule):
        def __init__(self, start):
            self.start = start

        def __call__(self, step):
            return self.start / 2 ** (step // 10)

        def get_config(self):
            return {"start": self.start}

    custom = schedules.deserialize(schedules.serialize(Halving(1.0)), {"Halving": Halving})
    assert custom(25) == 0.25
    with pytest.raises(ArgumentError, match="unknown schedule"):
        schedules.deserialize({"class_name": "Halving", "config": {}})


def test_bad_arguments_name_the_argument():
    with pytest.raises(ArgumentError, match="decay_steps"):
        schedules.ExponentialDecay(0.1, decay_steps=0, decay_rate=0.5)
    with pytest.raises(ArgumentTypeError, match="initial_learning_rate"):
        schedules.CosineDecay("fast", 10)
    with pytest.raises(ArgumentError, match="finite"):
        schedules.InverseTimeDecay(float("nan"), 10, 0.5)
