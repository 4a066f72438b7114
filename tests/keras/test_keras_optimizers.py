"""Keras optimizer factories build the right torch optimizers, mapping Keras's arguments."""

from __future__ import annotations

import pytest
import torch

from _util import make_binary
from epochal import keras
from epochal.errors import ArgumentError, ArgumentTypeError
from epochal.keras import layers, optimizers


def _param(value: float = 1.0) -> torch.nn.Parameter:
    return torch.nn.Parameter(torch.full((3,), value))


@pytest.mark.parametrize(
    ("factory", "torch_class", "expected"),
    [
        (optimizers.SGD(), torch.optim.SGD, {"lr": 0.01, "momentum": 0.0, "nesterov": False}),
        (
            optimizers.SGD(learning_rate=0.1, momentum=0.9, nesterov=True),
            torch.optim.SGD,
            {"lr": 0.1, "momentum": 0.9, "nesterov": True},
        ),
        (
            optimizers.Adam(),
            torch.optim.Adam,
            {"lr": 0.001, "betas": (0.9, 0.999), "eps": 1e-7, "amsgrad": False},
        ),
        (
            optimizers.Adam(
                learning_rate=0.01, beta_1=0.8, beta_2=0.99, epsilon=1e-5, amsgrad=True
            ),
            torch.optim.Adam,
            {"lr": 0.01, "betas": (0.8, 0.99), "eps": 1e-5, "amsgrad": True, "weight_decay": 0},
        ),
        (
            optimizers.AdamW(),
            torch.optim.AdamW,
            {"lr": 0.001, "weight_decay": 0.004, "betas": (0.9, 0.999), "eps": 1e-7},
        ),
        (
            optimizers.RMSprop(rho=0.8, momentum=0.5, centered=True),
            torch.optim.RMSprop,
            {"lr": 0.001, "alpha": 0.8, "eps": 1e-7, "momentum": 0.5, "centered": True},
        ),
        (
            optimizers.Adagrad(initial_accumulator_value=0.2),
            torch.optim.Adagrad,
            {"lr": 0.001, "initial_accumulator_value": 0.2, "eps": 1e-7},
        ),
        (optimizers.Adadelta(), torch.optim.Adadelta, {"lr": 0.001, "rho": 0.95, "eps": 1e-7}),
        (optimizers.Adamax(), torch.optim.Adamax, {"lr": 0.001, "betas": (0.9, 0.999)}),
        (optimizers.Nadam(), torch.optim.NAdam, {"lr": 0.001, "eps": 1e-7}),
    ],
    ids=lambda v: repr(v) if isinstance(v, optimizers.Optimizer) else "",
)
def test_factory_builds_the_torch_optimizer_with_mapped_arguments(factory, torch_class, expected):
    optimizer = factory([_param()])
    assert type(optimizer) is torch_class
    group = optimizer.param_groups[0]
    for key, value in expected.items():
        assert group[key] == value, key
    assert factory.learning_rate == expected["lr"]


def test_adagrad_accumulators_start_at_keras_initial_value():
    p = _param()
    optimizer = optimizers.Adagrad(initial_accumulator_value=0.25)([p])
    assert torch.equal(optimizer.state[p]["sum"], torch.full((3,), 0.25))


def test_rmsprop_step_uses_rho_as_the_squared_average_decay():
    p = _param()
    optimizer = optimizers.RMSprop(learning_rate=0.1, rho=0.5, epsilon=0.0)([p])
    p.grad = torch.full((3,), 2.0)
    optimizer.step()
    # v = (1 - rho) * g^2 = 2; step = lr * g / sqrt(v)
    expected = 1.0 - 0.1 * 2.0 / 2.0**0.5
    torch.testing.assert_close(p.detach(), torch.full((3,), expected))


def test_sgd_nesterov_without_momentum_is_plain_sgd():
    p = _param()
    optimizer = optimizers.SGD(learning_rate=0.5, nesterov=True)([p])
    p.grad = torch.ones(3)
    optimizer.step()
    torch.testing.assert_close(p.detach(), torch.full((3,), 0.5))


