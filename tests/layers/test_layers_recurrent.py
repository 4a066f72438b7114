"""LSTM and GRU: batch-first shapes, return_sequences/return_state, Keras initialization."""

from __future__ import annotations

import pytest
import torch

from epochal import layers
from epochal.errors import ArgumentError, DataError


@pytest.mark.parametrize("cls", [layers.LSTM, layers.GRU])
def test_return_sequences_shapes(cls: type) -> None:
    x = torch.randn(3, 7, 5)
    assert cls(4)(x).shape == (3, 4)
    assert cls(4, return_sequences=True)(x).shape == (3, 7, 4)


@pytest.mark.parametrize("cls", [layers.LSTM, layers.GRU])
def test_last_output_is_the_last_step_of_the_sequence(cls: type) -> None:
    torch.manual_seed(0)
    full = cls(4, return_sequences=True, input_shape=(None, 5))
    last = cls(4)
    last.load_state_dict(full.state_dict())
    x = torch.randn(2, 6, 5)
    torch.testing.assert_close(last(x), full(x)[:, -1])


def test_return_state_gives_keras_tuples() -> None:
    x = torch.randn(2, 6, 3)
    output, h, c = layers.LSTM(4, return_state=True)(x)
    assert output.shape == h.shape == c.shape == (2, 4)
    torch.testing.assert_close(output, h)
    output, h = layers.GRU(4, return_sequences=True, return_state=True)(x)
    assert output.shape == (2, 6, 4) and h.shape == (2, 4)
    torch.testing.assert_close(output[:, -1], h)


def test_lazy_build_and_keras_initialization() -> None:
    layer = layers.LSTM(8)
    assert list(layer.parameters()) == []
    layer(torch.zeros(2, 3, 5))
    rnn = layer.rnn
    weight_ih = rnn.get_parameter("weight_ih_l0")
    weight_hh = rnn.get_parameter("weight_hh_l0")
    assert weight_ih.shape == (32, 5) and weight_hh.shape == (32, 8)
    limit = (6 / (5 + 32)) ** 0.5
    assert weight_ih.abs().max() <= limit
    recurrent = weight_hh.T  # Keras layout (units, 4 * units): orthonormal rows
    torch.testing.assert_close(recurrent @ recurrent.T, torch.eye(8), atol=1e-5, rtol=0)
    bias = rnn.get_parameter("bias_ih_l0")
    expected = torch.zeros(32)
    expected[8:16] = 1.0  # unit_forget_bias: the forget gate starts open
    assert torch.equal(bias, expected)
    assert torch.count_nonzero(rnn.get_parameter("bias_hh_l0")) == 0


def test_gru_has_keras_parameter_count() -> None:
    layer = layers.GRU(16, input_shape=(None, 8))
    # Keras GRU(reset_after=True): 3 * units * (features + units) + 2 * 3 * units.
    assert sum(p.numel() for p in layer.parameters()) == 3 * 16 * (8 + 16) + 6 * 16


def test_go_backwards_reverses_the_sequence() -> None:
    forward = layers.GRU(3, input_shape=(None, 2))
    backward = layers.GRU(3, go_backwards=True)
    backward.load_state_dict(forward.state_dict())
    x = torch.randn(2, 5, 2)
    torch.testing.assert_close(backward(x), forward(x.flip(1)))


def test_input_dropout_masks_features_only_in_training() -> None:
    layer = layers.LSTM(3, dropout=0.5, input_shape=(None, 4))
    x = torch.randn(2, 5, 4)
    layer.eval()
    first = layer(x)
    assert torch.equal(layer(x), first)
    layer.train()
    torch.manual_seed(0)
    outputs = {tuple(layer(x).flatten().tolist()) for _ in range(5)}
    assert len(outputs) > 1


def test_rejects_a_two_dimensional_input() -> None:
    with pytest.raises(
        DataError, match=r"LSTM: expected an input of shape \(batch, steps, features\)"
    ):
        layers.LSTM(3)(torch.zeros(4, 5))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"units": 0}, "LSTM: expected `units` to be a positive int. Received: units=0"),
        ({"units": 2, "activation": "relu"}, "expected `activation` to be 'tanh'"),
        (
            {"units": 2, "recurrent_activation": "hard_sigmoid"},
            "`recurrent_activation` to be 'sigmoid'",
        ),
        ({"units": 2, "recurrent_dropout": 0.2}, "expected `recurrent_dropout` to be 0"),
        ({"units": 2, "dropout": 1.0}, r"expected `dropout` to be a number in \[0, 1\)"),
    ],
)
def test_rejects_bad_arguments(kwargs: dict, message: str) -> None:
    with pytest.raises(ArgumentError, match=message):
        layers.LSTM(**kwargs)
