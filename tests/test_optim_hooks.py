"""Step options around optimizer.step: accumulation, clipping, schedules, EMA (hand computations)."""

from __future__ import annotations

import copy
import math

import pytest
import torch

from epochal._optim_hooks import check_step_options, finalize_ema, install, iterations
from epochal.keras import optimizers, schedules


def _sgd(options, lr=1.0, values=(1.0, 2.0)):
    p = torch.nn.Parameter(torch.tensor(list(values)))
    opt = install(torch.optim.SGD([p], lr=lr), check_step_options("test", **options))
    return p, opt


def _step(p, opt, grad):
    opt.zero_grad(set_to_none=True)
    p.grad = torch.tensor(grad)
    opt.step()


def test_clipvalue_clamps_each_entry():
    p, opt = _sgd({"clipvalue": 0.5})
    _step(p, opt, [3.0, -0.25])
    assert p.tolist() == [0.5, 2.25]


def test_clipnorm_scales_each_gradient_to_the_norm():
    p, opt = _sgd({"clipnorm": 1.0})
    _step(p, opt, [3.0, 4.0])  # norm 5 -> scaled by 1/5
    assert p.tolist() == pytest.approx([1.0 - 0.6, 2.0 - 0.8])
    p, opt = _sgd({"clipnorm": 10.0})
    _step(p, opt, [3.0, 4.0])  # below the norm: unchanged
    assert p.tolist() == pytest.approx([-2.0, -2.0])


def test_global_clipnorm_uses_the_norm_of_all_gradients():
    a = torch.nn.Parameter(torch.tensor([0.0]))
    b = torch.nn.Parameter(torch.tensor([0.0]))
    opt = install(torch.optim.SGD([a, b], lr=1.0), check_step_options("t", global_clipnorm=1.0))
    a.grad, b.grad = torch.tensor([3.0]), torch.tensor([4.0])
    opt.step()
    assert (a.item(), b.item()) == pytest.approx((-0.6, -0.8), rel=1e-5)


def test_accumulation_applies_the_mean_every_n_steps():
    p, opt = _sgd({"gradient_accumulation_steps": 3}, lr=0.1)
    _step(p, opt, [1.0, 0.0])
    _step(p, opt, [2.0, 0.0])
    assert p.tolist() == [1.0, 2.0] and iterations(opt) == 0
    _step(p, opt, [3.0, 3.0])  # mean (2, 1) applied
    assert p.tolist() == pytest.approx([0.8, 1.9])
    assert iterations(opt) == 1
    _step(p, opt, [9.0, 9.0])
    assert p.tolist() == pytest.approx([0.8, 1.9])  # a new window started


def test_accumulation_state_is_in_the_state_dict():
    p, opt = _sgd({"gradient_accumulation_steps": 2}, lr=0.1)
    _step(p, opt, [1.0, 1.0])
    saved = copy.deepcopy(opt.state_dict())  # as a checkpoint would
    q, again = _sgd({"gradient_accumulation_steps": 2}, lr=0.1)
    again.load_state_dict(saved)
    _step(q, again, [3.0, 3.0])
    _step(p, opt, [3.0, 3.0])
    assert p.tolist() == q.tolist() == pytest.approx([0.8, 1.8])


def test_schedule_sets_the_rate_from_applied_updates():
    schedule = schedules.PiecewiseConstantDecay([1], [1.0, 0.1])
    p, opt = _sgd({"schedule": schedule})
    assert opt.param_groups[0]["lr"] == 1.0
    _step(p, opt, [1.0, 1.0])  # update 0 at rate 1
    _step(p, opt, [1.0, 1.0])  # update 1 at rate 1 (step <= boundary)
    _step(p, opt, [1.0, 1.0])  # update 2 at rate 0.1
    assert p.tolist() == pytest.approx([1.0 - 2.1, 2.0 - 2.1])
    assert iterations(opt) == 3


def test_ema_tracks_and_finalizes():
    p, opt = _sgd({"use_ema": True, "ema_momentum": 0.5}, lr=1.0, values=(0.0,))
    _step(p, opt, [-1.0])  # p = 1, ema = 1 (first update copies)
    _step(p, opt, [-1.0])  # p = 2, ema = 0.5 * 1 + 0.5 * 2
    assert opt.state_dict()["step_options"]["ema"][0].tolist() == [1.5]
    assert finalize_ema(opt)
    assert p.tolist() == [1.5]


def test_ema_overwrite_frequency():
    p, opt = _sgd(
        {"use_ema": True, "ema_momentum": 0.5, "ema_overwrite_frequency": 2}, values=(0.0,)
    )
    _step(p, opt, [-1.0])
    _step(p, opt, [-1.0])  # overwritten with the average 1.5
    assert p.tolist() == [1.5]


def test_keras_optimizer_with_schedule_and_clipping_trains_a_model():
    import numpy as np

    import epochal as ep

    x = np.random.default_rng(0).normal(size=(64, 3)).astype("float32")
    y = x.sum(axis=1, keepdims=True)
    lr = schedules.ExponentialDecay(0.1, decay_steps=2, decay_rate=0.5)
    opt = optimizers.SGD(learning_rate=lr, clipnorm=1.0)
    assert opt.get_config()["learning_rate"]["class_name"] == "ExponentialDecay"
    model = ep.Model(torch.nn.Linear(3, 1))
    model.compile(optimizer=opt, loss="mse", seed=0)
    model.fit(x, y, batch_size=16, epochs=2, verbose=0)
    assert iterations(model.optimizer) == 8
    assert model.optimizer.param_groups[0]["lr"] == pytest.approx(0.1 * 0.5**4)
    assert math.isfinite(model.history.history["loss"][-1])


def test_split_fits_with_step_options_equal_one_fit():
    import numpy as np

    import epochal as ep

    x = np.random.default_rng(1).normal(size=(60, 3)).astype("float32")
    y = (x[:, :1] > 0).astype("float32")

    def run(splits):
        torch.manual_seed(0)
        model = ep.Model(torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Linear(4, 1)))
        opt = optimizers.Adam(
            learning_rate=schedules.CosineDecay(0.05, 20),
            global_clipnorm=0.5,
            gradient_accumulation_steps=3,
            use_ema=True,
        )
        model.compile(optimizer=opt, loss="bce", seed=0)
        for n in splits:
            model.fit(x, y, batch_size=8, epochs=n, verbose=0)
        return [t.clone() for t in model.module.state_dict().values()], model.optimizer.state_dict()

    whole, whole_opt = run([5])
    split, split_opt = run([2, 1, 2])
    for a, b in zip(whole, split, strict=True):
        assert torch.equal(a, b)
    assert whole_opt["param_groups"][0]["iterations"] == split_opt["param_groups"][0]["iterations"]