def test_weight_decay_is_decoupled_as_in_keras():
    # Keras: w -= w * weight_decay * learning_rate, apart from the gradient step.
    # With a zero gradient Adam moves nothing, so only the decay shows (torch's
    # L2 weight_decay would instead feed the decay through Adam's normalization).
    p, idle = _param(), _param()
    optimizer = optimizers.Adam(learning_rate=0.1, weight_decay=0.5)([p, idle])
    assert optimizer.param_groups[0]["weight_decay"] == 0
    p.grad = torch.zeros(3)
    optimizer.step()
    torch.testing.assert_close(p.detach(), torch.full((3,), 0.95))
    assert torch.equal(idle.detach(), torch.ones(3)), "parameters without gradients do not decay"


def test_adamw_decays_through_torch():
    p = _param()
    optimizer = optimizers.AdamW(learning_rate=0.1, weight_decay=0.5)([p])
    p.grad = torch.zeros(3)
    optimizer.step()
    torch.testing.assert_close(p.detach(), torch.full((3,), 0.95))


def test_repr_and_get_config_show_keras_arguments():
    adam = optimizers.Adam(learning_rate=0.01)
    assert repr(adam) == (
        "Adam(learning_rate=0.01, beta_1=0.9, beta_2=0.999, epsilon=1e-07, amsgrad=False)"
    )
    sgd = optimizers.SGD(momentum=0.9, weight_decay=0.1)
    assert sgd.get_config() == {
        "learning_rate": 0.01,
        "momentum": 0.9,
        "nesterov": False,
        "weight_decay": 0.1,
    }


def test_lr_is_accepted_as_keras_2s_name():
    assert optimizers.Adam(lr=0.02).learning_rate == 0.02
    with pytest.raises(ArgumentError, match="only one of `learning_rate` and its old name `lr`"):
        optimizers.Adam(learning_rate=0.1, lr=0.02)


@pytest.mark.parametrize(
    ("make", "error", "message"),
    [
        (lambda: optimizers.Adam(clipnorm=-1.0), ArgumentError, "`clipnorm` to be a positive"),
        (lambda: optimizers.SGD(clipvalue="big"), ArgumentTypeError, "`clipvalue`"),
        (
            lambda: optimizers.SGD(clipnorm=1.0, global_clipnorm=1.0),
            ArgumentError,
            "only one of `clipnorm` and `global_clipnorm`",
        ),
        (lambda: optimizers.Adam(use_ema="yes"), ArgumentTypeError, "`use_ema` to be a bool"),
        (lambda: optimizers.Adam(ema_momentum=1.0), ArgumentError, "`ema_momentum`"),
        (
            lambda: optimizers.Adam(gradient_accumulation_steps=0),
            ArgumentError,
            "`gradient_accumulation_steps`",
        ),
        (lambda: optimizers.Adam(loss_scale_factor=2.0), ArgumentError, "loss_scale_factor"),
        (lambda: optimizers.Adam(learning_rate=0), ArgumentError, "positive number"),
        (lambda: optimizers.Adam(learning_rate="fast"), ArgumentTypeError, "learning_rate"),
        (lambda: optimizers.Adam(beta_1=1.0), ArgumentError, r"`beta_1` to be in \[0, 1\)"),
        (lambda: optimizers.SGD(momentum=-0.1), ArgumentError, "`momentum`"),
        (lambda: optimizers.RMSprop(epsilon=-1.0), ArgumentError, "`epsilon` to be >= 0"),
        (lambda: optimizers.SGD(nesterov="yes"), ArgumentTypeError, "`nesterov` to be a bool"),
    ],
)
def test_bad_arguments_fail_at_construction(make, error, message):
    with pytest.raises(error, match=message):
        make()


def test_get_resolves_names_with_keras_defaults():
    assert isinstance(optimizers.get("RMSprop"), optimizers.RMSprop)
    adam = optimizers.Adam()
    assert optimizers.get(adam) is adam
    with pytest.raises(ArgumentError, match="Expected one of: adadelta, adagrad, adam"):
        optimizers.get("adamm")


def test_compile_builds_the_factory_for_the_models_parameters():
    x, y = make_binary(64)
    model = keras.Sequential([layers.Dense(1, activation="sigmoid", input_shape=(10,))])
    model.compile(
        optimizer=optimizers.SGD(learning_rate=0.05, momentum=0.9), loss="binary_crossentropy"
    )
    model.fit(x, y, epochs=1, verbose=0)
    assert isinstance(model.optimizer, torch.optim.SGD)
    group = model.optimizer.param_groups[0]
    assert (group["lr"], group["momentum"]) == (0.05, 0.9)
    assert {id(p) for p in group["params"]} == {id(p) for p in model.module.parameters()}
