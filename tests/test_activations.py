"""epochal.activations: Keras definitions, torch-native callables, lookup errors."""

from __future__ import annotations

import math

import pytest
import torch

from epochal import activations
from epochal.errors import ArgumentError, ArgumentTypeError

X = torch.linspace(-5.0, 5.0, 41, dtype=torch.float64)


def reference(name: str, x: torch.Tensor) -> torch.Tensor:
    """The Keras 3 definitions, written out."""
    sig = 1 / (1 + torch.exp(-x))
    return {
        "relu": torch.clamp(x, min=0),
        "sigmoid": sig,
        "tanh": (torch.exp(x) - torch.exp(-x)) / (torch.exp(x) + torch.exp(-x)),
        "linear": x,
        "elu": torch.where(x > 0, x, torch.exp(x) - 1),
        "selu": 1.0507009873554805 * torch.where(x > 0, x, 1.6732632423543772 * (torch.exp(x) - 1)),
        "gelu": 0.5 * x * (1 + torch.erf(x / math.sqrt(2))),
        "softplus": torch.log(torch.exp(x) + 1),
        "softsign": x / (1 + x.abs()),
        "swish": x * sig,
        "silu": x * sig,
        "leaky_relu": torch.where(x > 0, x, 0.2 * x),
        "exponential": torch.exp(x),
        "hard_sigmoid": torch.clamp(x / 6 + 0.5, 0, 1),
        "relu6": torch.clamp(x, 0, 6),
        "hard_silu": x * torch.clamp(x / 6 + 0.5, 0, 1),
        "mish": x * torch.tanh(torch.log(torch.exp(x) + 1)),
    }[name]


@pytest.mark.parametrize(
    "name",
    [
        "relu",
        "sigmoid",
        "tanh",
        "linear",
        "elu",
        "selu",
        "gelu",
        "softplus",
        "softsign",
        "swish",
        "silu",
        "leaky_relu",
        "exponential",
        "hard_sigmoid",
        "relu6",
        "hard_silu",
        "mish",
    ],
)
def test_elementwise_activations_match_keras(name: str) -> None:
    torch.testing.assert_close(activations.get(name)(X), reference(name, X))
    torch.testing.assert_close(getattr(activations, name)(X), reference(name, X))


def test_softmax_and_log_softmax_act_on_the_last_axis() -> None:
    x = torch.randn(2, 3, 4)
    y = activations.get("softmax")(x)
    torch.testing.assert_close(y.sum(dim=-1), torch.ones(2, 3))
    torch.testing.assert_close(activations.log_softmax(x), torch.log(y))


def test_hard_sigmoid_is_the_keras_3_definition() -> None:
    x = torch.tensor([-3.0, 0.0, 1.5, 3.0])
    assert torch.equal(activations.hard_sigmoid(x), torch.tensor([0.0, 0.5, 0.75, 1.0]))


def test_exact_torch_functions_are_returned_as_is() -> None:
    assert activations.get("relu") is torch.relu
    assert activations.get("sigmoid") is torch.sigmoid
    assert activations.get(None) is activations.linear


def test_callables_pass_through_and_get_a_name() -> None:
    def custom(x: torch.Tensor) -> torch.Tensor:
        return x * 2

    assert activations.get(custom) is custom
    assert activations.name_of(custom) == "custom"
    assert activations.name_of(torch.sigmoid) == "sigmoid"
    assert activations.name_of(torch.nn.functional.relu) == "relu"
    assert activations.name_of("swish") == "silu"
    assert activations.name_of(None) is None
    assert activations.name_of("linear") is None


def test_unknown_name_lists_the_valid_ones() -> None:
    with pytest.raises(ArgumentError) as info:
        activations.get("rellu")
    message = str(info.value)
    assert "Received: activation='rellu'" in message
    for name in ("relu", "sigmoid", "softmax", "hard_sigmoid", "log_softmax", "linear"):
        assert name in message


def test_wrong_type_is_a_type_error() -> None:
    with pytest.raises(ArgumentTypeError, match="Received: activation=3 of type int"):
        activations.get(3)  # type: ignore[arg-type]


def test_public_names_are_sorted() -> None:
    assert activations.__all__ == sorted(activations.__all__)
