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


def _tiny(seed=0, **compile_kwargs):
    import epochal as ep

    torch.manual_seed(seed)
    model = ep.Model(torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Linear(4, 1)))
    model.compile(optimizer="sgd", loss="mse", learning_rate=0.1, seed=0, **compile_kwargs)
    return model


def _xy():
    import numpy as np

    x = np.random.default_rng(2).normal(size=(32, 3)).astype("float32")
    return x, (x.sum(axis=1, keepdims=True) * 3).astype("float32")


def test_native_compile_clipnorm_matches_a_hand_loop():
    x, y = _xy()
    model = _tiny(clipnorm=0.05)
    model.fit(x, y, batch_size=32, epochs=3, shuffle=False, verbose=0)
    torch.manual_seed(0)
    module = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Linear(4, 1))
    opt = torch.optim.SGD(module.parameters(), lr=0.1)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    for _ in range(3):
        opt.zero_grad()
        torch.nn.functional.mse_loss(module(xt), yt).backward()
        for p in module.parameters():
            norm = p.grad.norm()
            p.grad.mul_(torch.clamp(0.05 / torch.clamp(norm, min=1e-12), max=1.0))
        opt.step()
    for a, b in zip(model.module.parameters(), module.parameters(), strict=True):
        assert torch.allclose(a, b, atol=1e-6)


def test_native_accumulation_equals_one_big_batch_step():
    x, y = _xy()
    accumulated = _tiny(gradient_accumulation_steps=4)
    accumulated.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    whole = _tiny()
    whole.fit(x, y, batch_size=32, epochs=1, shuffle=False, verbose=0)
    for a, b in zip(accumulated.module.parameters(), whole.module.parameters(), strict=True):
        assert torch.allclose(a, b, atol=1e-6)
    assert iterations(accumulated.optimizer) == 1


def test_clipping_in_both_places_and_bad_keras_compile_options_are_refused():
    import epochal as ep
    from epochal.errors import ArgumentError

    model = ep.Model(torch.nn.Linear(3, 1))
    with pytest.raises(ArgumentError, match="one place"):
        model.compile(optimizer=optimizers.SGD(clipnorm=1.0), loss="mse", clipvalue=0.5)
    with pytest.raises(ArgumentError, match="run_eagerly"):
        model.compile(optimizer="sgd", loss="mse", run_eagerly=True, jit_compile=True)
    with pytest.raises(ArgumentError, match="jit_compile"):
        model.compile(optimizer="sgd", loss="mse", jit_compile="yes")
    with pytest.raises(ArgumentError, match="steps_per_execution"):
        model.compile(optimizer="sgd", loss="mse", steps_per_execution=0)
    model.compile(optimizer="sgd", loss="mse", steps_per_execution=8, run_eagerly=True)


def test_use_ema_shows_the_averages_after_fit_and_the_run_goes_on_from_its_weights():
    import epochal as ep

    x, y = _xy()

    def make():
        torch.manual_seed(0)
        model = ep.Model(torch.nn.Linear(3, 1))
        model.compile(
            optimizer=optimizers.SGD(0.05, use_ema=True, ema_momentum=0.9), loss="mse", seed=0
        )
        return model

    one = make()
    one.fit(x, y, batch_size=8, epochs=4, verbose=0)
    shown = [p.detach().clone() for p in one.module.parameters()]
    buffers = one.optimizer.state_dict()["step_options"]["ema"]
    for p, average in zip(shown, buffers, strict=True):
        assert torch.equal(p, average)
    split = make()
    split.fit(x, y, batch_size=8, epochs=2, verbose=0)
    split.fit(x, y, batch_size=8, epochs=2, verbose=0)
    for a, b in zip(one.module.parameters(), split.module.parameters(), strict=True):
        assert torch.equal(a, b)
